/**
 * Face snapshots for events: a JPEG crop of the face (padded box) and a downscaled JPEG of the
 * whole frame, under one id. Ids are `<time base36, 9 chars>-<10 hex>`; `path()` accepts only
 * ids matching SNAPSHOT_ID_PATTERN (lowercase letters, digits, _ and -, 8..64 chars), so `..`,
 * slashes, absolute paths and percent-encodings never reach the file system, and it checks the
 * resolved path stays inside the store's directory. Files are written to a temp name and renamed,
 * so a reader never sees half a JPEG.
 *
 * With encryption (privacy.encryption), each JPEG is stored as `<id>.<kind>.jpg.enc`: one
 * AES-256-GCM envelope (src/privacy) bound to its id and kind, under a data key wrapped by the
 * operator's key-encryption key in `keyring.json` beside the files. read() decrypts; no plaintext
 * image is written. `path()` still names the plain `.jpg`, which does not exist then: readers by
 * path find nothing rather than ciphertext; use read().
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DataKeys, envelopeKeyId, fsyncDir, kekId, newDataKey, type WrappedKey, PrivacyError, readKeyringFile, unlockKeyring, wrapKey, writeKeyringFile, type RecordPlace } from '../privacy/index.ts';
import { loadSharp } from '../image/sharp.ts';
import type { Box, RgbImage } from '../types.ts';
import { EventsError } from './errors.ts';
import { SNAPSHOT_ID_PATTERN } from './types.ts';

export type SnapshotKind = 'face' | 'frame';

export interface SnapshotStoreOptions {
  /** Snapshots older than this are removed by prune(). */
  readonly retentionMs: number;
  /** At most this many snapshots (face + frame pairs) are kept by prune(), newest first. */
  readonly maxFiles: number;
  /** The frame JPEG is scaled down to at most this width (default 640). */
  readonly frameMaxWidth?: number | undefined;
  /** Padding around the face box, as a fraction of its larger side (default 0.25). */
  readonly cropPadding?: number | undefined;
  /** JPEG quality 1..100 (default 85). */
  readonly quality?: number | undefined;
  /**
   * Obscure (pixelate, then blur) the other faces of the frame (save's `others`) in both JPEGs, the subject's box left
   * as it is (events.snapshots.blurOthers). A function is read at each save (a reload applies).
   */
  readonly blurOthers?: boolean | (() => boolean) | undefined;
  /** Encrypt the files under a data key wrapped by this KEK (src/privacy's loadKek). */
  readonly encryption?: { readonly kek: Buffer; readonly source: string } | undefined;
}

/** The keyring of an encrypted snapshot folder (wrapped data keys only). */
export const SNAPSHOT_KEYRING = 'keyring.json';
const ENC = '.enc';

function snapshotPlace(id: string, kind: SnapshotKind): RecordPlace {
  return { table: 'snapshots', column: kind, id };
}

/**
 * The data keys of a snapshot folder: unlocked from its keyring, or a new keyring (one key) when
 * the folder has none. A keyring without a KEK is refused: the service must not run on with
 * snapshots it cannot read, nor start writing plaintext beside them.
 */
export function snapshotKeys(dir: string, enc: SnapshotStoreOptions['encryption'], now = Date.now()): DataKeys | undefined {
  const file = join(dir, SNAPSHOT_KEYRING);
  const wraps = readKeyringFile(file);
  if (!enc) {
    if (!wraps) return undefined;
    throw new PrivacyError('PRIVACY_MISSING_KEY', `the snapshot folder ${dir} is encrypted (${SNAPSHOT_KEYRING}) and no key was given`, {
      context: { dir },
      hint: 'turn privacy.encryption on with the key that encrypted it',
    });
  }
  const keys = wraps ? unlockKeyring(wraps, enc.kek, `snapshot folder ${dir} (key from ${enc.source})`) : undefined;
  if (keys) return keys;
  const key = newDataKey();
  writeKeyringFile(file, [wrapKey(enc.kek, 1, key, now)]);
  return new DataKeys(new Map([[1, key]]), 1);
}

