/**
 * The durable event log: SQLite (better-sqlite3) in WAL mode with synchronous=FULL, so an append
 * that returned is on disk before anyone hears of the event (the bus publishes only after it).
 * Ids are the table's AUTOINCREMENT rowid: monotonic, never reused, not even after prune deleted
 * the newest rows or the process restarted. append() is synchronous.
 *
 * Every appended event is validated against the v1 schema first, so the log only ever holds
 * events a v1 client can parse. The routing ids and the time are columns (indexed for replay and
 * queries); the whole event is kept as JSON.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventsError } from './errors.ts';
import { filterSql, isTypePattern, type EventFilter } from './filter.ts';
import { eventSchema, type Event, type EventType, type NewEvent } from './types.ts';

export const EVENT_LOG_VERSION = 1;
export const MAX_PAGE = 10_000;

export interface EventRetention {
  /** Drop events older than this (by timeMs) on prune(). */
  readonly maxAgeMs?: number | undefined;
  /** Keep at most this many (the newest) on prune(). */
  readonly maxCount?: number | undefined;
}

export interface EventLogOptions {
  readonly retention?: EventRetention | undefined;
  /** Validate every appended event against the schema (default true). */
  readonly validate?: boolean | undefined;
}

export interface EventQuery {
  /** timeMs >= fromMs */
  readonly fromMs?: number | undefined;
  /** timeMs < toMs */
  readonly toMs?: number | undefined;
  /** Exact types or families ('gate.*'). */
  readonly types?: readonly string[] | undefined;
  readonly cameraId?: string | undefined;
  readonly gateId?: string | undefined;
  readonly identityId?: string | undefined;
  /** Default 1000, at most MAX_PAGE. */
  readonly limit?: number | undefined;
  /** asc (default): oldest first; desc: newest first. */
  readonly order?: 'asc' | 'desc' | undefined;
}

export interface PruneResult {
  readonly byAge: number;
  readonly byCount: number;
}

interface Row {
  id: number;
  body: string;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return 1000;
  if (!Number.isFinite(limit) || limit < 1) return 1;
  return Math.min(MAX_PAGE, Math.floor(limit));
}

/** The fields of an event in their documented order (JSON key order is what people read). */
function canonical(e: Omit<Event, 'id'>, id: number): Event {
  const out: Record<string, unknown> = { v: e.v, id, type: e.type, time: e.time, timeMs: e.timeMs };
  if (e.cameraId !== undefined) out.cameraId = e.cameraId;
  if (e.gateId !== undefined) out.gateId = e.gateId;
  if (e.trackId !== undefined) out.trackId = e.trackId;
  if (e.identityId !== undefined) out.identityId = e.identityId;
  out.data = e.data;
  return out as Event;
}

export class EventLog {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly validate: boolean;
  private readonly retention: EventRetention;
  private readonly insert: Database.Statement<[string, number, string | null, string | null, string | null, string | null, string]>;
  private readonly appendTx: (events: readonly Omit<Event, 'id'>[]) => Event[];

