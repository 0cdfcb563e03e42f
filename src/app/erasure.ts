/**
 * Erasure of a person (GDPR Art. 17; docs/privacy.md), on request (`facegate identities erase`,
 * `POST /v1/identities/:id/erase`) or by retention (an identity past its validUntil): one
 * resumable procedure over the gallery, the event log and the snapshot folder.
 *
 * 1. journal: a row in the gallery's `erasures` table, before anything is deleted;
 * 2. plan: the events about the person (their identity id; their name on events without one; the
 *    face.unknown sightings of the clusters that became them), the snapshots those events name,
 *    the counts, and the cameras whose retained MQTT last_face shows them; saved in the row ONCE,
 *    so a rerun after a kill completes the same plan and prints the same receipt;
 * 3. the gallery rows (identity, templates, crops, consent: one transaction);
 * 4. the snapshots (face + frame, plain or encrypted);
 * 5. the events: tombstoned (name and id replaced, decisions kept), with a last sweep for events
 *    logged about the person after the plan (the service recognising them meanwhile);
 * 6. WAL checkpoint(TRUNCATE) of the event log; the `identity.erased` receipt (once: a rerun
 *    finds it by its tombstone id); the journal row finished (the name cleared); the gallery's
 *    checkpoint last, so the journal's name leaves no copy in its WAL either.
 *
 * Every step is idempotent, so a kill at any point and a rerun (which resumes pending erasures)
 * complete it. The journal keeps the identity id and the receipt (never the name): what a later
 * fleet step replays on the hub and the edges.
 */
import type { Event, EventLog, NewEventOf, SnapshotStore } from '../events/index.ts';
import { GalleryError, type ErasureReceiptBase, type ErasureRow, type Gallery } from '../gallery/index.ts';

export type ErasureStep = 'journal' | 'planned' | 'gallery' | 'snapshots' | 'events' | 'published' | 'finished';

export interface ErasureDeps {
  readonly gallery: Gallery;
  readonly eventLog: EventLog;
  readonly snapshots: SnapshotStore;
  /** Log and publish the receipt (the service: the bus; the CLI: the log). */
  readonly publish: (event: NewEventOf<'identity.erased'>) => Event | void;
  readonly now?: () => number;
  /** Called after each step (tests kill the process here). */
  readonly onStep?: (step: ErasureStep) => void | Promise<void>;
}

export interface ErasurePlan {
  readonly events: readonly number[];
  readonly snapshots: readonly string[];
  readonly unknownIds: readonly string[];
  readonly templates: number;
  readonly crops: number;
  readonly clearCameras: readonly string[];
}

/** The box's receipt: the shared one, and how far the databases' WALs were zeroed. */
export interface ErasureReceipt extends ErasureReceiptBase {
  /** Whether both databases' WALs were truncated (false: another connection held a read; its next checkpoint does it). */
  readonly walTruncated: boolean;
  readonly secureDelete: boolean;
}

export const tombstoneOf = (erasureId: string): string => `erased:${erasureId}`;

/**
 * The unknown-face clusters that became a person: the cluster named into the identity (its
 * identity.created event's unknownId), and every cluster merged into one of those, transitively.
 * Pure.
 */
export function clustersOf(created: readonly Pick<Event, 'data'>[], merges: readonly Pick<Event, 'data'>[]): string[] {
  const out = new Set<string>();
  for (const e of created) {
    const u = (e.data as { unknownId?: unknown }).unknownId;
    if (typeof u === 'string') out.add(u);
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of merges) {
      const { from, into } = m.data as { from?: unknown; into?: unknown };
      if (typeof from === 'string' && typeof into === 'string' && out.has(into) && !out.has(from)) {
        out.add(from);
        grew = true;
      }
    }
  }
  return [...out].sort();
}

/** The snapshot ids events name, once each, in event order. Pure. */
export function snapshotIdsOf(events: readonly Pick<Event, 'data'>[]): string[] {
  const out = new Set<string>();
  for (const e of events) {
    const s = (e.data as { snapshotId?: unknown }).snapshotId;
    if (typeof s === 'string') out.add(s);
  }
  return [...out];
}

/** Cameras whose newest face event (what MQTT retains as last_face) is one of `events`. Pure. */
export function camerasShowing(latestFace: ReadonlyMap<string, number>, events: readonly number[]): string[] {
  const ids = new Set(events);
  return [...latestFace].filter(([, id]) => ids.has(id)).map(([camera]) => camera).sort();
}

const MERGES_PAGE = 10_000;

function computePlan(d: ErasureDeps, row: ErasureRow): ErasurePlan {
  const { eventLog, gallery } = d;
  const own = eventLog.about(row.identityId);
  const merges = eventLog.query({ types: ['unknown.merged'], limit: MERGES_PAGE });
  const unknownIds = clustersOf(own.filter((e) => e.type === 'identity.created'), merges);
  const events = eventLog.about(row.identityId, { name: row.name ?? undefined, unknownIds });
  const identity = gallery.getIdentity(row.identityId);
  return {
    events: events.map((e) => e.id),
    snapshots: snapshotIdsOf(events),
    unknownIds,
    templates: identity?.templateTotal ?? 0,
    crops: identity ? gallery.listCrops(row.identityId).length : 0,
    clearCameras: camerasShowing(eventLog.latestFacePerCamera(), events.map((e) => e.id)),
  };
}