export interface SnapshotInfo {
  readonly id: string;
  readonly timeMs: number;
}

const FILE = /^([a-z0-9_-]{8,64})\.(face|frame)\.jpg(?:\.enc)?$/;
const TMP = /\.tmp-[0-9a-f]+$/;

export function isSnapshotId(id: unknown): id is string {
  return typeof id === 'string' && SNAPSHOT_ID_PATTERN.test(id);
}

/** The capture time encoded in an id (undefined for an id this store did not make). */
export function snapshotTime(id: string): number | undefined {
  const m = /^([0-9a-z]{9})-[0-9a-f]{10}$/.exec(id);
  if (!m) return undefined;
  const t = parseInt(m[1], 36);
  return Number.isFinite(t) ? t : undefined;
}

/** The face crop rectangle: the box padded, clamped to the image, at least 1x1. */
export function cropRect(box: Box, width: number, height: number, padding = 0.25): { left: number; top: number; width: number; height: number } | undefined {
  const [x1, y1, x2, y2] = box;
  if (![x1, y1, x2, y2].every(Number.isFinite) || x2 <= x1 || y2 <= y1) return undefined;
  const pad = Math.max(x2 - x1, y2 - y1) * padding;
  const left = Math.max(0, Math.floor(x1 - pad));
  const top = Math.max(0, Math.floor(y1 - pad));
  const right = Math.min(width, Math.ceil(x2 + pad));
  const bottom = Math.min(height, Math.ceil(y2 + pad));
  if (right - left < 1 || bottom - top < 1) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}

/** How far a bystander's region reaches beyond the detector's box (hair, ears, chin), as a fraction of its larger side. */
const BLUR_PADDING = 0.2;
/** Blocks across a pixelated face: few enough that no embedder or person can identify it. */
const BLUR_BLOCKS = 5;

/**
 * A copy of an RGB frame with every box of `others` (padded) obscured: pixelated into about
 * BLUR_BLOCKS blocks across (each its mean colour: no detail finer than a block survives), then
 * box-blurred over a block's width so the block edges leave no pattern either. Pixels inside
 * `keep` (the subject's box) are left as they are, also where a bystander's region overlaps it.
 * Pure; undefined when no box lies in the frame (nothing to change: the caller uses the frame).
 */
