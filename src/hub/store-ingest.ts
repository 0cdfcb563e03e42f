/**
 * The write side of the hub's events: node batches in one transaction (primary key
 * (node_id, event_id), so a duplicate that slipped past JetStream's window is still dropped) with
 * the node status they move, and the dead letters: messages whose content PostgreSQL refuses,
 * quarantined with the reason and their raw bytes so the rest of the fleet's events keep flowing.
 */
import { createHash } from 'node:crypto';
import { tombstoneEvent, type Event } from '../events/index.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import type { HubDb, HubEventRow, InsertedEvent } from './store-db.ts';

/** A message quarantined because PostgreSQL (or the hub's check before it) refused its content. */
export interface DeadLetter {
  readonly subject: string;
  readonly streamSeq: number | undefined;
  readonly nodeId: string | undefined;
  readonly site: string | undefined;
  readonly eventId: number | undefined;
  readonly msgId: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Why: which field holds what (e.g. `data.reason: NUL at 3`), or PostgreSQL's refusal. */
  readonly reason: string;
  /** The message data exactly as received. */
  readonly raw: Uint8Array;
}

export interface StoredDeadLetter extends DeadLetter {
  readonly id: number;
  readonly receivedMs: number;
  readonly raw: Buffer;
}

/**
 * Events about a person erased at the hub that arrive afterwards (an edge that was offline
 * forwards what it logged before it replayed the erasure) are stored tombstoned, like the rows
 * the erasure rewrote: `erased:<erasure id>` (src/hub/erasure.ts).
 */
async function tombstoneErased(db: HubDb, rows: readonly HubEventRow[]): Promise<readonly HubEventRow[]> {
  const ids = [...new Set(rows.map((r) => r.identityId).filter((x): x is string => typeof x === 'string' && !x.startsWith('erased:')))];
  if (ids.length === 0) return rows;
  const erased = await db.q<{ identity_id: string; id: string }>('SELECT DISTINCT ON (identity_id) identity_id, id FROM erasures WHERE identity_id = ANY($1) ORDER BY identity_id, started_ms DESC', [ids]);
  if (erased.rows.length === 0) return rows;
  const token = new Map(erased.rows.map((r) => [r.identity_id, `erased:${r.id}`]));
  return rows.map((r) => {
    const t = r.identityId === undefined ? undefined : token.get(r.identityId);
    if (t === undefined) return r;
    const body = tombstoneEvent(r.body as unknown as Event, t) as unknown as Record<string, unknown>;
    return { ...r, identityId: t, body };
  });
}

/** JSON text with every NUL / lone surrogate escaped (JSON.stringify does that), for a TEXT column. */
const storableText = (s: string): string => JSON.stringify(s).slice(1, -1);

/**
 * Store a batch of events in one transaction; duplicates (same node and event id) are dropped.
 * Returns the rows that were new, with their hub ids, in insertion order. Node status moves
 * with them.
 */
