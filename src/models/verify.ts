import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { PROJECT_MODELS_DIR } from './manifest.ts';

/** sha256 of a file, streamed (weights can be hundreds of MB). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface VerdictRecord {
  readonly size: number;
  readonly mtimeMs: number;
  readonly sha256: string;
}

/**
 * Hashing every model at every start costs ~10 ms/MB; the verdict is cached by absolute path,
 * size and mtime (in memory and in models/.verified.json) so a file is hashed once until it changes.
 */
export class VerdictCache {
  private readonly records: Map<string, VerdictRecord>;

  constructor(private readonly file: string = `${PROJECT_MODELS_DIR}.verified.json`) {
    this.records = new Map();
    try {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, VerdictRecord>;
      for (const [k, v] of Object.entries(doc)) {
        if (typeof v?.sha256 === 'string' && typeof v.size === 'number' && typeof v.mtimeMs === 'number') this.records.set(k, v);
      }
    } catch {
      // No cache yet, or unreadable: start empty; it is only an optimisation.
    }
  }

  /** The file's sha256: from the cache when size and mtime still match, else hashed and cached. */
  async digest(path: string): Promise<string> {
    const st = statSync(path);
    const hit = this.records.get(path);
    if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
    const sha256 = await sha256File(path);
    this.records.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
    this.persist();
    return sha256;
  }

  /** Hash the file now, whatever the cache says, and record the fresh verdict. */
  async refresh(path: string): Promise<string> {
    const st = statSync(path);
    const sha256 = await sha256File(path);
    const hit = this.records.get(path);
    if (!hit || hit.size !== st.size || hit.mtimeMs !== st.mtimeMs || hit.sha256 !== sha256) {
      this.records.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
      this.persist();
    }
    return sha256;
  }

  private persist(): void {
    try {
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.records), null, 1));
      renameSync(tmp, this.file);
    } catch {
      // Read-only checkout: keep the in-memory cache only.
    }
  }
}
