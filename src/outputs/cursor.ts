/**
 * Where each sink stands in the event log: one row per sink (the id of the last event it has
 * delivered), plus a small key/value area per sink for what it must remember across restarts
 * (e.g. which Home Assistant entities it announced). A separate SQLite file owned by this stage,
 * beside the event log: the log's schema stays the events' alone, and a sink's bookkeeping can
 * never block an append.
 *
 * The pure cursor arithmetic is at the top (no I/O); CursorStore is the thin SQLite wrapper.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OutputsError } from './errors.ts';

/** Events the sink still has to see: ids above its cursor up to the log head. */
export function sinkLag(headId: number, cursor: number): number {
  return Math.max(0, Math.floor(headId) - Math.floor(cursor));
}

/**
 * The cursor a sink starts from. A new sink starts at the head (it does not replay the whole
 * history into a broker) unless it asks for the beginning (the fleet outbox); a stored cursor above the head (the log was replaced) is clamped to it,
 * so the sink neither skips nor waits for ids that the new log has not reached.
 */
export function startCursor(stored: number | undefined, headId: number, firstStart: 'head' | 'beginning' = 'head'): number {
  if (stored === undefined || !Number.isFinite(stored)) return firstStart === 'beginning' ? 0 : Math.max(0, headId);
  return Math.max(0, Math.min(Math.floor(stored), headId));
}

/**
 * The cursor after a page was handled: the page's last id (every event up to it was delivered or
 * was not for this sink). Never moves back.
 */
export function advanceCursor(cursor: number, pageIds: readonly number[]): number {
  let next = cursor;
  for (const id of pageIds) if (id > next) next = id;
  return next;
}

/** The cursor file for an event log: beside it, `outputs.sqlite`; in memory for an in-memory log. */
export function cursorStorePath(eventLogPath: string): string {
  return eventLogPath === ':memory:' ? ':memory:' : join(dirname(eventLogPath), 'outputs.sqlite');
}

export class CursorStore {
  readonly path: string;
  private readonly db: Database.Database;

  constructor(path: string) {
    this.path = path;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      // A lost cursor write means a few events delivered twice (ids tell them apart): NORMAL is enough.
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS sink_cursors (sink TEXT PRIMARY KEY, last_id INTEGER NOT NULL, updated_ms REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS sink_state (sink TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (sink, key));
      `);
    } catch (e) {
      throw new OutputsError('SINK_CURSOR_FAILED', `cannot open the sink cursor store ${path}: ${e instanceof Error ? e.message : String(e)}`, {
        context: { path },
        hint: 'check that the folder of events.db exists and is writable',
        cause: e,
      });
    }
  }

  get(sink: string): number | undefined {
    const row = this.db.prepare('SELECT last_id FROM sink_cursors WHERE sink = ?').get(sink) as { last_id: number } | undefined;
    return row?.last_id;
  }

  set(sink: string, lastId: number, nowMs: number): void {
    this.db.prepare('INSERT INTO sink_cursors (sink, last_id, updated_ms) VALUES (?, ?, ?) ON CONFLICT(sink) DO UPDATE SET last_id = excluded.last_id, updated_ms = excluded.updated_ms').run(sink, lastId, nowMs);
  }

  getState(sink: string, key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM sink_state WHERE sink = ? AND key = ?').get(sink, key) as { value: string } | undefined;
    return row?.value;
  }

  setState(sink: string, key: string, value: string): void {
    this.db.prepare('INSERT INTO sink_state (sink, key, value) VALUES (?, ?, ?) ON CONFLICT(sink, key) DO UPDATE SET value = excluded.value').run(sink, key, value);
  }

  /** The sink's state keys that start with `prefix`. */
  stateKeys(sink: string, prefix: string): string[] {
    const rows = this.db.prepare('SELECT key FROM sink_state WHERE sink = ? AND substr(key, 1, ?) = ? ORDER BY key').all(sink, prefix.length, prefix) as { key: string }[];
    return rows.map((r) => r.key);
  }

  deleteState(sink: string, key: string): void {
    this.db.prepare('DELETE FROM sink_state WHERE sink = ? AND key = ?').run(sink, key);
  }

  /**
   * Take over the rows of an older cursor file (the fleet's `fleet.sqlite` of earlier versions) and
   * remove it. A row this store already has wins: it is newer. Safe to repeat after a crash at
   * any point (the copy is one transaction; the old file goes only after it committed).
   */
  adopt(legacyPath: string): number {
    if (this.path === ':memory:' || !existsSync(legacyPath)) return 0;
    let copied = 0;
    try {
      const old = new Database(legacyPath, { fileMustExist: true });
      try {
        const has = (t: string): boolean => old.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
        const cursorRows = has('sink_cursors') ? (old.prepare('SELECT sink, last_id, updated_ms FROM sink_cursors').all() as { sink: string; last_id: number; updated_ms: number }[]) : [];
        const stateRows = has('sink_state') ? (old.prepare('SELECT sink, key, value FROM sink_state').all() as { sink: string; key: string; value: string }[]) : [];
        const insertCursor = this.db.prepare('INSERT OR IGNORE INTO sink_cursors (sink, last_id, updated_ms) VALUES (?, ?, ?)');
        const insertState = this.db.prepare('INSERT OR IGNORE INTO sink_state (sink, key, value) VALUES (?, ?, ?)');
        this.db.transaction(() => {
          for (const r of cursorRows) copied += insertCursor.run(r.sink, r.last_id, r.updated_ms).changes;
          for (const r of stateRows) copied += insertState.run(r.sink, r.key, r.value).changes;
        })();
      } finally {
        old.close();
      }
      for (const suffix of ['', '-wal', '-shm']) rmSync(legacyPath + suffix, { force: true });
    } catch (e) {
      throw new OutputsError('SINK_CURSOR_FAILED', `cannot take over the older cursor file ${legacyPath}: ${e instanceof Error ? e.message : String(e)}`, {
        context: { path: legacyPath, into: this.path },
        hint: 'check that the file is readable and the folder writable; the file is left as it was',
        cause: e,
      });
    }
    return copied;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