export async function insertEvents(db: HubDb, batch: readonly HubEventRow[], nowMs = Date.now()): Promise<InsertedEvent[]> {
  if (batch.length === 0) return [];
  const rows = await tombstoneErased(db, batch);
  // Serialised before the transaction: a body JSON.stringify cannot take (nested thousands deep)
  // is that event's fault, not the database's.
  const bodies = rows.map((r) => {
    try {
      return JSON.stringify(r.body);
    } catch (e) {
      throw new FleetError('FLEET_BAD_MESSAGE', `event ${r.nodeId}:${r.eventId} cannot be serialised as JSON (${messageOf(e)}): nested too deeply?`, { context: { node: r.nodeId, eventId: r.eventId, content: true }, hint: 'the event cannot be stored; the hub quarantines it in dead_letters', cause: e });
    }
  });
  return db.eventsTx(async (c, added) => {
    const cols = 11;
    const values: unknown[] = [];
    const tuples: string[] = [];
    rows.forEach((r, i) => {
      const b = i * cols;
      tuples.push(`(${Array.from({ length: cols }, (_, k) => `$${b + k + 1}`).join(', ')}, $${rows.length * cols + 1})`);
      values.push(r.nodeId, r.eventId, r.site, r.type, r.timeMs, r.cameraId ?? null, r.gateId ?? null, r.identityId ?? null, bodies[i], i, r.version ?? null);
    });
    values.push(nowMs);
    // ord keeps the batch order for the hub ids; version rides along for the node rows.
    const res = await c.query<{ hub_id: string; node_id: string; event_id: string }>(
      `WITH input (node_id, event_id, site, type, time_ms, camera_id, gate_id, identity_id, body, ord, version, received_ms) AS (VALUES ${tuples.join(', ')})
       INSERT INTO events (node_id, event_id, site, type, time_ms, camera_id, gate_id, identity_id, body, received_ms)
       SELECT node_id, event_id::bigint, site, type, time_ms::double precision, camera_id, gate_id, identity_id, body::jsonb, received_ms::double precision FROM input ORDER BY ord::int
       ON CONFLICT (node_id, event_id) DO NOTHING
       RETURNING hub_id, node_id, event_id`,
      values,
    );
    const byKey = new Map(rows.map((r) => [`${r.nodeId}:${r.eventId}`, r]));
    const inserted = res.rows
      .map((x) => ({ hubId: Number(x.hub_id), row: byKey.get(`${x.node_id}:${x.event_id}`) as HubEventRow }))
      .sort((a, b) => a.hubId - b.hubId);
    // Node status: last seen, newest id, count, version; lag and cameras from system.health.
    const perNode = new Map<string, { site: string; maxId: number; n: number; version?: string; health?: Record<string, unknown> }>();
    for (const r of rows) {
      const p = perNode.get(r.nodeId) ?? { site: r.site, maxId: 0, n: 0 };
      p.maxId = Math.max(p.maxId, r.eventId);
      if (r.version) p.version = r.version;
      if (r.type === 'system.health') p.health = r.body.data as Record<string, unknown>;
      perNode.set(r.nodeId, p);
    }
    for (const i of inserted) perNode.get(i.row.nodeId)!.n++;
    for (const [node, p] of perNode) {
      const sinks = Array.isArray(p.health?.sinks) ? (p.health.sinks as { name?: string; lag?: number }[]) : undefined;
      const lag = sinks?.find((s) => s.name === 'fleet')?.lag;
      const cameras = Array.isArray(p.health?.cameras) ? JSON.stringify(p.health.cameras) : null;
      await c.query(
        `INSERT INTO nodes (node_id, site, first_seen_ms, last_seen_ms, last_event_id, events, lag, cameras, version)
         VALUES ($1, $2, $3, $3, $4, $5, $6, COALESCE($7::jsonb, '[]'::jsonb), $8)
         ON CONFLICT (node_id) DO UPDATE SET site = EXCLUDED.site, last_seen_ms = EXCLUDED.last_seen_ms,
           last_event_id = GREATEST(nodes.last_event_id, EXCLUDED.last_event_id), events = nodes.events + EXCLUDED.events,
           lag = COALESCE($6, nodes.lag), cameras = COALESCE($7::jsonb, nodes.cameras), version = COALESCE($8, nodes.version)`,
        [node, p.site, nowMs, p.maxId, p.n, lag ?? null, cameras, p.version ?? null],
      );
    }
    added.push(...inserted);
    return inserted;
  });
}

/**
 * Quarantine messages whose content cannot be stored, in one transaction; a message already
 * there (same subject and bytes: a redelivery) is not added again. Returns how many were new.
 */
export async function quarantine(db: HubDb, letters: readonly DeadLetter[], nowMs = Date.now()): Promise<number> {
  if (letters.length === 0) return 0;
  return db.tx(async (c) => {
    let added = 0;
    for (const d of letters) {
      const dedupe = createHash('sha256').update(d.subject).update('\n').update(d.raw).digest('hex');
      const r = await c.query(
        `INSERT INTO dead_letters (dedupe, received_ms, subject, stream_seq, node_id, site, event_id, msg_id, headers, reason, raw)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dedupe) DO NOTHING`,
        [dedupe, nowMs, storableText(d.subject), d.streamSeq ?? null, d.nodeId === undefined ? null : storableText(d.nodeId), d.site === undefined ? null : storableText(d.site), d.eventId ?? null, d.msgId === undefined ? null : storableText(d.msgId), JSON.stringify(d.headers), storableText(d.reason), Buffer.from(d.raw)],
      );
      added += r.rowCount ?? 0;
    }
    return added;
  });
}

/** The quarantined messages, oldest first (at most `limit`). */
export async function deadLetters(db: HubDb, limit = 1000): Promise<StoredDeadLetter[]> {
  const r = await db.q<{ id: string; received_ms: number; subject: string; stream_seq: string | null; node_id: string | null; site: string | null; event_id: string | null; msg_id: string | null; headers: string; reason: string; raw: Buffer }>('SELECT * FROM dead_letters ORDER BY id LIMIT $1', [limit]);
  const num = (v: string | null): number | undefined => (v === null ? undefined : Number(v));
  return r.rows.map((x) => ({ id: Number(x.id), receivedMs: x.received_ms, subject: x.subject, streamSeq: num(x.stream_seq), nodeId: x.node_id ?? undefined, site: x.site ?? undefined, eventId: num(x.event_id), msgId: x.msg_id ?? undefined, headers: JSON.parse(x.headers) as Record<string, string>, reason: x.reason, raw: x.raw }));
}

export async function deadLetterCount(db: HubDb): Promise<number> {
  const r = await db.q<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
  return Number(r.rows[0]?.n ?? 0);
}
