/**
 * The read side of the hub's events and nodes: GET /v1/events over the whole history, the API
 * window's first load and catch-up, counts for tools and tests, and node status.
 */
import { EventsError, isTypePattern, MAX_PAGE, type EventQuery } from '../events/index.ts';
import type { HubDb } from './store-db.ts';

/** A box's event query plus the hub's origin filters. */
export interface HubEventQuery extends EventQuery {
  readonly nodeId?: string | undefined;
  readonly site?: string | undefined;
}

/** A stored event with its origin and hub id (what the API feed is made of). */
export interface StoredEvent {
  readonly hubId: number;
  readonly nodeId: string;
  readonly site: string;
  readonly body: Record<string, unknown>;
}

export interface NodeStatus {
  readonly nodeId: string;
  readonly site: string;
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  readonly lastEventId: number;
  readonly events: number;
  /** The node's forwarder lag (events not yet at the hub) from its last system.health. */
  readonly lag: number | null;
  readonly cameras: readonly unknown[];
  readonly version: string | null;
}

/**
 * GET /v1/events at the hub: the whole history in PostgreSQL (not only the API's in-memory
 * window), filtered like a box's log (types and families, camera/gate/identity, node and site,
 * time range), ordered by capture time then hub id.
 */
export async function queryEvents(db: HubDb, q: HubEventQuery): Promise<StoredEvent[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const arg = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  if (q.fromMs !== undefined) where.push(`time_ms >= ${arg(q.fromMs)}`);
  if (q.toMs !== undefined) where.push(`time_ms < ${arg(q.toMs)}`);
  if (q.types && q.types.length > 0 && !q.types.includes('*')) {
    const ors = q.types.map((t) => {
      if (!isTypePattern(t)) throw new EventsError('EVENT_FILTER_INVALID', `invalid type pattern '${t}'`, { hint: "use 'gate.denied', 'gate.*' or '*'" });
      // An exact prefix compare for a family: no LIKE wildcards to escape.
      return t.endsWith('.*') ? `left(type, ${arg(t.length - 1)}) = ${arg(t.slice(0, -1))}` : `type = ${arg(t)}`;
    });
    where.push(`(${ors.join(' OR ')})`);
  }
  for (const [column, value] of [
    ['camera_id', q.cameraId],
    ['gate_id', q.gateId],
    ['identity_id', q.identityId],
    ['node_id', q.nodeId],
    ['site', q.site],
  ] as const) {
    if (value !== undefined) where.push(`${column} = ${arg(value)}`);
  }
  const order = q.order === 'desc' ? 'DESC' : 'ASC';
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(q.limit ?? 1000)));
  const r = await db.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>(
    `SELECT hub_id, node_id, site, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time_ms ${order}, hub_id ${order} LIMIT ${arg(limit)}`,
    params,
  );
  return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
}

/**
 * Events after `hubId` in hub id order (at most `limit`): what other processes committed (the
 * CLI's audit events), for the API feed to catch up on a NOTIFY.
 */
export async function eventsAfter(db: HubDb, hubId: number, limit: number): Promise<StoredEvent[]> {
  const r = await db.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM events WHERE hub_id > $1 ORDER BY hub_id LIMIT $2', [hubId, limit]);
  return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
}

/** The newest `limit` events (hub id order), for the API's in-memory window. */
export async function recentEvents(db: HubDb, limit: number): Promise<StoredEvent[]> {
  const r = await db.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM (SELECT hub_id, node_id, site, body FROM events ORDER BY hub_id DESC LIMIT $1) x ORDER BY hub_id', [limit]);
  return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
}

export async function eventCount(db: HubDb, nodeId?: string): Promise<number> {
  const r = nodeId === undefined ? await db.q<{ n: string }>('SELECT count(*) AS n FROM events') : await db.q<{ n: string }>('SELECT count(*) AS n FROM events WHERE node_id = $1', [nodeId]);
  return Number(r.rows[0]?.n ?? 0);
}

export async function eventIds(db: HubDb, nodeId: string): Promise<number[]> {
  const r = await db.q<{ event_id: string }>('SELECT event_id FROM events WHERE node_id = $1 ORDER BY event_id', [nodeId]);
  return r.rows.map((x) => Number(x.event_id));
}

export async function nodes(db: HubDb): Promise<NodeStatus[]> {
  const r = await db.q<{ node_id: string; site: string; first_seen_ms: number; last_seen_ms: number; last_event_id: string; events: string; lag: string | null; cameras: unknown[]; version: string | null }>('SELECT * FROM nodes ORDER BY site, node_id');
  return r.rows.map((x) => ({ nodeId: x.node_id, site: x.site, firstSeenMs: x.first_seen_ms, lastSeenMs: x.last_seen_ms, lastEventId: Number(x.last_event_id), events: Number(x.events), lag: x.lag === null ? null : Number(x.lag), cameras: x.cameras, version: x.version }));
}
