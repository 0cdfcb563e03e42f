import Database from 'better-sqlite3';
import { DataKeys, kekId, newDataKey, PrivacyError, unlockKeyring, wrapKey, type RecordPlace, type WrappedKey } from '../privacy/index.ts';
import { GalleryError } from './errors.ts';

/**
 * Encryption at rest in the gallery file (schema v3): which mode the file is in (`meta`), its
 * wrapped data keys (`data_keys`), the one-transaction switch of a plaintext gallery to encrypted,
 * and the steps of a key rotation. The records themselves are sealed and opened by GalleryStore
 * (store.ts) with the DataKeys unlocked here.
 */

/** The key-encryption key the caller loaded (src/privacy's loadKek) and where it came from. */
export interface GalleryEncryption {
  readonly kek: Buffer;
  /** For errors and logs: 'key file /etc/facegate/facegate.key', never the key. */
  readonly source: string;
}

/** The columns that hold biometric data, and their places in the envelope's AAD. */
export const SEALED_COLUMNS = [
  { table: 'templates', column: 'embedding', key: 'id' },
  { table: 'unknowns', column: 'centroid', key: 'id' },
  { table: 'crops', column: 'pixels', key: 'id' },
  { table: 'negative_anchors', column: 'embedding', key: 'id' },
] as const;

export type SealedTable = (typeof SEALED_COLUMNS)[number]['table'];

export function place(table: SealedTable, id: string): RecordPlace {
  return { table, column: table === 'unknowns' ? 'centroid' : table === 'crops' ? 'pixels' : 'embedding', id };
}

export function isEncrypted(db: Database.Database): boolean {
  return db.prepare<[], string>("SELECT value FROM meta WHERE key = 'encryption'").pluck().get() === 'on';
}

/** Whether a gallery file is encrypted, read-only and without migrating or unlocking anything. */
export function galleryFileEncrypted(path: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    return hasMeta && isEncrypted(db);
  } finally {
    db.close();
  }
}

export function readWraps(db: Database.Database): WrappedKey[] {
  return db
    .prepare<[], { key_id: number; kek_id: string; wrapped: Buffer; created_at: number }>('SELECT key_id, kek_id, wrapped, created_at FROM data_keys ORDER BY key_id, kek_id')
    .all()
    .map((r) => ({ keyId: r.key_id, kekId: r.kek_id, wrapped: r.wrapped, createdAt: r.created_at }));
}

export function insertWraps(db: Database.Database, wraps: readonly WrappedKey[]): void {
  const ins = db.prepare('INSERT OR REPLACE INTO data_keys (key_id, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?)');
  for (const w of wraps) ins.run(w.keyId, w.kekId, w.wrapped, w.createdAt);
}

/**
 * Bring the file to the mode the caller asks for and return its data keys (undefined: plaintext).
 * Encrypted file + no key: PRIVACY_MISSING_KEY (never an empty or unreadable gallery). Encrypted
 * file + another key: PRIVACY_WRONG_KEY, found on the wrapped keys before any record is read.
 * Plaintext file + a key: every template, centroid and crop is encrypted in ONE transaction (a
 * crash leaves the plaintext gallery as it was), then the freed plaintext pages are zeroed
 * (secure_delete is on) and the WAL is checkpointed and truncated so no plaintext copy lingers.
 */
