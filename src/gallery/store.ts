import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { isPrivacyError, type DataKeys } from '../privacy/index.ts';
import { prepareCropStatements, type CropStatements } from './crops.ts';
import type { SearchTuning } from './embedding-index.ts';
import { place, setUpEncryption, type GalleryEncryption, type SealedTable } from './encryption.ts';
import { GalleryError } from './errors.ts';
import { assertGalleryFileUsable } from './file-check.ts';
import { assertGalleryOwner, migrate } from './schema.ts';
import { prepareStatements, type Statements } from './statements.ts';

/**
 * The SQLite side of the gallery: opening the file (checks, WAL, migrations), the prepared
 * statements, write transactions and the change log that other connections catch up from.
 */

export type WriteOperation = 'enroll' | 'addTemplates' | 'reembed' | 'dropOtherModels' | 'removeTemplate' | 'rename' | 'setGroups' | 'setMetadata' | 'remove' | 'upsertUnknown' | 'promoteUnknown' | 'removeUnknown' | 'mergeUnknowns' | 'pruneUnknowns' | 'setValidUntil' | 'erasureJournal' | 'erase' | 'addNegativeAnchors' | 'dropCrops';

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
  /**
   * How much closer a probe must be to an identity's templates than to its 'not this person'
   * anchors to keep matching it (default DEFAULT_NEGATIVE_MARGIN, negative-anchors.ts).
   */
  readonly negativeMargin?: number;
  /**
   * Keep the aligned crops of enrollment photos (default true). False (privacy.keepEnrollmentCrops):
   * enroll and addTemplates store the templates only and drop the crops they are given, so no
   * face image of an enrolled person is written; crops already stored stay (dropCrops removes them).
   * A function is read at each write, so a config reload applies at once.
   */
  readonly keepCrops?: boolean | (() => boolean);
  /** Old-centroid weight cap when an unknown is seen again (default 50 sightings). */
  readonly unknownCentroidWeight?: number;
  /**
   * Encryption at rest (src/privacy): templates, unknowns' centroids and crops are stored sealed
   * under data keys wrapped by this KEK. A plaintext file is encrypted in place at open; an
   * encrypted file without it, or with another key, is refused (PrivacyError).
   */
  readonly encryption?: GalleryEncryption;
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
  /** The unwrapped data keys of an encrypted file; undefined for a plaintext one. */
  private keys: DataKeys | undefined;
  private readonly keyState: Database.Statement<[number], { newest: number | null; mine: number | null }> | undefined;

  constructor(db: Database.Database, path: string, opts: GalleryOptions, keys?: DataKeys) {
    this.db = db;
    this.path = path;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.stmt = prepareStatements(db);
    this.cropStmt = prepareCropStatements(db);
    this.keys = keys;
    this.keyState = keys ? db.prepare<[number], { newest: number | null; mine: number | null }>('SELECT max(key_id) AS newest, sum(key_id = ?) AS mine FROM data_keys') : undefined;
  }

  /** Whether enrollment stores the photos' aligned crops now (GalleryOptions.keepCrops). */
  get keepsCrops(): boolean {
    const k = this.opts.keepCrops;
    return typeof k === 'function' ? k() : k !== false;
  }

  get encrypted(): boolean {
    return this.keys !== undefined;
  }

  /** A template's embedding as stored: sealed to its row when the file is encrypted. */
  sealTemplate(id: string, v: Float32Array): Buffer {
    return this.seal('templates', id, toBlob(v));
  }

  sealCentroid(id: string, v: Float32Array): Buffer {
    return this.seal('unknowns', id, toBlob(v));
  }

  sealAnchor(id: string, v: Float32Array): Buffer {
    return this.seal('negative_anchors', id, toBlob(v));
  }

  anchor(id: string, blob: Buffer, dim: number): Float32Array {
    return fromBlob(this.unseal('negative_anchors', id, blob), dim, `negative anchor ${id}`);
  }

  sealCrop(id: string, pixels: Uint8Array): Buffer {
    return this.seal('crops', id, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  }

  /** A stored embedding back as floats (decrypted when sealed); GALLERY_CORRUPT on a wrong length. */
  template(id: string, blob: Buffer, dim: number): Float32Array {
    return fromBlob(this.unseal('templates', id, blob), dim, `template ${id}`);
  }

  centroid(id: string, blob: Buffer, dim: number): Float32Array {
    return fromBlob(this.unseal('unknowns', id, blob), dim, `unknown ${id}`);
  }

  cropPixels(id: string, blob: Buffer): Buffer {
    return this.unseal('crops', id, blob);
  }

  private seal(table: SealedTable, id: string, plain: Buffer): Buffer {
    return this.keys ? this.keys.seal(plain, place(table, id)) : plain;
  }

  private unseal(table: SealedTable, id: string, blob: Buffer): Buffer {
    if (!this.keys) return blob;
    const p = place(table, id);
    try {
      return this.keys.open(blob, p);
    } catch (e) {
      // Sealed under a data key made after this connection opened (`keys rotate --reencrypt`
      // from another process): reload the keyring once and try again.
      if (!this.reloadKeys()) throw e;
      return this.keys.open(blob, p);
    }
  }

  /** Re-read the wrapped keys with the KEK this connection opened with; false when nothing new. */
  private reloadKeys(): boolean {
    const enc = this.opts.encryption;
    if (!enc || !this.keys) return false;
    const before = this.keys.ids().join(',');
    let fresh: DataKeys | undefined;
    try {
      fresh = setUpEncryption(this.db, this.path, enc, this.now());
    } catch {
      return false;
    }
    if (!fresh || fresh.ids().join(',') === before) return false;
    this.keys = fresh;
    return true;
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
        this.assertKeyCurrent();
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

  /**
   * Never seal a new record under a data key another process retired (`keys rotate --reencrypt`
   * while this one runs): it would be unreadable. Reload the keyring, or refuse the write.
   */
  private assertKeyCurrent(): void {
    if (!this.keys || !this.keyState) return;
    const current = (): boolean => {
      const k = this.keyState?.get((this.keys as DataKeys).active);
      return (k?.mine ?? 0) > 0 && (this.keys as DataKeys).active >= (k?.newest ?? 0);
    };
    if (current() || (this.reloadKeys() && current())) return;
    throw new GalleryError('GALLERY_OPEN_FAILED', `gallery ${this.path}: its data keys were rotated by another process and this one cannot unwrap the new ones`, {
      context: { path: this.path },
      hint: 'restart the service (or the command) with the current key',
    });
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
export function openGalleryFile<T>(path: string, opts: GalleryOptions, use: (db: Database.Database, keys: DataKeys | undefined) => T): T {
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
    // Deleted and overwritten records are zeroed in the file, not left in free pages (biometric
    // data must not outlive its erasure, and an encrypted gallery must hold no plaintext).
    db.pragma('secure_delete = ON');
    migrate(db, path);
    const keys = setUpEncryption(db, path, opts.encryption, (opts.now ?? Date.now)());
    return use(db, keys);
  } catch (e) {
    db.close();
    if (e instanceof GalleryError || isPrivacyError(e)) throw e;
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot open gallery ${path}: ${e instanceof Error ? e.message : String(e)}`, { context: { path }, hint: 'is it a facegate gallery file? (SQLite)', cause: e });
  }
}
