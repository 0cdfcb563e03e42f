/**
 * The hub's part of an erasure in PostgreSQL (orchestrated by erasure.ts; docs/privacy.md): the
 * journal (`erasures`), the plan (the person's event rows and the snapshots they name), the
 * identity and its templates deleted with a gallery outbox row (the edges drop the replica), the
 * event rows rewritten with the tombstone, and the receipt written once with its audit event.
 * Every function is idempotent: a rerun after a kill completes the same erasure.
 */
import { tombstoneEvent, type Event } from '../events/index.ts';
import { prepareAudit, type HubAudit } from './audit.ts';
import type { HubDb, InsertedEvent } from './store-db.ts';
import { GALLERY_CHANNEL } from './store-gallery.ts';

export interface HubErasureRow {
  readonly id: string;
  readonly identityId: string;
  /** Held only while pending (the plan looks for events carrying the name without an id). */
  readonly name: string | null;
  readonly actor: string;
  readonly reason: 'request' | 'retention';
  readonly plan: HubErasurePlan | null;
  readonly receipt: unknown;
  readonly startedMs: number;
  readonly finishedMs: number | null;
  readonly publishedMs: number | null;
}

export interface HubErasurePlan {
  /** Hub ids of the event rows about the person. */
  readonly events: readonly number[];
  /** The snapshots those rows name: node (the object store's folder) and snapshot id. */
  readonly snapshots: readonly { readonly node: string; readonly id: string }[];
  readonly templates: number;
}

/** A row about the person: its hub id, node and the snapshot it names. */
export interface PersonEventRow {
  readonly hubId: number;
  readonly nodeId: string;
  readonly snapshotId: string | null;
}

interface Row {
  id: string;
  identity_id: string;
  name: string | null;
  actor: string;
  reason: string;
  plan: HubErasurePlan | null;
  receipt: unknown;
  started_ms: number;
  finished_ms: number | null;
  published_ms: number | null;
}

const fromRow = (r: Row): HubErasureRow => ({ id: r.id, identityId: r.identity_id, name: r.name, actor: r.actor, reason: r.reason === 'retention' ? 'retention' : 'request', plan: r.plan, receipt: r.receipt, startedMs: r.started_ms, finishedMs: r.finished_ms, publishedMs: r.published_ms });

/**
 * The pending erasure of an identity, or a new journal row for it (before anything is deleted);
 * undefined when there is neither a pending erasure nor such an identity.
 */
export async function beginErasure(db: HubDb, identityId: string, o: { readonly id: string; readonly actor: string; readonly reason: 'request' | 'retention'; readonly nowMs: number }): Promise<HubErasureRow | undefined> {
  return db.tx(async (c) => {
    // One journal row per identity at a time, whichever process asks.
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`erasure:${identityId}`]);
    const pending = await c.query<Row>('SELECT * FROM erasures WHERE identity_id = $1 AND finished_ms IS NULL ORDER BY started_ms LIMIT 1', [identityId]);
    if (pending.rows[0]) return fromRow(pending.rows[0]);
    const who = await c.query<{ name: string }>('SELECT name FROM identities WHERE id = $1', [identityId]);
    if (!who.rows[0]) return undefined;
    const r = await c.query<Row>('INSERT INTO erasures (id, identity_id, name, actor, reason, started_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [o.id, identityId, who.rows[0].name, o.actor, o.reason, o.nowMs]);
    return fromRow(r.rows[0] as Row);
  });
}