  constructor(path: string, opts: EventLogOptions = {}) {
    this.path = path;
    this.validate = opts.validate ?? true;
    this.retention = opts.retention ?? {};
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      // Pruned and tombstoned events are zeroed in the file, not left in free space (docs/privacy.md).
      this.db.pragma('secure_delete = ON');
    } catch (e) {
      throw new EventsError('EVENT_LOG_FAILED', `cannot open the event log ${path}: ${e instanceof Error ? e.message : String(e)}`, {
        context: { path },
        hint: 'check that the directory exists and is writable, and that no other program holds the file',
        cause: e,
      });
    }
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > EVENT_LOG_VERSION) {
      this.db.close();
      throw new EventsError('EVENT_LOG_VERSION', `the event log ${path} has version ${version}; this facegate reads version ${EVENT_LOG_VERSION}`, {
        context: { path, version },
        hint: 'run the facegate version that wrote it, or move the file away to start a new log',
      });
    }
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        time_ms REAL NOT NULL,
        camera_id TEXT,
        gate_id TEXT,
        track_id TEXT,
        identity_id TEXT,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS events_time ON events(time_ms);
      CREATE INDEX IF NOT EXISTS events_type ON events(type, id);
      CREATE INDEX IF NOT EXISTS events_camera ON events(camera_id, id);
    `);
    if (version < EVENT_LOG_VERSION) this.db.pragma(`user_version = ${EVENT_LOG_VERSION}`);
    this.insert = this.db.prepare('INSERT INTO events (type, time_ms, camera_id, gate_id, track_id, identity_id, body) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.appendTx = this.db.transaction((events: readonly Omit<Event, 'id'>[]): Event[] =>
      events.map((e) => {
        const { id: _ignored, ...stored } = canonical(e, 0);
        const info = this.insert.run(e.type, e.timeMs, e.cameraId ?? null, e.gateId ?? null, e.trackId ?? null, e.identityId ?? null, JSON.stringify(stored));
        return canonical(e, Number(info.lastInsertRowid));
      }),
    );
  }

  /** Validate and complete an event (v, time) without an id. Throws EventsError EVENT_INVALID. */
  private prepare(input: NewEvent): Omit<Event, 'id'> {
    if (!this.validate) return { ...input, v: 1, time: new Date(input.timeMs).toISOString() } as Omit<Event, 'id'>;
    const time = Number.isFinite(input?.timeMs) ? new Date(input.timeMs).toISOString() : '';
    const r = eventSchema.safeParse({ ...input, v: 1, id: 1, time });
    if (!r.success) {
      throw new EventsError('EVENT_INVALID', `invalid ${String((input as { type?: unknown })?.type)} event: ${r.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`, {
        context: { type: String((input as { type?: unknown })?.type) },
        hint: 'see src/events/schema.v1.json for the fields each event type requires',
      });
    }
    const { id: _placeholder, ...rest } = r.data;
    return rest as Omit<Event, 'id'>;
  }

  /**
   * Append one event in its own transaction; returns it with its id. When this returns, the event
   * is durable (WAL, synchronous=FULL).
   */
  append(input: NewEvent): Event {
    return this.appendTx([this.prepare(input)])[0];
  }

  /** Append several events atomically: all or none. */
  appendMany(inputs: readonly NewEvent[]): Event[] {
    const prepared = inputs.map((i) => this.prepare(i));
    return this.appendTx(prepared);
  }

  /** Events with id > afterId that match the filter, oldest first, at most `limit`. */
  since(afterId: number, filter: EventFilter = {}, limit?: number): Event[] {
    const f = filterSql(filter);
    const rows = this.db.prepare(`SELECT id, body FROM events WHERE id > ? AND ${f.where} ORDER BY id LIMIT ?`).all(Math.max(0, Math.floor(afterId)), ...f.params, clampLimit(limit)) as Row[];
    return rows.map(parseRow);
  }

  /** Events by time range and routing ids. */
  query(q: EventQuery = {}): Event[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.fromMs !== undefined) {
      where.push('time_ms >= ?');
      params.push(q.fromMs);
    }
    if (q.toMs !== undefined) {
      where.push('time_ms < ?');
      params.push(q.toMs);
    }
    if (q.types && q.types.length > 0) {
      for (const t of q.types) if (!isTypePattern(t)) throw new EventsError('EVENT_FILTER_INVALID', `invalid type pattern '${t}'`, { hint: "use 'gate.denied', 'gate.*' or '*'" });
      const f = filterSql({ types: q.types });
      where.push(f.where);
      params.push(...f.params);
    }
    for (const [column, value] of [
      ['camera_id', q.cameraId],
      ['gate_id', q.gateId],
      ['identity_id', q.identityId],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const order = q.order === 'desc' ? 'DESC' : 'ASC';
    const sql = `SELECT id, body FROM events WHERE ${where.length ? where.join(' AND ') : '1'} ORDER BY time_ms ${order}, id ${order} LIMIT ?`;
    return (this.db.prepare(sql).all(...params, clampLimit(q.limit)) as Row[]).map(parseRow);
  }

  get(id: number): Event | undefined {
    const row = this.db.prepare('SELECT id, body FROM events WHERE id = ?').get(id) as Row | undefined;
    return row ? parseRow(row) : undefined;
  }

  /** The last id ever assigned (0 for a new log), even if that event was pruned since. */
  lastId(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  }

  countByType(): Partial<Record<EventType, number>> {
    const rows = this.db.prepare('SELECT type, count(*) AS n FROM events GROUP BY type').all() as { type: EventType; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  /** Apply the retention: by age (timeMs < nowMs - maxAgeMs), then by count (oldest ids first). */
  prune(nowMs: number): PruneResult {
    const { maxAgeMs, maxCount } = this.retention;
    return this.db.transaction((): PruneResult => {
      let byAge = 0;
      let byCount = 0;
      if (maxAgeMs !== undefined) byAge = this.db.prepare('DELETE FROM events WHERE time_ms < ?').run(nowMs - maxAgeMs).changes;
      if (maxCount !== undefined) {
        byCount = this.db.prepare('DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)').run(Math.max(0, Math.floor(maxCount))).changes;
      }
      return { byAge, byCount };
    })();
  }

  /**
   * The events about a person (for an erasure or a subject-access export): those carrying the
   * identity id, those naming `name` without any identity id, and the face.unknown sightings of
   * the clusters that became this person (`unknownIds`). Oldest first.
   */
  about(identityId: string, opts: { name?: string | undefined; unknownIds?: readonly string[] | undefined } = {}): Event[] {
    const unknownIds = [...(opts.unknownIds ?? [])];
    const where = ['identity_id = ?'];
    const params: string[] = [identityId];
    if (opts.name !== undefined) {
      where.push("(identity_id IS NULL AND json_extract(body, '$.data.name') = ?)");
      params.push(opts.name);
    }
    if (unknownIds.length > 0) {
      where.push(`(type = 'face.unknown' AND json_extract(body, '$.data.unknownId') IN (${unknownIds.map(() => '?').join(', ')}))`);
      params.push(...unknownIds);
    }
    return (this.db.prepare(`SELECT id, body FROM events WHERE ${where.join(' OR ')} ORDER BY id`).all(...params) as Row[]).map(parseRow);
  }

  /**
   * The one exception to append-only, for erasure (docs/privacy.md): rewrite the given events
   * with the person's name and id replaced by `token` (tombstoneEvent: the decision, gate, time
   * and reason stay). One transaction; idempotent (a tombstoned event rewrites to itself);
   * events already pruned are skipped. Returns how many events are tombstoned now.
   */
  tombstone(ids: readonly number[], token: string): number {
    const get = this.db.prepare('SELECT id, body FROM events WHERE id = ?');
    const put = this.db.prepare('UPDATE events SET identity_id = ?, body = ? WHERE id = ?');
    return this.db.transaction((): number => {
      let n = 0;
      for (const id of ids) {
        const row = get.get(id) as Row | undefined;
        if (!row) continue;
        const { id: _id, ...next } = tombstoneEvent(parseRow(row), token);
        if (this.validate) this.prepare(next as NewEvent);
        put.run(next.identityId ?? null, JSON.stringify(next), id);
        n++;
      }
      return n;
    })();
  }

  /** The newest face.recognized / face.unknown event id per camera (what a retained MQTT last_face shows). */
  latestFacePerCamera(): Map<string, number> {
    const rows = this.db.prepare("SELECT camera_id AS camera, max(id) AS id FROM events WHERE type IN ('face.recognized', 'face.unknown') AND camera_id IS NOT NULL GROUP BY camera_id").all() as { camera: string; id: number }[];
    return new Map(rows.map((r) => [r.camera, r.id]));
  }

  /** Copy the WAL into the file and truncate it, so rewritten and deleted rows leave no old copy there. */
  checkpointTruncate(): { secureDelete: boolean; busy: boolean } {
    const secureDelete = Number(this.db.pragma('secure_delete', { simple: true })) === 1;
    const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    return { secureDelete, busy: (r?.busy ?? 0) !== 0 };
  }

  /** SQLite settings in force (for health output and tests). */
  settings(): { journalMode: string; synchronous: number } {
    return { journalMode: this.db.pragma('journal_mode', { simple: true }) as string, synchronous: this.db.pragma('synchronous', { simple: true }) as number };
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** What replaces a person's name in their tombstoned events. */
export const ERASED_NAME = '[erased]';

/**
 * An event about an erased person as it stays in the log: the name becomes ERASED_NAME, the
 * identity id becomes `token` ('erased:<erasure id>', the same for all of one person's events, so
 * the history still counts passages), and what could show or name them goes (snapshot id,
 * consent, the cluster id they were seen under). Type, time, camera, gate, track, reason, scores
 * and the rest of the decision stay. Pure and idempotent.
 */
export function tombstoneEvent(e: Event, token: string): Event {
  const data: Record<string, unknown> = { ...(e.data as Record<string, unknown>) };
  if ('name' in data) data.name = ERASED_NAME;
  for (const k of ['snapshotId', 'consent', 'unknownId', 'metadata']) delete data[k];
  data.erased = true;
  const out = { ...e, data } as Event;
  if (e.identityId !== undefined) (out as { identityId?: string }).identityId = token;
  return canonical(out, e.id);
}

function parseRow(row: Row): Event {
  const body = JSON.parse(row.body) as Omit<Event, 'id'>;
  return canonical(body, row.id);
}
