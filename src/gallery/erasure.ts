import { GalleryError } from './errors.ts';
import { identityId, remove } from './identities.ts';
import { syncWithFile, type GalleryContext } from './memory.ts';
import { newId, parseJson } from './store.ts';

/**
 * The gallery's part of erasure and retention (docs/privacy.md): the erasure journal (schema v4),
 * deleting a person's rows (identity, templates, crops, consent: one transaction, idempotent),
 * the identities whose `valid_until` has passed, and zeroing what deletes leave behind (WAL
 * checkpoint; `secure_delete` is on for every connection, see store.ts). The orchestration over
 * the gallery, the event log and the snapshots is src/app/erasure.ts.
 */

export interface ErasureRow {
  readonly id: string;
  readonly identityId: string;
  /** Held only while the erasure is pending (a rerun by name finds it); null once finished. */
  readonly name: string | null;
  readonly actor: string;
  readonly reason: string;
  /** The plan (event and snapshot ids, counts) once computed; after the finish, the receipt. */
  readonly plan: unknown;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/**
 * What an erasure of a person answers, on a box (src/app/erasure.ts) and at a fleet's hub
 * (src/hub/erasure.ts): the ids and counts the identity.erased event carries, kept in the
 * journal's finished row so a rerun answers the same. It names no one.
 */
export interface ErasureReceiptBase {
  readonly erasureId: string;
  /** The erased identity's id (the operator's receipt and the journal; not in the event). */
  readonly identityId: string;
  /** What the person's past events carry instead of their id: `erased:<erasure id>`, the same on the hub and every edge. */
  readonly tombstone: string;
  readonly reason: 'request' | 'retention';
  readonly actor: string;
  readonly templates: number;
  readonly crops: number;
  readonly unknownClusters: number;
  readonly events: number;
  readonly snapshots: number;
  readonly clearCameras: readonly string[];
  readonly startedAt: number;
}

interface Row {
  id: string;
  identity_id: string;
  name: string | null;
  actor: string;
  reason: string;
  plan: string | null;
  started_at: number;
  finished_at: number | null;
}

const COLS = 'id, identity_id, name, actor, reason, plan, started_at, finished_at';

function fromRow(r: Row): ErasureRow {
  return { id: r.id, identityId: r.identity_id, name: r.name, actor: r.actor, reason: r.reason, plan: r.plan === null ? null : parseJson<unknown>(r.plan, `erasure ${r.id}`), startedAt: r.started_at, finishedAt: r.finished_at };
}

/**
 * The pending erasure of an identity, or a new journal row for it (written before anything is
 * deleted). An identity that is already gone cannot start one, except an erasure replayed from
 * the fleet's hub (`erasureId` given: its id is kept, and the identity may be gone already, its
 * past events and snapshots still to erase).
 */
export function beginErasure(ctx: GalleryContext, id: string, o: { actor: string; reason: string; erasureId?: string }): ErasureRow {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  return store.write('erasureJournal', () => {
    if (o.erasureId !== undefined) {
      const same = store.db.prepare<[string], Row>(`SELECT ${COLS} FROM erasures WHERE id = ?`).get(o.erasureId);
      if (same) return fromRow(same);
      const named = store.stmt.identity.get(identity);
      const now = store.now();
      store.db.prepare('INSERT INTO erasures (id, identity_id, name, actor, reason, plan, started_at) VALUES (?, ?, ?, ?, ?, NULL, ?)').run(o.erasureId, identity, named?.name ?? null, o.actor, o.reason, now);
      return { id: o.erasureId, identityId: identity, name: named?.name ?? null, actor: o.actor, reason: o.reason, plan: null, startedAt: now, finishedAt: null };
    }
    const pending = store.db.prepare<[string], Row>(`SELECT ${COLS} FROM erasures WHERE identity_id = ? AND finished_at IS NULL ORDER BY started_at LIMIT 1`).get(identity);
    if (pending) return fromRow(pending);
    const row = store.stmt.identity.get(identity);
    if (!row) throw new GalleryError('GALLERY_NOT_FOUND', `no identity with id "${identity}"`, { context: { id: identity }, hint: 'list identities with `facegate identities list`' });
    const erasure = { id: newId('er'), now: store.now() };
    store.db.prepare('INSERT INTO erasures (id, identity_id, name, actor, reason, plan, started_at) VALUES (?, ?, ?, ?, ?, NULL, ?)').run(erasure.id, identity, row.name, o.actor, o.reason, erasure.now);
    return { id: erasure.id, identityId: identity, name: row.name, actor: o.actor, reason: o.reason, plan: null, startedAt: erasure.now, finishedAt: null };
  });
}

/** Record the plan of a pending erasure (once: a rerun keeps the first plan, so its receipt is stable). */
export function savePlan(ctx: GalleryContext, erasureId: string, plan: unknown): void {
  ctx.store.assertOpen();
  ctx.store.write('erasureJournal', () => ctx.store.db.prepare('UPDATE erasures SET plan = ? WHERE id = ? AND plan IS NULL AND finished_at IS NULL').run(JSON.stringify(plan), erasureId));
}

/** Finish an erasure: the receipt replaces the plan, and the name is cleared. */
export function finishErasure(ctx: GalleryContext, erasureId: string, receipt: unknown): void {
  const { store } = ctx;
  store.assertOpen();
  store.write('erasureJournal', () => store.db.prepare('UPDATE erasures SET name = NULL, plan = ?, finished_at = ? WHERE id = ?').run(JSON.stringify(receipt), store.now(), erasureId));
}

/** Erasures not finished yet (a kill during one), oldest first. */
export function pendingErasures(ctx: GalleryContext): ErasureRow[] {
  ctx.store.assertOpen();
  return ctx.store.db.prepare<[], Row>(`SELECT ${COLS} FROM erasures WHERE finished_at IS NULL ORDER BY started_at, id`).all().map(fromRow);
}

/** Every erasure of an identity id, finished or not (newest first): what a fleet replay reads. */
export function erasuresOf(ctx: GalleryContext, id: string): ErasureRow[] {
  ctx.store.assertOpen();
  return ctx.store.db.prepare<[string], Row>(`SELECT ${COLS} FROM erasures WHERE identity_id = ? ORDER BY started_at DESC, id`).all(id).map(fromRow);
}

/** All erasures, oldest first (for a fleet step replaying them; finished ones hold no name). */
export function listErasures(ctx: GalleryContext): ErasureRow[] {
  ctx.store.assertOpen();
  return ctx.store.db.prepare<[], Row>(`SELECT ${COLS} FROM erasures ORDER BY started_at, id`).all().map(fromRow);
}

/**
 * Delete an identity's rows: templates and crops go by cascade, consent and valid_until with the
 * row. Idempotent: an identity already gone deletes nothing. Returns what was deleted.
 */
export function eraseIdentityRows(ctx: GalleryContext, id: string): { templates: number; crops: number; identities: number } {
  const { store } = ctx;
  store.assertOpen();
  syncWithFile(ctx);
  const identity = identityId(id);
  const counts = {
    templates: store.db.prepare<[string], number>('SELECT count(*) FROM templates WHERE identity_id = ?').pluck().get(identity) ?? 0,
    crops: store.db.prepare<[string], number>('SELECT count(*) FROM crops WHERE identity_id = ?').pluck().get(identity) ?? 0,
  };
  if (!store.stmt.identity.get(identity)) return { templates: 0, crops: 0, identities: 0 };
  remove(ctx, identity);
  return { ...counts, identities: 1 };
}

/** Identities whose valid_until is at or before `nowMs` (the retention erases them). */
export function expiredIdentities(ctx: GalleryContext, nowMs: number): { id: string; validUntil: number }[] {
  ctx.store.assertOpen();
  return ctx.store.db
    .prepare<[number], { id: string; valid_until: number }>('SELECT id, valid_until FROM identities WHERE valid_until IS NOT NULL AND valid_until <= ? ORDER BY valid_until, id')
    .all(nowMs)
    .map((r) => ({ id: r.id, validUntil: r.valid_until }));
}

/**
 * Zero what deleted rows left behind: `secure_delete` (checked: it is set at open) zeroes freed
 * cells and pages in the file; the WAL still holds the old page images until a checkpoint copies
 * the new ones into the file and truncates it. `busy` is true when another connection's read kept
 * the checkpoint from completing (the service: it completes at its next checkpoint).
 */
export function checkpointTruncate(ctx: GalleryContext): { secureDelete: boolean; busy: boolean } {
  ctx.store.assertOpen();
  const db = ctx.store.db;
  const secureDelete = Number(db.pragma('secure_delete', { simple: true })) === 1;
  const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  return { secureDelete, busy: (r?.busy ?? 0) !== 0 };
}
