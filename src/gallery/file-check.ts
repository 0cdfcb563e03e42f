import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { GalleryError } from './errors.ts';

/** Every SQLite 3 database file starts with these 16 bytes. */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\u0000', 'latin1');

/** What lies at a gallery path before SQLite touches it. */
export type GalleryFileKind = 'missing' | 'folder' | 'empty' | 'not-sqlite' | 'sqlite';

/**
 * Classify a gallery file from its size, first bytes and its WAL's size. Pure.
 * A 0-byte main file whose WAL holds data is a database another connection has not checkpointed
 * yet (SQLite writes the header on the first commit), so it counts as SQLite, not as empty.
 */
export function classifyGalleryFile(size: number, head: Uint8Array, walSize: number): Exclude<GalleryFileKind, 'missing' | 'folder'> {
  if (size === 0) return walSize > 0 ? 'sqlite' : 'empty';
  if (head.length < SQLITE_MAGIC.length) return 'not-sqlite';
  return Buffer.from(head.buffer, head.byteOffset, SQLITE_MAGIC.length).equals(SQLITE_MAGIC) ? 'sqlite' : 'not-sqlite';
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** Look at the file (stat, first 16 bytes, WAL size): what kind of thing is there. */
export function inspectGalleryFile(path: string): GalleryFileKind {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot read gallery ${path}: ${(e as Error).message}`, { context: { path }, hint: 'check the path and its permissions', cause: e });
  }
  if (st.isDirectory()) return 'folder';
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  let read = 0;
  if (st.size > 0) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r');
      read = readSync(fd, head, 0, head.length, 0);
    } catch (e) {
      throw new GalleryError('GALLERY_OPEN_FAILED', `cannot read gallery ${path}: ${(e as Error).message}`, { context: { path }, hint: 'check the file permissions', cause: e });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return classifyGalleryFile(st.size, head.subarray(0, read), sizeOf(`${path}-wal`) ?? 0);
}

/**
 * Refuse a gallery path that exists but cannot be a gallery, before SQLite opens it: SQLite would
 * happily turn an empty file into a fresh, empty gallery, and the service would then deny everyone
 * without a word. A missing file is fine (it is created when allowed).
 */
export function assertGalleryFileUsable(path: string): { existed: boolean } {
  const kind = inspectGalleryFile(path);
  switch (kind) {
    case 'missing':
      return { existed: false };
    case 'sqlite':
      return { existed: true };
    case 'folder':
      throw new GalleryError('GALLERY_NOT_A_GALLERY', `${path} is a folder, not a gallery file`, { context: { path }, hint: 'give the gallery file itself, e.g. data/gallery.sqlite' });
    case 'empty':
      throw new GalleryError('GALLERY_NOT_A_GALLERY', `gallery file ${path} is empty (0 bytes): it holds no identities, and using it would deny everyone`, {
        context: { path },
        hint: 'point --db (or gallery.db in the config) at the gallery file or restore it from a backup; to start a new, empty gallery on purpose, delete the empty file first',
      });
    case 'not-sqlite':
      throw new GalleryError('GALLERY_NOT_A_GALLERY', `${path} is not a facegate gallery: it is not an SQLite database`, {
        context: { path },
        hint: 'point --db (or gallery.db in the config) at the gallery file (SQLite), or restore it from a backup',
      });
  }
}