export function obscureOthers(pixels: Uint8Array, width: number, height: number, others: readonly Box[], keep: Box): Uint8Array | undefined {
  const rects = others.map((b) => cropRect(b, width, height, BLUR_PADDING)).filter((r): r is NonNullable<typeof r> => r !== undefined);
  if (rects.length === 0) return undefined;
  const out = new Uint8Array(pixels.subarray(0, width * height * 3));
  const [kx1, ky1, kx2, ky2] = keep;
  const kept = (x: number, y: number): boolean => x + 1 > kx1 && x < kx2 && y + 1 > ky1 && y < ky2;
  for (const r of rects) {
    const block = Math.max(2, Math.ceil(Math.max(r.width, r.height) / BLUR_BLOCKS));
    const [x0, y0, x1, y1] = [r.left, r.top, r.left + r.width, r.top + r.height];
    // The region as floats, pixelated; read from `out`, so where two regions overlap the second
    // starts from the first one's blur and leaves no sharp seam.
    const w = r.width;
    const h = r.height;
    const buf = new Float32Array(w * h * 3);
    for (let by = y0; by < y1; by += block) {
      const yEnd = Math.min(by + block, y1);
      for (let bx = x0; bx < x1; bx += block) {
        const xEnd = Math.min(bx + block, x1);
        const sum = [0, 0, 0];
        let n = 0;
        for (let y = by; y < yEnd; y++) {
          for (let x = bx; x < xEnd; x++) {
            const i = (y * width + x) * 3;
            sum[0] += out[i];
            sum[1] += out[i + 1];
            sum[2] += out[i + 2];
            n++;
          }
        }
        for (let y = by; y < yEnd; y++) for (let x = bx; x < xEnd; x++) for (let c = 0; c < 3; c++) buf[((y - y0) * w + (x - x0)) * 3 + c] = sum[c] / n;
      }
    }
    // Separable box blur (window 2 * radius + 1, clamped to the region), rows then columns.
    const radius = block;
    const line = (get: (k: number, c: number) => number, set: (k: number, c: number, v: number) => void, len: number): void => {
      const tmp = new Float32Array(len * 3);
      for (let c = 0; c < 3; c++) {
        const prefix = new Float64Array(len + 1);
        for (let k = 0; k < len; k++) prefix[k + 1] = prefix[k] + get(k, c);
        for (let k = 0; k < len; k++) {
          const a = Math.max(0, k - radius);
          const b = Math.min(len, k + radius + 1);
          tmp[k * 3 + c] = (prefix[b] - prefix[a]) / (b - a);
        }
      }
      for (let k = 0; k < len; k++) for (let c = 0; c < 3; c++) set(k, c, tmp[k * 3 + c]);
    };
    for (let y = 0; y < h; y++) line((k, c) => buf[(y * w + k) * 3 + c], (k, c, v) => (buf[(y * w + k) * 3 + c] = v), w);
    for (let x = 0; x < w; x++) line((k, c) => buf[(k * w + x) * 3 + c], (k, c, v) => (buf[(k * w + x) * 3 + c] = v), h);
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (kept(x, y)) continue;
        const i = (y * width + x) * 3;
        const j = ((y - y0) * w + (x - x0)) * 3;
        out[i] = Math.round(buf[j]);
        out[i + 1] = Math.round(buf[j + 1]);
        out[i + 2] = Math.round(buf[j + 2]);
      }
    }
  }
  return out;
}

/**
 * Rotation step 1 for a snapshot folder (see src/gallery/encryption.ts addWraps): every data key
 * also wrapped under `newKek`, and with `newDataKey` a fresh active key wrapped under both. One
 * atomic keyring write. Returns the keys as `newKek` unlocks them (undefined: not encrypted).
 */
export function addSnapshotWraps(dir: string, kek: Buffer, newKek: Buffer, opts: { readonly newDataKey: boolean; readonly now: number }): DataKeys | undefined {
  const file = join(resolve(dir), SNAPSHOT_KEYRING);
  const wraps = readKeyringFile(file);
  if (!wraps) return undefined;
  const keys = unlockKeyring(wraps, kek, `snapshot folder ${dir}`) as DataKeys;
  const newId = kekId(newKek);
  const added: WrappedKey[] = keys.ids().map((id) => wrapKey(newKek, id, keys.key(id) as Buffer, opts.now));
  if (opts.newDataKey) {
    const fresh = newDataKey();
    added.push(wrapKey(kek, keys.active + 1, fresh, opts.now), wrapKey(newKek, keys.active + 1, fresh, opts.now));
  }
  const replaced = new Set(added.map((w) => `${w.keyId}/${w.kekId}`));
  const next = [...wraps.filter((w) => !replaced.has(`${w.keyId}/${w.kekId}`)), ...added];
  writeKeyringFile(file, next);
  return unlockKeyring(next.filter((w) => w.kekId === newId), newKek, `snapshot folder ${dir}`);
}

