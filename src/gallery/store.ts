import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { prepareCropStatements, type CropStatements } from './crops.ts';
import type { SearchTuning } from './embedding-index.ts';
import { GalleryError } from './errors.ts';
import { assertGalleryFileUsable } from './file-check.ts';
import { assertGalleryOwner, migrate } from './schema.ts';
import { prepareStatements, type Statements } from './statements.ts';

/**
 * The SQLite side of the gallery: opening the file (checks, WAL, migrations), the prepared
 * statements, write transactions and the change log that other connections catch up from.
 */

export type WriteOperation = 'enroll' | 'addTemplates' | 'reembed' | 'dropOtherModels' | 'removeTemplate' | 'rename' | 'setGroups' | 'setMetadata' | 'remove' | 'upsertUnknown' | 'promoteUnknown' | 'removeUnknown' | 'mergeUnknowns' | 'pruneUnknowns';

export interface GalleryOptions {
  /** Create the file (and its folder) when it does not exist (default true). */
  readonly create?: boolean;
  /**
   * SQLite `synchronous` for identity and template changes. 'full' (default): every commit is
   * fsynced, so an enrollment the operator saw succeed survives a power cut. 'normal': commits
   * survive a crash of the process but the last ones may be lost on power loss. Unknown sightings
   * are always written at 'normal' (see upsertUnknown).
   */
  readonly synchronous?: 'full' | 'normal';
  /** Clock for created/updated times (ms since the epoch). */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Test seam: called inside every write transaction after its rows are written, before COMMIT. */
  readonly beforeCommit?: (operation: WriteOperation) => void;
  /** Search internals, for tests and benchmarks. */
  readonly search?: Partial<SearchTuning> & { readonly useSimd?: boolean };
  /** Old-centroid weight cap when an unknown is seen again (default 50 sightings). */
  readonly unknownCentroidWeight?: number;
}

/** Change-log entries kept for other connections to catch up from. */
export const KEEP_CHANGES = 10_000;

export const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

export function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function fromBlob(b: Buffer, dim: number, what: string): Float32Array {
  if (b.byteLength !== dim * 4) throw new GalleryError('GALLERY_CORRUPT', `${what}: ${b.byteLength} bytes for ${dim} dimensions`, { hint: 'restore the gallery from a backup' });
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, dim);
  const copy = new Float32Array(dim);
  new Uint8Array(copy.buffer).set(b);
  return copy;
}

export function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new GalleryError('GALLERY_CORRUPT', `${what} is not valid JSON`, { cause: e });
  }
}

/** One open gallery file: its connection, statements and where this connection's memory stands. */
export class GalleryStore {
  readonly db: Database.Database;
  readonly path: string;
  readonly opts: GalleryOptions;
  readonly now: () => number;
  readonly stmt: Statements;
  readonly cropStmt: CropStatements;
  /** SQLite's data_version when this connection's memory last caught up with the file. */
  dataVersion = 0;
  /** The newest change-log entry this connection's memory reflects. */
  changeSeq = 0;
  fullLoads = 0;
  incrementalSyncs = 0;
  private closed = false;

  constructor(db: Database.Database, path: string, opts: GalleryOptions) {
    this.db = db;
    this.path = path;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.stmt = prepareStatements(db);
    this.cropStmt = prepareCropStatements(db);
  }

  assertOpen(): void {
    if (this.closed) throw new GalleryError('GALLERY_CLOSED', `gallery ${this.path} is closed`, { hint: 'open it again with openGallery()' });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /**
   * Run `fn` in one IMMEDIATE transaction (the write lock up front: no upgrade deadlocks). When
   * nobody else wrote since our last sync, our own change-log entries count as seen.
   */
  write<T>(op: WriteOperation, fn: () => T): T {
    let seenUpTo: number | undefined;
    const result = this.db
      .transaction(() => {
        const inSync = (this.stmt.newestChange.get() ?? 0) === this.changeSeq;
        const r = fn();
        this.opts.beforeCommit?.(op);
        if (inSync) seenUpTo = this.stmt.newestChange.get() ?? 0;
        return r;
      })
      .immediate();
    if (seenUpTo !== undefined) this.changeSeq = seenUpTo;
    return result;
  }

  /** Run `fn` (one write) at synchronous=NORMAL, then back to FULL unless the gallery runs at NORMAL. */
  withRelaxedSync<T>(fn: () => T): T {
    if (this.opts.synchronous === 'normal') return fn();
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** Log that a write touched an identity or unknown (inside the write's transaction). */
  changed(kind: 'identity' | 'unknown', ref: string): void {
    const seq = Number(this.stmt.insertChange.run(kind, ref).lastInsertRowid);
    if (seq % 1000 === 0) this.stmt.trimChanges.run(seq - KEEP_CHANGES);
  }
}

/**
 * Open (or create) a gallery file and hand its connection to `use`; the connection is closed
 * again when that fails. WAL journal (readers never block the writer, a crash never corrupts),
 * synchronous FULL by default (see GalleryOptions.synchronous), foreign keys on, and a busy
 * timeout so a CLI command and the server can write the same file in turn.
 */
export function openGalleryFile<T>(path: string, opts: GalleryOptions, use: (db: Database.Database) => T): T {
  if (typeof path !== 'string' || path.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'gallery path must be a file path or ":memory:"');
  if (endianness() !== 'LE') throw new GalleryError('GALLERY_OPEN_FAILED', 'the gallery stores little-endian floats; this machine is big-endian');
  const memory = path === ':memory:';
  const create = opts.create ?? true;
  // An existing file must already be a gallery (an empty or foreign file is refused, never
  // silently turned into an empty gallery); a missing one is created when allowed.
  const existed = memory ? false : assertGalleryFileUsable(path).existed;
  if (!memory && !create && !existed) {
    throw new GalleryError('GALLERY_OPEN_FAILED', `no gallery at ${path}`, { context: { path }, hint: 'enroll someone first, or pass --db with the gallery file the server uses' });
  }
  let db: Database.Database;
  try {
    if (!memory && create) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !create });
  } catch (e) {
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot open gallery ${path}: ${e instanceof Error ? e.message : String(e)}`, { context: { path }, hint: 'check the path and its permissions', cause: e });
  }
  try {
    db.pragma('busy_timeout = 5000');
    assertGalleryOwner(db, path, existed);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (!memory && mode !== 'wal') throw new GalleryError('GALLERY_OPEN_FAILED', `gallery ${path} cannot use WAL journaling (got ${String(mode)})`, { hint: 'put the gallery on a local filesystem (WAL needs shared memory; network filesystems lack it)' });
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    return use(db);
  } catch (e) {
    db.close();
    if (e instanceof GalleryError) throw e;
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot open gallery ${path}: ${e instanceof Error ? e.message : String(e)}`, { context: { path }, hint: 'is it a facegate gallery file? (SQLite)', cause: e });
  }
}
