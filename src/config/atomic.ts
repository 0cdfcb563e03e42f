/**
 * Replace a file atomically: a temp file in the same folder, written and fsynced, given the mode,
 * renamed over the target, then the folder fsynced. A crash or a failed write leaves the old file
 * whole (and the temp file removed), never half of the new one; readers (the hot-reload watcher)
 * see the old bytes or the new, nothing between.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(file: string, text: string, mode: number): void {
  const dir = dirname(file);
  // A dot name: editors and the watcher's debounce see a hidden temp file come and go.
  const tmp = join(dir, `.${basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      const bytes = Buffer.from(text, 'utf8');
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      // The umask narrowed the mode at open; the file keeps the one the old file had.
      fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  // The rename itself is durable only once the folder's entry is on disk.
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename has happened either way.
  }
}