/** Which pending erasure a query (an identity id or the name) continues, if any. */
export function pendingFor(pending: readonly ErasureRow[], query: string): ErasureRow | undefined {
  return pending.find((p) => p.identityId === query) ?? pending.find((p) => p.name === query) ?? pending.find((p) => p.name !== null && p.name.toLowerCase() === query.toLowerCase());
}

/**
 * Erase a person (id or name). A pending erasure of the same person (a kill during an earlier
 * run) is completed instead of starting another. Returns the receipt.
 */
export async function eraseIdentity(d: ErasureDeps, query: string, o: { actor: string; reason?: 'request' | 'retention' }): Promise<ErasureReceipt> {
  const pending = pendingFor(d.gallery.pendingErasures(), query);
  const row = pending ?? d.gallery.beginErasure(d.gallery.resolve(query).id, { actor: o.actor, reason: o.reason ?? 'request' });
  return completeErasure(d, row);
}

/** Complete every erasure a kill left pending; returns their receipts. */
export async function resumeErasures(d: ErasureDeps): Promise<ErasureReceipt[]> {
  const out: ErasureReceipt[] = [];
  for (const row of d.gallery.pendingErasures()) out.push(await completeErasure(d, row));
  return out;
}

async function completeErasure(d: ErasureDeps, row: ErasureRow): Promise<ErasureReceipt> {
  const { gallery, eventLog, snapshots } = d;
  const step = async (s: ErasureStep): Promise<void> => {
    await d.onStep?.(s);
  };
  await step('journal');
  if (row.plan === null) gallery.saveErasurePlan(row.id, computePlan(d, row));
  // The plan as saved (the first one, should two runs race).
  const saved = gallery.pendingErasures().find((p) => p.id === row.id)?.plan as ErasurePlan | undefined;
  if (!saved) throw new GalleryError('GALLERY_CORRUPT', `erasure ${row.id} has no plan`, { context: { id: row.id }, hint: 'run the erasure again' });
  await step('planned');

  gallery.eraseIdentityRows(row.identityId);
  await step('gallery');

  const token = tombstoneOf(row.id);
  // Events logged about the person after the plan (a running service recognised them before it
  // saw the gallery change): tombstoned too, their snapshots deleted too.
  const late = eventLog.about(row.identityId, { name: row.name ?? undefined, unknownIds: saved.unknownIds }).filter((e) => !saved.events.includes(e.id));
  const snapshotIds = [...new Set([...saved.snapshots, ...snapshotIdsOf(late)])];
  for (const id of snapshotIds) await snapshots.remove(id);
  await step('snapshots');

  const eventIds = [...saved.events, ...late.map((e) => e.id)];
  eventLog.tombstone(eventIds, token);
  const events = eventLog.checkpointTruncate();
  await step('events');

  const receipt: ErasureReceipt = {
    erasureId: row.id,
    identityId: row.identityId,
    tombstone: token,
    reason: row.reason === 'retention' ? 'retention' : 'request',
    actor: row.actor,
    templates: saved.templates,
    crops: saved.crops,
    unknownClusters: saved.unknownIds.length,
    events: eventIds.length,
    snapshots: snapshotIds.length,
    clearCameras: [...saved.clearCameras],
    walTruncated: !events.busy,
    secureDelete: events.secureDelete,
    startedAt: row.startedAt,
  };
  // Once: a rerun after a kill here finds the receipt by its tombstone id.
  if (eventLog.query({ types: ['identity.erased'], identityId: token, limit: 1 }).length === 0) {
    d.publish({
      type: 'identity.erased',
      timeMs: (d.now ?? Date.now)(),
      identityId: token,
      data: { actor: row.actor, erasureId: row.id, reason: receipt.reason, templates: receipt.templates, crops: receipt.crops, unknownClusters: receipt.unknownClusters, events: receipt.events, snapshots: receipt.snapshots, clearCameras: [...receipt.clearCameras] },
    });
  }
  await step('published');

  gallery.finishErasure(row.id, receipt);
  const g = gallery.checkpointTruncate();
  const e2 = eventLog.checkpointTruncate();
  await step('finished');
  return { ...receipt, walTruncated: !g.busy && !e2.busy, secureDelete: g.secureDelete && e2.secureDelete };
}

/** An erasure decided at the fleet's hub, as an edge receives it (src/fleet/gallery-kv.ts). */
export interface FleetErasure {
  readonly erasureId: string;
  readonly identityId: string;
  readonly actor: string;
  readonly reason: 'request' | 'retention';
}

/**
 * Replay the hub's erasure on this box (a fleet edge): the same procedure as a local erasure,
 * under the hub's erasure id (so the tombstone `erased:<erasure id>` is the same on the hub and
 * every edge). The identity may already be gone from the replica (its events and snapshots are
 * still erased, by id). Idempotent: an erasure this box finished is not run again (undefined).
 */
export async function applyFleetErasure(d: ErasureDeps, r: FleetErasure): Promise<ErasureReceipt | undefined> {
  const done = d.gallery.listErasures().find((x) => x.id === r.erasureId);
  if (done?.finishedAt != null) return undefined;
  const row = d.gallery.beginErasure(r.identityId, { actor: r.actor, reason: r.reason, erasureId: r.erasureId });
  return completeErasure(d, row);
}