/** Keep only the wraps under `kek` and, with `onlyKey`, only that data key (after a re-encryption). */
export function pruneSnapshotWraps(dir: string, kek: Buffer, onlyKey?: number): void {
  const file = join(resolve(dir), SNAPSHOT_KEYRING);
  const wraps = readKeyringFile(file);
  if (!wraps) return;
  const kid = kekId(kek);
  const next = wraps.filter((w) => w.kekId === kid && (onlyKey === undefined || w.keyId === onlyKey));
  if (next.length === 0) throw new PrivacyError('PRIVACY_WRONG_KEY', `snapshot folder ${dir}: no data key is wrapped under key ${kid}; not pruning`, { context: { dir, given: kid } });
  if (next.length !== wraps.length) writeKeyringFile(file, next);
}

/** After a re-encryption: forget every data key but `active` (its wraps under every KEK stay). */
export function retireSnapshotKeys(dir: string, active: number): void {
  const file = join(resolve(dir), SNAPSHOT_KEYRING);
  const wraps = readKeyringFile(file);
  if (!wraps) return;
  const next = wraps.filter((w) => w.keyId === active);
  if (next.length === 0) throw new PrivacyError('PRIVACY_CORRUPT', `snapshot folder ${dir}: data key ${active} is not in the keyring; not retiring the others`, { context: { dir, active } });
  if (next.length !== wraps.length) writeKeyringFile(file, next);
}

export class SnapshotStore {
  readonly dir: string;
  private readonly opts: Required<SnapshotStoreOptions>;
  private keys: DataKeys | undefined;

  constructor(dir: string, opts: SnapshotStoreOptions) {
    this.dir = resolve(dir);
    this.opts = { frameMaxWidth: 640, cropPadding: 0.25, quality: 85, blurOthers: false, ...opts } as Required<SnapshotStoreOptions>;
    mkdirSync(this.dir, { recursive: true });
    this.keys = snapshotKeys(this.dir, opts.encryption);
  }

  get encrypted(): boolean {
    return this.keys !== undefined;
  }

  /** Where a snapshot's bytes are stored: the plain path, or the envelope beside it. */
  private stored(id: string, kind: SnapshotKind): string {
    return this.keys ? `${this.path(id, kind)}${ENC}` : this.path(id, kind);
  }

  /**
   * Encrypt the plain JPEGs a folder holds from before encryption was turned on (each written
   * encrypted, then the plain file removed). A no-op without encryption. Returns how many.
   */
  async encryptExisting(): Promise<number> {
    if (!this.keys) return 0;
    let n = 0;
    for (const name of await readdir(this.dir)) {
      const m = /^([a-z0-9_-]{8,64})\.(face|frame)\.jpg$/.exec(name);
      if (!m) continue;
      const plain = join(this.dir, name);
      const data = await readFile(plain).catch(() => undefined);
      if (!data) continue;
      await this.writeDurable(`${plain}${ENC}`, this.keys.seal(data, snapshotPlace(m[1], m[2] as SnapshotKind)));
      await rm(plain, { force: true });
      n++;
    }
    if (n) fsyncDir(this.dir);
    return n;
  }

