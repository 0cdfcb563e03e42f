/**
 * Face snapshots for events: a JPEG crop of the face (padded box) and a downscaled JPEG of the
 * whole frame, under one id. Ids are `<time base36, 9 chars>-<10 hex>`; `path()` accepts only
 * ids matching SNAPSHOT_ID_PATTERN (lowercase letters, digits, _ and -, 8..64 chars), so `..`,
 * slashes, absolute paths and percent-encodings never reach the file system, and it checks the
 * resolved path stays inside the store's directory. Files are written to a temp name and renamed,
 * so a reader never sees half a JPEG.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import sharp from 'sharp';
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
}

export interface SnapshotInfo {
  readonly id: string;
  readonly timeMs: number;
}

const FILE = /^([a-z0-9_-]{8,64})\.(face|frame)\.jpg$/;
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

export class SnapshotStore {
  readonly dir: string;
  private readonly opts: Required<SnapshotStoreOptions>;

  constructor(dir: string, opts: SnapshotStoreOptions) {
    this.dir = resolve(dir);
    this.opts = { frameMaxWidth: 640, cropPadding: 0.25, quality: 85, ...opts } as Required<SnapshotStoreOptions>;
    mkdirSync(this.dir, { recursive: true });
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
  async save(frame: RgbImage, box: Box, opts: { timeMs?: number } = {}): Promise<string> {
    const { width, height } = frame;
    if (frame.data.length < width * height * 3) throw new EventsError('SNAPSHOT_FAILED', `frame data is ${frame.data.length} bytes, ${width}x${height} RGB needs ${width * height * 3}`);
    const rect = cropRect(box, width, height, this.opts.cropPadding);
    if (!rect) throw new EventsError('SNAPSHOT_BOX_INVALID', `face box [${box.join(', ')}] does not overlap the ${width}x${height} frame`, { hint: 'pass the detection box in frame pixels' });
    const timeMs = opts.timeMs ?? Date.now();
    const id = `${Math.max(0, Math.floor(timeMs)).toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
    const raw = { raw: { width, height, channels: 3 as const } };
    const pixels = Buffer.from(frame.data.buffer, frame.data.byteOffset, width * height * 3);
    try {
      const [face, full] = await Promise.all([
        sharp(pixels, raw).extract(rect).jpeg({ quality: this.opts.quality }).toBuffer(),
        sharp(pixels, raw).resize({ width: Math.min(width, this.opts.frameMaxWidth), withoutEnlargement: true }).jpeg({ quality: this.opts.quality }).toBuffer(),
      ]);
      await this.writeAtomic(this.path(id, 'face'), face);
      await this.writeAtomic(this.path(id, 'frame'), full);
    } catch (e) {
      await Promise.all([rm(this.path(id, 'face'), { force: true }), rm(this.path(id, 'frame'), { force: true })]);
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

  /** The JPEG bytes. Throws SNAPSHOT_ID_INVALID or SNAPSHOT_NOT_FOUND. */
  async read(id: string, kind: SnapshotKind = 'face'): Promise<Buffer> {
    const file = this.path(id, kind);
    try {
      return await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new EventsError('SNAPSHOT_NOT_FOUND', `no snapshot ${id} (${kind})`, { hint: 'it may have been pruned by the retention' });
      throw e;
    }
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

  /** Remove snapshots older than retentionMs, then the oldest beyond maxFiles, and stale temp files. */
  async prune(nowMs: number): Promise<{ removed: number }> {
    const all = await this.list();
    const keep = all.filter((s) => nowMs - s.timeMs <= this.opts.retentionMs);
    const expired = all.filter((s) => nowMs - s.timeMs > this.opts.retentionMs);
    const overflow = keep.length > this.opts.maxFiles ? keep.slice(0, keep.length - this.opts.maxFiles) : [];
    const doomed = [...expired, ...overflow];
    for (const s of doomed) await Promise.all([rm(this.path(s.id, 'face'), { force: true }), rm(this.path(s.id, 'frame'), { force: true })]);
    // Temp files left by a crash mid-save; a minute old at least, so a save in flight is spared.
    for (const name of await readdir(this.dir)) {
      if (!TMP.test(name) || !FILE.exec(name.replace(TMP, ''))) continue;
      const info = await stat(join(this.dir, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > 60_000) await rm(join(this.dir, name), { force: true });
    }
    return { removed: doomed.length };
  }
}