/** The newest finished erasure of an identity id (a rerun answers with its receipt). */
export async function finishedErasure(db: HubDb, identityId: string): Promise<HubErasureRow | undefined> {
  const r = await db.q<Row>('SELECT * FROM erasures WHERE identity_id = $1 AND finished_ms IS NOT NULL ORDER BY finished_ms DESC LIMIT 1', [identityId]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export async function erasure(db: HubDb, id: string): Promise<HubErasureRow | undefined> {
  const r = await db.q<Row>('SELECT * FROM erasures WHERE id = $1', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** Erasures not finished yet (a kill during one), oldest first. */
export async function pendingErasures(db: HubDb): Promise<HubErasureRow[]> {
  const r = await db.q<Row>('SELECT * FROM erasures WHERE finished_ms IS NULL ORDER BY started_ms, id');
  return r.rows.map(fromRow);
}

/** Every erasure (what the gallery bucket must carry for the edges), oldest first. */
export async function allErasures(db: HubDb): Promise<HubErasureRow[]> {
  const r = await db.q<Row>('SELECT * FROM erasures ORDER BY started_ms, id');
  return r.rows.map(fromRow);
}

/** Erasures whose record is not in the gallery bucket yet, oldest first. */
export async function unpublishedErasures(db: HubDb): Promise<HubErasureRow[]> {
  const r = await db.q<Row>('SELECT * FROM erasures WHERE published_ms IS NULL ORDER BY started_ms, id');
  return r.rows.map(fromRow);
}

export async function erasurePublished(db: HubDb, id: string, nowMs: number): Promise<void> {
  await db.q('UPDATE erasures SET published_ms = $2 WHERE id = $1 AND published_ms IS NULL', [id, nowMs]);
}

/**
 * The event rows about a person: their identity id, or (on a row without one) their name in the
 * data. `exceptHubIds`: rows already planned (the sweep for rows stored after the plan).
 */
export async function personEvents(db: HubDb, identityId: string, name: string | null): Promise<PersonEventRow[]> {
  const r = await db.q<{ hub_id: string; node_id: string; snap: string | null }>(
    `SELECT hub_id, node_id, body->'data'->>'snapshotId' AS snap FROM events
      WHERE identity_id = $1 OR (identity_id IS NULL AND $2::text IS NOT NULL AND body->'data'->>'name' = $2::text)
      ORDER BY hub_id`,
    [identityId, name],
  );
  return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, snapshotId: x.snap }));
}

export async function templateCount(db: HubDb, identityId: string): Promise<number> {
  const r = await db.q<{ n: string }>('SELECT count(*) AS n FROM templates WHERE identity_id = $1', [identityId]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Record the plan (once: a rerun keeps the first, so its receipt is the same). */
export async function savePlan(db: HubDb, id: string, plan: HubErasurePlan): Promise<HubErasurePlan> {
  await db.q('UPDATE erasures SET plan = $2::jsonb WHERE id = $1 AND plan IS NULL', [id, JSON.stringify(plan)]);
  const r = await db.q<{ plan: HubErasurePlan }>('SELECT plan FROM erasures WHERE id = $1', [id]);
  return r.rows[0]?.plan ?? plan;
}

/**
 * Delete the identity and its templates (cascade) with a gallery outbox row and its NOTIFY (the
 * edges drop the replica); nothing when it is gone already.
 */
export async function eraseIdentityRows(db: HubDb, identityId: string): Promise<boolean> {
  return db.tx(async (c) => {
    const r = await c.query('DELETE FROM identities WHERE id = $1', [identityId]);
    if ((r.rowCount ?? 0) === 0) return false;
    await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'delete')", [identityId]);
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, identityId]);
    return true;
  });
}

/**
 * Rewrite event rows with the tombstone (the box's rule, tombstoneEvent: name and id replaced,
 * snapshot, consent, cluster and metadata gone, the decision kept). One transaction; a row
 * already tombstoned rewrites to itself. Returns the rows as they are now (for the API window).
 */
export async function tombstoneEvents(db: HubDb, hubIds: readonly number[], token: string): Promise<{ hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]> {
  if (hubIds.length === 0) return [];
  return db.tx(async (c) => {
    const rows = await c.query<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM events WHERE hub_id = ANY($1::bigint[]) ORDER BY hub_id FOR UPDATE', [hubIds]);
    const out: { hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[] = [];
    for (const r of rows.rows) {
      const body = tombstoneEvent(r.body as unknown as Event, token) as unknown as Record<string, unknown>;
      await c.query('UPDATE events SET identity_id = $2, body = $3::jsonb WHERE hub_id = $1', [r.hub_id, typeof body.identityId === 'string' ? body.identityId : null, JSON.stringify(body)]);
      out.push({ hubId: Number(r.hub_id), nodeId: r.node_id, site: r.site, body });
    }
    return out;
  });
}

/** The rows carrying a tombstone as they are now (a running hub's API window is rewritten from them). */
export async function tombstonedRows(db: HubDb, token: string): Promise<{ hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]> {
  const r = await db.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM events WHERE identity_id = $1 ORDER BY hub_id', [token]);
  return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
}

/**
 * Finish: the receipt's audit event (identity.erased, once: a rerun finds it by its tombstone id)
 * and the journal row (name cleared, receipt kept), in one transaction.
 */
export async function finishErasure(db: HubDb, id: string, receipt: unknown, audit: HubAudit, nowMs: number): Promise<InsertedEvent[]> {
  const a = prepareAudit(audit);
  return db.eventsTx(async (c, added) => {
    const have = await c.query('SELECT 1 FROM events WHERE type = $1 AND identity_id = $2 LIMIT 1', ['identity.erased', a.identityId]);
    if (have.rows.length === 0) await db.insertAudit(c, a, added, nowMs);
    await c.query('UPDATE erasures SET name = NULL, receipt = $2::jsonb, finished_ms = $3 WHERE id = $1 AND finished_ms IS NULL', [id, JSON.stringify(receipt), nowMs]);
    // A running hub (the erasure may come from the CLI) rewrites its API window at COMMIT.
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, a.identityId]);
    return added;
  });
}