export function setUpEncryption(db: Database.Database, path: string, enc: GalleryEncryption | undefined, now: number): DataKeys | undefined {
  const encrypted = isEncrypted(db);
  if (!enc) {
    if (!encrypted) return undefined;
    throw new PrivacyError('PRIVACY_MISSING_KEY', `gallery ${path} is encrypted and no key was given`, {
      context: { path },
      hint: 'the service: turn privacy.encryption on in its config with the key that encrypted it; a command: pass --config FILE instead of --db (the key comes from the config); nothing runs on an unreadable gallery',
    });
  }
  if (encrypted) {
    const keys = unlockKeyring(readWraps(db), enc.kek, `gallery ${path} (key from ${enc.source})`);
    if (!keys) throw new PrivacyError('PRIVACY_CORRUPT', `gallery ${path} is marked encrypted but holds no data keys`, { context: { path }, hint: 'restore the gallery from a backup' });
    return keys;
  }
  const key = newDataKey();
  const keys = new DataKeys(new Map([[1, key]]), 1);
  db.transaction(() => {
    db.prepare('DELETE FROM data_keys').run();
    insertWraps(db, [wrapKey(enc.kek, 1, key, now)]);
    for (const c of SEALED_COLUMNS) {
      const rows = db.prepare<[], { id: string; blob: Buffer }>(`SELECT ${c.key} AS id, ${c.column} AS blob FROM ${c.table}`).all();
      const upd = db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${c.key} = ?`);
      for (const r of rows) upd.run(keys.seal(r.blob, place(c.table, r.id)), r.id);
    }
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('encryption', 'on')").run();
  }).immediate();
  scrubFreedPages(db);
  return keys;
}

/** After plaintext was overwritten or deleted: copy the WAL into the file and truncate it. */
export function scrubFreedPages(db: Database.Database): void {
  // secure_delete zeroes freed cells and pages as they are freed; the checkpoint moves those
  // zeroed pages into the main file and TRUNCATE drops the WAL's older copies.
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/** The data key id in an envelope as the 4 bytes SQL can compare against (substr(blob, 2, 4)). */
export function keyIdBytes(keyId: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(keyId);
  return b;
}

/**
 * Rotation step 1: wrap every data key of the file under `newKek` too (kept beside the wraps
 * under the current KEK, so the file opens with either), and with `newDataKey` add a fresh data
 * key, wrapped under both, which becomes the active one. One transaction.
 */
export function addWraps(db: Database.Database, path: string, kek: Buffer, newKek: Buffer, opts: { readonly newDataKey: boolean; readonly now: number }): { keyIds: number[]; active: number } {
  return db
    .transaction(() => {
      if (!isEncrypted(db)) throw notEncrypted(path);
      const keys = unlockKeyring(readWraps(db), kek, `gallery ${path}`) as DataKeys;
      const wraps: WrappedKey[] = keys.ids().map((id) => wrapKey(newKek, id, keys.key(id) as Buffer, opts.now));
      let active = keys.active;
      if (opts.newDataKey) {
        active = keys.active + 1;
        const fresh = newDataKey();
        wraps.push(wrapKey(kek, active, fresh, opts.now), wrapKey(newKek, active, fresh, opts.now));
      }
      insertWraps(db, wraps);
      return { keyIds: [...keys.ids(), ...(active !== keys.active ? [active] : [])], active };
    })
    .immediate();
}

/** Rotation's last step: forget the wraps under every KEK but `kek` (the one now in force). */
export function dropOtherWraps(db: Database.Database, kek: Buffer): number {
  const kid = kekId(kek);
  return db.transaction(() => db.prepare('DELETE FROM data_keys WHERE kek_id <> ?').run(kid).changes).immediate();
}

/**
 * Re-encrypt every record not under the active data key, `batch` rows per transaction (a kill
 * between batches leaves each row readable under the key its envelope names); then, in the
 * transaction that finds none left, retire the other data keys. Returns the rows rewritten.
 */
export function reencryptRows(db: Database.Database, path: string, kek: Buffer, opts: { readonly batch: number; readonly onBatch?: (rows: number) => void }): { rows: number; retired: number[] } {
  let rows = 0;
  for (;;) {
    const done = db
      .transaction(() => {
        const keys = unlockKeyring(readWraps(db), kek, `gallery ${path}`) as DataKeys;
        const active = keyIdBytes(keys.active);
        let n = 0;
        for (const c of SEALED_COLUMNS) {
          if (n >= opts.batch) break;
          const stale = db.prepare<[Buffer, number], { id: string; blob: Buffer }>(`SELECT ${c.key} AS id, ${c.column} AS blob FROM ${c.table} WHERE substr(${c.column}, 2, 4) <> ? LIMIT ?`).all(active, opts.batch - n);
          const upd = db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${c.key} = ?`);
          for (const r of stale) {
            const p = place(c.table, r.id);
            upd.run(keys.seal(keys.open(r.blob, p), p), r.id);
          }
          n += stale.length;
        }
        if (n > 0) return { n, retired: undefined };
        const retired = keys.ids().filter((id) => id !== keys.active);
        db.prepare('DELETE FROM data_keys WHERE key_id <> ?').run(keys.active);
        return { n, retired };
      })
      .immediate();
    rows += done.n;
    if (done.n > 0) opts.onBatch?.(rows);
    if (done.retired) {
      scrubFreedPages(db);
      return { rows, retired: done.retired };
    }
  }
}

function notEncrypted(path: string): GalleryError {
  return new GalleryError('GALLERY_BAD_ARGUMENT', `gallery ${path} is not encrypted`, { context: { path }, hint: 'open it once with privacy.encryption.enabled: true (it is encrypted in place), then rotate' });
}
