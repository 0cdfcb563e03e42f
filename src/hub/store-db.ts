/**
 * The hub store's access to PostgreSQL, shared by its parts (schema, ingest, queries, gallery): a
 * pool whose failures come out classified (src/hub/postgres.ts), plain queries, transactions, and
 * the events transactions that assign hub ids in commit order and tell the API feed what they
 * committed.
 */
import pg from 'pg';
import type { PostgresConfig } from '../config/fleet.ts';
import type { Logger } from '../log.ts';
import type { FleetError } from '../fleet/errors.ts';
import type { PreparedAudit } from './audit.ts';
import { classifyPgError, postgresClientConfig } from './postgres.ts';

export interface HubEventRow {
  readonly nodeId: string;
  readonly site: string;
  readonly eventId: number;
  readonly type: string;
  readonly timeMs: number;
  readonly cameraId?: string | undefined;
  readonly gateId?: string | undefined;
  readonly identityId?: string | undefined;
  /** The event as the node logged it (its own id inside). */
  readonly body: Record<string, unknown>;
  /** From the message headers. */
  readonly version?: string | undefined;
}

export interface InsertedEvent {
  readonly hubId: number;
  readonly row: HubEventRow;
}

/** Advisory lock held by every transaction that writes events: hub ids are taken in commit order. */
const EVENTS_LOCK = 4242011;

export class HubDb {
  readonly pool: pg.Pool;
  readonly cfg: PostgresConfig;
  private committed: ((events: readonly InsertedEvent[]) => void) | undefined;
  private eventsChain: Promise<unknown> = Promise.resolve();

  constructor(cfg: PostgresConfig, logger: Logger) {
    this.cfg = cfg;
    this.pool = new pg.Pool(postgresClientConfig(cfg));
    // An idle client that loses its server must not crash the hub.
    this.pool.on('error', (err) => logger.warn({ detail: classifyPgError(err, cfg).message }, 'fleet hub: PostgreSQL connection lost'));
  }

  wrap(e: unknown): FleetError {
    return classifyPgError(e, this.cfg);
  }

  /**
   * Called with the events of each committed transaction of this store (node batches and the
   * hub's audit events), in hub id order, one transaction after the other: the hub's API feed.
   */
  onCommitted(listener: (events: readonly InsertedEvent[]) => void): void {
    this.committed = listener;
  }

  /**
   * A transaction that writes events: one at a time in this process, under an advisory lock
   * across processes, so hub ids are assigned in commit order and the listener sees them in order
   * (the feed never gets an id below one it already has).
   */
  eventsTx<T>(fn: (c: pg.PoolClient, added: InsertedEvent[]) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const added: InsertedEvent[] = [];
      const r = await this.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [EVENTS_LOCK]);
        return fn(c, added);
      });
      if (added.length > 0) this.committed?.(added);
      return r;
    };
    const p = this.eventsChain.then(run, run);
    this.eventsChain = p.catch(() => undefined);
    return p;
  }

  /** Write an audit event of the hub's own origin inside the caller's (events) transaction. */
  async insertAudit(c: pg.PoolClient, a: PreparedAudit, added: InsertedEvent[], nowMs: number): Promise<void> {
    const next = await c.query<{ n: string }>('SELECT COALESCE(max(event_id), 0) + 1 AS n FROM events WHERE node_id = $1', [a.nodeId]);
    const eventId = Number(next.rows[0]?.n ?? 1);
    const body: Record<string, unknown> = { v: 1, id: eventId, ...a.body };
    const row: HubEventRow = { nodeId: a.nodeId, site: a.site, eventId, type: a.type, timeMs: a.timeMs, identityId: a.identityId, body };
    const r = await c.query<{ hub_id: string }>(
      `INSERT INTO events (node_id, event_id, site, type, time_ms, camera_id, gate_id, identity_id, body, received_ms)
       VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7::jsonb, $8) RETURNING hub_id`,
      [row.nodeId, eventId, row.site, row.type, row.timeMs, row.identityId ?? null, JSON.stringify(body), nowMs],
    );
    added.push({ hubId: Number(r.rows[0]?.hub_id), row });
  }

  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw this.wrap(e);
    }
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw this.wrap(e);
    } finally {
      c.release();
    }
  }

  async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
