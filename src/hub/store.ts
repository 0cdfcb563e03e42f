/**
 * The hub's PostgreSQL store: every event of every node (primary key (node_id, event_id), so a
 * duplicate that slipped past JetStream's window is still dropped), a hub-wide monotonic id for
 * the API's `since`, node status, and the gallery (identities, templates with their model id) as
 * the fleet's source of truth.
 *
 * An event PostgreSQL refuses for its content (SQLSTATE class 22 / 54, or a body JSON cannot
 * serialise) is a FLEET_BAD_MESSAGE with `context.content`, never "PostgreSQL unavailable": the hub
 * quarantines it in `dead_letters` (reason + raw bytes) instead of retrying it forever.
 *
 * Migrations are numbered and applied in order inside one transaction each, recorded in
 * fleet_schema; a hub started against a newer schema refuses to run.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { PostgresConfig } from '../config/fleet.ts';
import type { Logger } from '../log.ts';
import { eventSchema, EventsError, isTypePattern, MAX_PAGE, type EventQuery, type NewEventOf } from '../events/index.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import type { StoredIdentity, StoredTemplate } from '../fleet/gallery-kv.ts';

/** A box's event query plus the hub's origin filters. */
export interface HubEventQuery extends EventQuery {
  readonly nodeId?: string | undefined;
  readonly site?: string | undefined;
}

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    hub_id      BIGSERIAL UNIQUE NOT NULL,
    node_id     TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    site        TEXT NOT NULL,
    type        TEXT NOT NULL,
    time_ms     DOUBLE PRECISION NOT NULL,
    camera_id   TEXT,
    gate_id     TEXT,
    identity_id TEXT,
    body        JSONB NOT NULL,
    received_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node_id, event_id)
  );
  CREATE INDEX events_time ON events (time_ms);
  CREATE INDEX events_site_node ON events (site, node_id, hub_id);
  CREATE INDEX events_type ON events (type, hub_id);

  CREATE TABLE nodes (
    node_id       TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    first_seen_ms DOUBLE PRECISION NOT NULL,
    last_seen_ms  DOUBLE PRECISION NOT NULL,
    last_event_id BIGINT NOT NULL DEFAULT 0,
    events        BIGINT NOT NULL DEFAULT 0,
    lag           BIGINT,
    cameras       JSONB NOT NULL DEFAULT '[]',
    version       TEXT
  );

  CREATE TABLE identities (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    groups     JSONB NOT NULL DEFAULT '[]',
    metadata   JSONB NOT NULL DEFAULT '{}',
    created_ms DOUBLE PRECISION NOT NULL,
    updated_ms DOUBLE PRECISION NOT NULL,
    revision   BIGINT
  );
  CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    masked      BOOLEAN NOT NULL,
    dim         INTEGER NOT NULL,
    embedding   BYTEA NOT NULL,
    quality     DOUBLE PRECISION,
    source_photo_sha256 TEXT,
    created_ms  DOUBLE PRECISION NOT NULL
  );
  CREATE INDEX templates_identity ON templates (identity_id);
  -- Removals still to be published to the KV bucket (an identity removed while NATS was down).
  CREATE TABLE gallery_outbox (
    seq         BIGSERIAL PRIMARY KEY,
    identity_id TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('put', 'delete'))
  );
  `,
  `
  -- Messages PostgreSQL refused for their content (a NUL or a lone surrogate in jsonb, ...):
  -- quarantined so the rest of the fleet's events keep flowing. raw = the message data exactly as
  -- it came (BYTEA keeps what TEXT / JSONB cannot); dedupe = sha256(subject, raw), so a redelivery
  -- is not a second row.
  CREATE TABLE dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    dedupe      TEXT UNIQUE NOT NULL,
    received_ms DOUBLE PRECISION NOT NULL,
    subject     TEXT NOT NULL,
    stream_seq  BIGINT,
    node_id     TEXT,
    site        TEXT,
    event_id    BIGINT,
    msg_id      TEXT,
    headers     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         BYTEA NOT NULL
  );
  CREATE INDEX dead_letters_node ON dead_letters (node_id, event_id);
  `,
];

/** Advisory lock held by every transaction that writes events: hub ids are taken in commit order. */
const EVENTS_LOCK = 4242011;

/** NOTIFY channel: the gallery outbox has new rows. */
export const GALLERY_CHANNEL = 'facegate_gallery';

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

/** JSON text with every NUL / lone surrogate escaped (JSON.stringify does that), for a TEXT column. */
const storableText = (s: string): string => JSON.stringify(s).slice(1, -1);

export interface InsertedEvent {
  readonly hubId: number;
  readonly row: HubEventRow;
}

/** The audit events the hub writes for identity changes made through its API. */
export type HubAuditEvent = NewEventOf<'identity.created' | 'identity.updated' | 'identity.removed'>;

/**
 * An audit event of the hub's own origin (its nodeId and site from the config), written in the
 * same transaction as the identity change it records: a change is never without its record.
 * Its event id is the origin's next one (max + 1 under the events lock: unique and monotonic).
 */
export interface HubAudit {
  readonly nodeId: string;
  readonly site: string;
  readonly event: HubAuditEvent;
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


export function postgresClientConfig(cfg: PostgresConfig): pg.PoolConfig {
  let password = cfg.password;
  if (cfg.passwordFile !== undefined) {
    try {
      password = readFileSync(cfg.passwordFile, 'utf8').split(/\r?\n/)[0]?.trim();
    } catch (e) {
      throw new FleetError('FLEET_CONFIG_INVALID', `cannot read fleet.hub.postgres.passwordFile ${cfg.passwordFile}: ${messageOf(e)}`, { context: { path: cfg.passwordFile }, hint: 'check the path and that the service user can read it', cause: e });
    }
  }
  return {
    host: cfg.host,
    port: cfg.port,
    database: cfg.database,
    user: cfg.user,
    password,
    max: cfg.poolSize,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(cfg.ssl ? { ssl: { rejectUnauthorized: cfg.ssl.rejectUnauthorized, ...(cfg.ssl.ca ? { ca: readFileSync(cfg.ssl.ca, 'utf8') } : {}) } } : {}),
  };
}

/**
 * SQLSTATE class 22 (data exception: an untranslatable character, invalid JSON text, a value out of
 * range) is about what was sent, not about the server: the same statement fails every time, so it
 * must never be retried as an outage.
 */
export function isContentSqlState(code: string | undefined): boolean {
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * SQLSTATE class 54 (program limit exceeded: e.g. jsonb nested deeper than the server's stack
 * allows) is a property of the data too.
 */
const isLimitSqlState = (code: string | undefined): boolean => typeof code === 'string' && code.startsWith('54');

/**
 * A FleetError for an event that cannot be stored because of what it holds (PostgreSQL refused
 * the data, or it cannot even be serialised): retrying is useless, quarantine it.
 */
export function isContentError(e: unknown): e is FleetError {
  return e instanceof FleetError && e.code === 'FLEET_BAD_MESSAGE' && e.context.content === true;
}

/** A PostgreSQL failure as a FleetError with a fix (never the password). */
export function classifyPgError(e: unknown, cfg: PostgresConfig): FleetError {
  if (e instanceof FleetError) return e;
  const msg = messageOf(e);
  const where = `${cfg.user}@${cfg.host}:${cfg.port}/${cfg.database}`;
  const code = (e as { code?: string })?.code;
  if (isContentSqlState(code) || isLimitSqlState(code)) return new FleetError('FLEET_BAD_MESSAGE', `PostgreSQL ${where} refused the data (SQLSTATE ${code}: ${msg})`, { context: { where, sqlState: code, content: true }, hint: 'the message content cannot be stored (the hub quarantines such messages in dead_letters); PostgreSQL itself is available', cause: e });
  if (code === '28P01' || code === '28000') return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `PostgreSQL ${where} refused the credentials (${msg})`, { context: { where }, hint: 'check fleet.hub.postgres user and passwordFile (and pg_hba.conf)', cause: e });
  if (code === '3D000') return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `PostgreSQL ${where}: the database does not exist (${msg})`, { context: { where }, hint: `create it: createdb -O ${cfg.user} ${cfg.database}`, cause: e });
  return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `cannot use PostgreSQL ${where} (${msg})`, { context: { where }, hint: 'check that PostgreSQL runs and fleet.hub.postgres host/port; the hub keeps retrying', cause: e });
}

/** An audit event checked against the event schema v1, waiting for its id. */
interface PreparedAudit {
  readonly nodeId: string;
  readonly site: string;
  readonly type: HubAuditEvent['type'];
  readonly timeMs: number;
  readonly identityId: string;
  /** The v1 event without `v` and `id`. */
  readonly body: Record<string, unknown>;
}

/** Validate an audit event like every logged event (schema v1); EventsError EVENT_INVALID otherwise. */
export function prepareAudit(a: HubAudit): PreparedAudit {
  const time = Number.isFinite(a.event.timeMs) ? new Date(a.event.timeMs).toISOString() : '';
  const r = eventSchema.safeParse({ ...a.event, v: 1, id: 1, time });
  if (!r.success) {
    throw new EventsError('EVENT_INVALID', `invalid ${a.event.type} audit event: ${r.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`, {
      context: { type: a.event.type },
      hint: 'see src/events/schema.v1.json for the fields each event type requires',
    });
  }
  const { id: _placeholder, v: _v, ...rest } = r.data;
  return { nodeId: a.nodeId, site: a.site, type: a.event.type, timeMs: rest.timeMs, identityId: a.event.identityId, body: rest };
}

const toBytes = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const fromBytes = (b: Buffer, dim: number): Float32Array => {
  const copy = new Float32Array(dim);
  new Uint8Array(copy.buffer).set(b.subarray(0, dim * 4));
  return copy;
};

export class HubStore {
  readonly pool: pg.Pool;
  private readonly cfg: PostgresConfig;

  /**
   * The hub's own origin (config fleet.nodeId + site) for the audit events of changes made through
   * this store by a local tool (`facegate enroll --hub`, `hub-identities remove`); absent: none.
   */
  readonly auditOrigin: { readonly nodeId: string; readonly site: string } | undefined;

  constructor(cfg: PostgresConfig, logger: Logger, opts: { readonly auditOrigin?: { readonly nodeId: string; readonly site: string } } = {}) {
    this.cfg = cfg;
    this.auditOrigin = opts.auditOrigin;
    this.pool = new pg.Pool(postgresClientConfig(cfg));
    // An idle client that loses its server must not crash the hub.
    this.pool.on('error', (err) => logger.warn({ detail: classifyPgError(err, cfg).message }, 'fleet hub: PostgreSQL connection lost'));
  }

  private wrap(e: unknown): FleetError {
    return classifyPgError(e, this.cfg);
  }

  private committed: ((events: readonly InsertedEvent[]) => void) | undefined;
  private eventsChain: Promise<unknown> = Promise.resolve();

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
  private eventsTx<T>(fn: (c: pg.PoolClient, added: InsertedEvent[]) => Promise<T>): Promise<T> {
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

  /** Write an audit event of the hub's own origin inside the caller's transaction. */
  private async insertAudit(c: pg.PoolClient, a: PreparedAudit, added: InsertedEvent[], nowMs: number): Promise<void> {
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

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
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

  private async q<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Apply the missing migrations (each in its own transaction, under an advisory lock). */
  async migrate(): Promise<number> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(4242010)');
      await c.query('CREATE TABLE IF NOT EXISTS fleet_schema (version INTEGER NOT NULL)');
      const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM fleet_schema');
      const have = r.rows[0]?.v ?? 0;
      if (have > MIGRATIONS.length) throw new FleetError('FLEET_POSTGRES_UNAVAILABLE', `the hub database has schema version ${have}; this facegate knows ${MIGRATIONS.length}`, { hint: 'run the facegate version that wrote it' });
      for (let v = have; v < MIGRATIONS.length; v++) {
        await c.query(MIGRATIONS[v]);
        await c.query('INSERT INTO fleet_schema (version) VALUES ($1)', [v + 1]);
      }
      return MIGRATIONS.length;
    });
  }

  /**
   * Store a batch of events in one transaction; duplicates (same node and event id) are dropped.
   * Returns the rows that were new, with their hub ids, in insertion order. Node status moves
   * with them.
   */
  async insertEvents(rows: readonly HubEventRow[], nowMs = Date.now()): Promise<InsertedEvent[]> {
    if (rows.length === 0) return [];
    // Serialised before the transaction: a body JSON.stringify cannot take (nested thousands deep)
    // is that event's fault, not the database's.
    const bodies = rows.map((r) => {
      try {
        return JSON.stringify(r.body);
      } catch (e) {
        throw new FleetError('FLEET_BAD_MESSAGE', `event ${r.nodeId}:${r.eventId} cannot be serialised as JSON (${messageOf(e)}): nested too deeply?`, { context: { node: r.nodeId, eventId: r.eventId, content: true }, hint: 'the event cannot be stored; the hub quarantines it in dead_letters', cause: e });
      }
    });
    return this.eventsTx(async (c, added) => {
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
  async quarantine(letters: readonly DeadLetter[], nowMs = Date.now()): Promise<number> {
    if (letters.length === 0) return 0;
    return this.tx(async (c) => {
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
  async deadLetters(limit = 1000): Promise<StoredDeadLetter[]> {
    const r = await this.q<{ id: string; received_ms: number; subject: string; stream_seq: string | null; node_id: string | null; site: string | null; event_id: string | null; msg_id: string | null; headers: string; reason: string; raw: Buffer }>('SELECT * FROM dead_letters ORDER BY id LIMIT $1', [limit]);
    const num = (v: string | null): number | undefined => (v === null ? undefined : Number(v));
    return r.rows.map((x) => ({ id: Number(x.id), receivedMs: x.received_ms, subject: x.subject, streamSeq: num(x.stream_seq), nodeId: x.node_id ?? undefined, site: x.site ?? undefined, eventId: num(x.event_id), msgId: x.msg_id ?? undefined, headers: JSON.parse(x.headers) as Record<string, string>, reason: x.reason, raw: x.raw }));
  }

  async deadLetterCount(): Promise<number> {
    const r = await this.q<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * GET /v1/events at the hub: the whole history in PostgreSQL (not only the API's in-memory
   * window), filtered like a box's log (types and families, camera/gate/identity, node and site,
   * time range), ordered by capture time then hub id.
   */
  async queryEvents(q: HubEventQuery): Promise<{ hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]> {
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
    const r = await this.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>(
      `SELECT hub_id, node_id, site, body FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time_ms ${order}, hub_id ${order} LIMIT ${arg(limit)}`,
      params,
    );
    return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
  }

  /**
   * Events after `hubId` in hub id order (at most `limit`): what other processes committed (the
   * CLI's audit events), for the API feed to catch up on a NOTIFY.
   */
  async eventsAfter(hubId: number, limit: number): Promise<{ hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]> {
    const r = await this.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM events WHERE hub_id > $1 ORDER BY hub_id LIMIT $2', [hubId, limit]);
    return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
  }

  /** The newest `limit` events (hub id order), for the API's in-memory window. */
  async recentEvents(limit: number): Promise<{ hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]> {
    const r = await this.q<{ hub_id: string; node_id: string; site: string; body: Record<string, unknown> }>('SELECT hub_id, node_id, site, body FROM (SELECT hub_id, node_id, site, body FROM events ORDER BY hub_id DESC LIMIT $1) x ORDER BY hub_id', [limit]);
    return r.rows.map((x) => ({ hubId: Number(x.hub_id), nodeId: x.node_id, site: x.site, body: x.body }));
  }

  async eventCount(nodeId?: string): Promise<number> {
    const r = nodeId === undefined ? await this.q<{ n: string }>('SELECT count(*) AS n FROM events') : await this.q<{ n: string }>('SELECT count(*) AS n FROM events WHERE node_id = $1', [nodeId]);
    return Number(r.rows[0]?.n ?? 0);
  }

  async eventIds(nodeId: string): Promise<number[]> {
    const r = await this.q<{ event_id: string }>('SELECT event_id FROM events WHERE node_id = $1 ORDER BY event_id', [nodeId]);
    return r.rows.map((x) => Number(x.event_id));
  }

  async nodes(): Promise<NodeStatus[]> {
    const r = await this.q<{ node_id: string; site: string; first_seen_ms: number; last_seen_ms: number; last_event_id: string; events: string; lag: string | null; cameras: unknown[]; version: string | null }>('SELECT * FROM nodes ORDER BY site, node_id');
    return r.rows.map((x) => ({ nodeId: x.node_id, site: x.site, firstSeenMs: x.first_seen_ms, lastSeenMs: x.last_seen_ms, lastEventId: Number(x.last_event_id), events: Number(x.events), lag: x.lag === null ? null : Number(x.lag), cameras: x.cameras, version: x.version }));
  }

  // --- gallery (source of truth) -------------------------------------------------------------

  /** A gallery write: with an audit event, in the events' serialised transactions. */
  private galleryTx<T>(audit: PreparedAudit | undefined, fn: (c: pg.PoolClient, added: InsertedEvent[]) => Promise<T>): Promise<T> {
    return audit ? this.eventsTx(fn) : this.tx((c) => fn(c, []));
  }

  /** Insert or replace an identity with all its templates, in one transaction (with its audit event, when given). */
  async putIdentity(i: StoredIdentity, audit?: HubAudit): Promise<void> {
    const a = audit && prepareAudit(audit);
    await this.galleryTx(a, async (c, added) => {
      await c.query(
        `INSERT INTO identities (id, name, groups, metadata, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, groups = EXCLUDED.groups, metadata = EXCLUDED.metadata, updated_ms = EXCLUDED.updated_ms`,
        [i.id, i.name, JSON.stringify(i.groups), JSON.stringify(i.metadata), i.createdMs, i.updatedMs],
      );
      await c.query('DELETE FROM templates WHERE identity_id = $1', [i.id]);
      for (const t of i.templates) {
        await c.query('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, quality, source_photo_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [t.id, i.id, t.modelId, t.masked, t.embedding.length, toBytes(t.embedding), t.quality, t.sourcePhotoSha256, i.updatedMs]);
      }
      await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [i.id]);
      // Delivered at COMMIT: the hub's listener publishes at once (any process may write here).
      await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, i.id]);
      if (a) await this.insertAudit(c, a, added, Date.now());
    });
  }

  /** Rename and/or regroup (templates unchanged); false when there is no such identity (and no audit event). */
  async updateIdentity(id: string, changes: { readonly name?: string; readonly groups?: readonly string[] }, nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
    const a = audit && prepareAudit(audit);
    return this.galleryTx(a, async (c, added) => {
      const r = await c.query('UPDATE identities SET name = COALESCE($2, name), groups = COALESCE($3::jsonb, groups), updated_ms = $4 WHERE id = $1', [id, changes.name ?? null, changes.groups ? JSON.stringify(changes.groups) : null, nowMs]);
      if ((r.rowCount ?? 0) === 0) return false;
      await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [id]);
      await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
      if (a) await this.insertAudit(c, a, added, Date.now());
      return true;
    });
  }

  /**
   * Add templates to an identity (name and groups untouched, so a rename not yet written is not
   * undone); false when there is no such identity (and no audit event).
   */
  async addTemplates(id: string, templates: readonly StoredTemplate[], nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
    const a = audit && prepareAudit(audit);
    return this.galleryTx(a, async (c, added) => {
      const r = await c.query('UPDATE identities SET updated_ms = $2 WHERE id = $1', [id, nowMs]);
      if ((r.rowCount ?? 0) === 0) return false;
      for (const t of templates) {
        await c.query('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, quality, source_photo_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [t.id, id, t.modelId, t.masked, t.embedding.length, toBytes(t.embedding), t.quality, t.sourcePhotoSha256, nowMs]);
      }
      await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [id]);
      await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
      if (a) await this.insertAudit(c, a, added, Date.now());
      return true;
    });
  }

  /** Remove an identity; false when there was none (and no audit event). */
  async removeIdentity(id: string, audit?: HubAudit): Promise<boolean> {
    const a = audit && prepareAudit(audit);
    return this.galleryTx(a, async (c, added) => {
      const r = await c.query('DELETE FROM identities WHERE id = $1', [id]);
      if ((r.rowCount ?? 0) === 0) return false;
      await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'delete')", [id]);
      await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
      if (a) await this.insertAudit(c, a, added, Date.now());
      return true;
    });
  }

  async getIdentity(id: string): Promise<StoredIdentity | undefined> {
    return (await this.identities([id]))[0];
  }

  /** Identities with their templates (all, or the given ids). */
  async identities(ids?: readonly string[]): Promise<StoredIdentity[]> {
    const rows = ids === undefined ? await this.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number }>('SELECT * FROM identities ORDER BY name, id') : await this.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number }>('SELECT * FROM identities WHERE id = ANY($1) ORDER BY name, id', [ids]);
    if (rows.rows.length === 0) return [];
    const tpl = await this.q<{ id: string; identity_id: string; model_id: string; masked: boolean; dim: number; embedding: Buffer; quality: number | null; source_photo_sha256: string | null }>('SELECT * FROM templates WHERE identity_id = ANY($1) ORDER BY created_ms, id', [rows.rows.map((r) => r.id)]);
    const by = new Map<string, StoredTemplate[]>();
    for (const t of tpl.rows) {
      const list = by.get(t.identity_id) ?? [];
      list.push({ id: t.id, modelId: t.model_id, masked: t.masked, embedding: fromBytes(t.embedding, t.dim), quality: t.quality, sourcePhotoSha256: t.source_photo_sha256 });
      by.set(t.identity_id, list);
    }
    return rows.rows.map((r) => ({ id: r.id, name: r.name, groups: r.groups, metadata: r.metadata, createdMs: r.created_ms, updatedMs: r.updated_ms, templates: by.get(r.id) ?? [] }));
  }

  /** Every identity id (the gallery bucket must hold exactly these). */
  async identityIds(): Promise<string[]> {
    const r = await this.q<{ id: string }>('SELECT id FROM identities ORDER BY id');
    return r.rows.map((x) => x.id);
  }

  /** Gallery changes not yet published to the KV bucket, oldest first. */
  async pendingGallery(limit = 500): Promise<{ seq: number; identityId: string; op: 'put' | 'delete' }[]> {
    const r = await this.q<{ seq: string; identity_id: string; op: 'put' | 'delete' }>('SELECT seq, identity_id, op FROM gallery_outbox ORDER BY seq LIMIT $1', [limit]);
    return r.rows.map((x) => ({ seq: Number(x.seq), identityId: x.identity_id, op: x.op }));
  }

  async galleryPublished(seqUpTo: number): Promise<void> {
    await this.q('DELETE FROM gallery_outbox WHERE seq <= $1', [seqUpTo]);
  }

  /** Identities without their templates (a count instead): all, or the given ids. */
  async identitySummaries(ids?: readonly string[]): Promise<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; createdMs: number; updatedMs: number; templates: number }[]> {
    const sql = `SELECT i.id, i.name, i.groups, i.metadata, i.created_ms, i.updated_ms, count(t.id) AS n
                   FROM identities i LEFT JOIN templates t ON t.identity_id = i.id
                  ${ids === undefined ? '' : 'WHERE i.id = ANY($1)'} GROUP BY i.id ORDER BY i.name, i.id`;
    const r = await this.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number; n: string }>(sql, ids === undefined ? [] : [ids]);
    return r.rows.map((x) => ({ id: x.id, name: x.name, groups: x.groups, metadata: x.metadata, createdMs: x.created_ms, updatedMs: x.updated_ms, templates: Number(x.n) }));
  }

  /** Find identities by exact name (the CLI adds templates to an existing one). */
  async identityIdsByName(name: string): Promise<string[]> {
    const r = await this.q<{ id: string }>('SELECT id FROM identities WHERE name = $1 ORDER BY created_ms, id', [name]);
    return r.rows.map((x) => x.id);
  }

  /**
   * LISTEN for gallery changes on a client of its own; `onNotify(identityId)` runs for each (the
   * payload is the identity that changed). Reconnects with `retryMs` when the connection is lost,
   * and calls onNotify(undefined) then: "anything may have changed".
   */
  listenGallery(onNotify: (identityId: string | undefined) => void, retryMs: number, logger: Logger): () => Promise<void> {
    let stopped = false;
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      if (stopped) return;
      const c = new pg.Client(postgresClientConfig(this.cfg));
      c.on('error', () => undefined);
      c.on('end', () => {
        if (client === c) client = undefined;
        schedule();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${GALLERY_CHANNEL}`);
        c.on('notification', (n) => onNotify(n.payload || undefined));
        client = c;
        onNotify(undefined);
      } catch (e) {
        logger.debug({ detail: messageOf(e) }, 'fleet hub: gallery LISTEN not ready; retrying');
        await c.end().catch(() => undefined);
        schedule();
      }
    };
    const schedule = (): void => {
      if (stopped) return;
      clearTimeout(timer);
      timer = setTimeout(() => void connect(), retryMs);
      timer.unref();
    };
    void connect();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      await client?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