  /**
   * Re-encrypt the files under `keys`' active data key (`facegate keys rotate --reencrypt`):
   * each file is rewritten atomically, so a kill leaves every file under the key its envelope
   * names, which `keys` still holds. Returns how many were rewritten.
   */
  async reencrypt(keys: DataKeys, onFile?: (done: number) => void): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.dir)) {
      const m = FILE.exec(name);
      if (!m || !name.endsWith(ENC)) continue;
      const file = join(this.dir, name);
      const p = snapshotPlace(m[1], m[2] as SnapshotKind);
      const data = await readFile(file).catch(() => undefined);
      if (!data || envelopeKeyId(data, p) === keys.active) continue;
      await this.writeDurable(file, keys.seal(keys.open(data, p), p));
      n++;
      onFile?.(n);
    }
    // The renames are durable before the caller retires the old data key.
    fsyncDir(this.dir);
    this.keys = keys;
    return n;
  }

  /**
   * The file of a snapshot. Throws EventsError SNAPSHOT_ID_INVALID for anything but a well-formed
   * id: this is the only way from an id (which may come from a client) to a path.
   */
  path(id: string, kind: SnapshotKind = 'face'): string {
    if (!isSnapshotId(id)) {
      throw new EventsError('SNAPSHOT_ID_INVALID', `invalid snapshot id ${JSON.stringify(String(id).slice(0, 80))}`, {
        hint: 'a snapshot id is 8-64 characters of a-z, 0-9, _ and - (as found in an event\'s data.snapshotId)',
      });
    }
    if (kind !== 'face' && kind !== 'frame') throw new EventsError('SNAPSHOT_ID_INVALID', `invalid snapshot kind ${JSON.stringify(String(kind))}`, { hint: "use 'face' or 'frame'" });
    const file = resolve(this.dir, `${id}.${kind}.jpg`);
    if (!file.startsWith(this.dir + sep)) throw new EventsError('SNAPSHOT_ID_INVALID', 'snapshot path escapes the store', { hint: 'use an id from an event' });
    return file;
  }

  /**
   * Write the face crop and the downscaled frame; returns the new id. `timeMs` (default now) is
   * encoded in the id and drives retention.
   */
  async save(frame: RgbImage, box: Box, opts: { timeMs?: number; others?: readonly Box[] } = {}): Promise<string> {
    const { width, height } = frame;
    if (frame.data.length < width * height * 3) throw new EventsError('SNAPSHOT_FAILED', `frame data is ${frame.data.length} bytes, ${width}x${height} RGB needs ${width * height * 3}`);
    const rect = cropRect(box, width, height, this.opts.cropPadding);
    if (!rect) throw new EventsError('SNAPSHOT_BOX_INVALID', `face box [${box.join(', ')}] does not overlap the ${width}x${height} frame`, { hint: 'pass the detection box in frame pixels' });
    const timeMs = opts.timeMs ?? Date.now();
    const id = `${Math.max(0, Math.floor(timeMs)).toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
    const raw = { raw: { width, height, channels: 3 as const } };
    const blur = typeof this.opts.blurOthers === 'function' ? this.opts.blurOthers() : this.opts.blurOthers === true;
    // Bystanders are obscured in memory, before any JPEG (and so any file) exists.
    const blurred = blur && opts.others?.length ? obscureOthers(frame.data, width, height, opts.others, box) : undefined;
    const pixels = blurred ? Buffer.from(blurred.buffer, blurred.byteOffset, width * height * 3) : Buffer.from(frame.data.buffer, frame.data.byteOffset, width * height * 3);
    try {
      const sharp = await loadSharp();
      const [face, full] = await Promise.all([
        sharp(pixels, raw).extract(rect).jpeg({ quality: this.opts.quality }).toBuffer(),
        sharp(pixels, raw).resize({ width: Math.min(width, this.opts.frameMaxWidth), withoutEnlargement: true }).jpeg({ quality: this.opts.quality }).toBuffer(),
      ]);
      await this.writeAtomic(this.stored(id, 'face'), this.keys ? this.keys.seal(face, snapshotPlace(id, 'face')) : face);
      await this.writeAtomic(this.stored(id, 'frame'), this.keys ? this.keys.seal(full, snapshotPlace(id, 'frame')) : full);
    } catch (e) {
      await Promise.all([rm(this.stored(id, 'face'), { force: true }), rm(this.stored(id, 'frame'), { force: true })]);
      if (e instanceof EventsError) throw e;
      throw new EventsError('SNAPSHOT_FAILED', `cannot write snapshot: ${e instanceof Error ? e.message : String(e)}`, { context: { dir: this.dir }, hint: 'check that the snapshot directory is writable and has space', cause: e });
    }
    return id;
  }

  private async writeAtomic(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  /**
   * writeAtomic, fsynced before the rename: used where the old bytes go away for good (the plain
   * file after its encryption, a record under a data key about to be retired), so a power cut
   * never leaves neither.
   */
  private async writeDurable(file: string, data: Buffer): Promise<void> {
    const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  }

  /**
   * The JPEG bytes (decrypted when the folder is encrypted). Throws SNAPSHOT_ID_INVALID or
   * SNAPSHOT_NOT_FOUND, or PrivacyError PRIVACY_CORRUPT for a file that fails authentication.
   */
  async read(id: string, kind: SnapshotKind = 'face'): Promise<Buffer> {
    const file = this.path(id, kind);
    try {
      if (!this.keys) return await readFile(file);
      const data = await readFile(`${file}${ENC}`).catch(async (e: unknown) => {
        // A plain file from before encryption was turned on, not yet encrypted by encryptExisting().
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { plain: await readFile(file) };
        throw e;
      });
      if (!Buffer.isBuffer(data)) return data.plain;
      return this.decrypt(data, id, kind);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new EventsError('SNAPSHOT_NOT_FOUND', `no snapshot ${id} (${kind})`, { hint: 'it may have been pruned by the retention' });
      throw e;
    }
  }

  private decrypt(data: Buffer, id: string, kind: SnapshotKind): Buffer {
    const keys = this.keys as DataKeys;
    const p = snapshotPlace(id, kind);
    // Sealed under a key made after this store opened (a re-encryption by `facegate keys rotate`).
    if (!keys.has(envelopeKeyId(data, p)) && this.opts.encryption) {
      const fresh = snapshotKeys(this.dir, this.opts.encryption);
      if (fresh) this.keys = fresh;
    }
    return (this.keys as DataKeys).open(data, p);
  }

  /** Snapshots in the store, oldest first (ids this store did not make are ignored). */
  async list(): Promise<SnapshotInfo[]> {
    const ids = new Set<string>();
    for (const name of await readdir(this.dir)) {
      const m = FILE.exec(name);
      if (m && snapshotTime(m[1]) !== undefined) ids.add(m[1]);
    }
    return [...ids].map((id) => ({ id, timeMs: snapshotTime(id) as number })).sort((a, b) => a.timeMs - b.timeMs || (a.id < b.id ? -1 : 1));
  }

  /**
   * Delete one snapshot (face and frame, plain or encrypted) for good: erasure and retention.
   * Returns whether any of its files was there (false for an id already gone: idempotent).
   */
  async remove(id: string): Promise<boolean> {
    let found = false;
    for (const kind of ['face', 'frame'] as const) {
      for (const file of [this.path(id, kind), `${this.path(id, kind)}${ENC}`]) {
        const there = await stat(file).then(
          () => true,
          () => false,
        );
        if (!there) continue;
        found = true;
        await rm(file, { force: true });
      }
    }
    // The unlinks are durable before an erasure reports them done.
    if (found) fsyncDir(this.dir);
    return found;
  }

  /** Remove snapshots older than retentionMs, then the oldest beyond maxFiles, and stale temp files. */
  async prune(nowMs: number): Promise<{ removed: number }> {
    const all = await this.list();
    const keep = all.filter((s) => nowMs - s.timeMs <= this.opts.retentionMs);
    const expired = all.filter((s) => nowMs - s.timeMs > this.opts.retentionMs);
    const overflow = keep.length > this.opts.maxFiles ? keep.slice(0, keep.length - this.opts.maxFiles) : [];
    const doomed = [...expired, ...overflow];
    for (const s of doomed) await Promise.all((['face', 'frame'] as const).flatMap((k) => [rm(this.path(s.id, k), { force: true }), rm(`${this.path(s.id, k)}${ENC}`, { force: true })]));
    // Temp files left by a crash mid-save; a minute old at least, so a save in flight is spared.
    for (const name of await readdir(this.dir)) {
      if (!TMP.test(name) || !FILE.exec(name.replace(TMP, ''))) continue;
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > 60_000) await rm(join(this.dir, name), { force: true });
    }
    return { removed: doomed.length };
  }
}
