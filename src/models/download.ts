import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { FacegateError, errorMessage } from '../errors.ts';
import type { ModelEntry } from './manifest.ts';

export interface DownloadProgress {
  readonly received: number;
  /** Total bytes when the server says (Content-Length / Content-Range), else undefined. */
  readonly total: number | undefined;
}

export interface DownloadOptions {
  /** Folder the verified file lands in (the git-ignored models/ cache by default). */
  readonly destDir: string;
  /** Overrides the manifest's URL (mirrors, tests). */
  readonly url?: string;
  /** Overrides / supplies the expected sha256 (needed for models the manifest does not pin). */
  readonly sha256?: string;
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly signal?: AbortSignal;
}

export interface DownloadResult {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly resumed: boolean;
}

function fail(entry: ModelEntry, url: string, message: string, hint: string, cause?: unknown): FacegateError {
  return new FacegateError('MODEL_DOWNLOAD_FAILED', `download of model "${entry.name}" from ${url} failed: ${message}`, {
    context: { model: entry.name, url },
    hint,
    cause,
  });
}

async function hashExisting(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Stream `url` into `partPath`, resuming from the bytes already there when the server honours a
 * Range request. Returns the sha256 of the whole part file. The part file is kept on a network
 * failure (the next run resumes) and is complete only when this resolves.
 */
async function fetchToPart(entry: ModelEntry, url: string, partPath: string, opts: DownloadOptions): Promise<{ sha256: string; bytes: number; resumed: boolean }> {
  const have = existsSync(partPath) ? statSync(partPath).size : 0;
  const headers: Record<string, string> = have > 0 ? { Range: `bytes=${have}-` } : {};
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: opts.signal, redirect: 'follow' });
  } catch (e) {
    throw fail(entry, url, errorMessage(e), 'check the network connection (or pass --url with a reachable mirror) and run the command again');
  }
  if (res.status === 416 && have > 0) {
    // The part file already holds the whole body: the server has nothing past it.
    const hash = createHash('sha256');
    await hashExisting(partPath, hash);
    return { sha256: hash.digest('hex'), bytes: have, resumed: true };
  }
  if (!res.ok || !res.body) {
    throw fail(entry, url, `HTTP ${res.status} ${res.statusText}`, 'check the URL; the release may have moved (pass --url to use a mirror)');
  }
  const resumed = res.status === 206 && have > 0;
  const hash = createHash('sha256');
  if (resumed) await hashExisting(partPath, hash);
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : undefined;
  let received = resumed ? have : 0;
  opts.onProgress?.({ received, total });

  const out = createWriteStream(partPath, { flags: resumed ? 'a' : 'w' });
  const body = res.body;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      received += chunk.byteLength;
      opts.onProgress?.({ received, total });
      yield chunk;
    }
  }
  try {
    await pipeline(counted(), out);
  } catch (e) {
    throw fail(entry, url, `connection lost after ${received} bytes (${errorMessage(e)})`, 'run the same command again: the download resumes where it stopped', e);
  }
  if (total !== undefined && received !== total) {
    throw fail(entry, url, `truncated: received ${received} of ${total} bytes`, 'run the same command again: the download resumes where it stopped');
  }
  return { sha256: hash.digest('hex'), bytes: received, resumed };
}

/** Extract one member of a zip into `dest`, hashing it on the way. */
function extractZipMember(entry: ModelEntry, zipPath: string, member: string, dest: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(fail(entry, zipPath, `not a readable zip: ${errorMessage(err)}`, 'delete the partial download and run again'));
      let found = false;
      zip.on('entry', (ze: yauzl.Entry) => {
        const base = ze.fileName.split('/').pop();
        if (base !== member) return zip.readEntry();
        found = true;
        zip.openReadStream(ze, (e2, stream) => {
          if (e2 || !stream) return reject(fail(entry, zipPath, `cannot read ${member}: ${errorMessage(e2)}`, 'delete the partial download and run again'));
          const hash = createHash('sha256');
          stream.on('data', (c: Buffer) => hash.update(c));
          pipeline(stream, createWriteStream(dest))
            .then(() => {
              zip.close();
              resolvePromise(hash.digest('hex'));
            })
            .catch((e3: unknown) => reject(fail(entry, zipPath, `cannot extract ${member}: ${errorMessage(e3)}`, 'check free disk space and run again')));
        });
      });
      zip.on('end', () => {
        if (!found) reject(fail(entry, zipPath, `the archive has no member named ${member}`, 'the release changed: pass --url to a pack that contains it'));
      });
      zip.on('error', (e4: unknown) => reject(fail(entry, zipPath, errorMessage(e4), 'delete the partial download and run again')));
      zip.readEntry();
    });
  });
}

/**
 * Download a model for a user: streaming, resumable (`<file>.part`), sha256-checked, and only
 * renamed into place once verified, so a crash or a bad mirror never leaves a file that resolves.
 */
export async function downloadModel(entry: ModelEntry, opts: DownloadOptions): Promise<DownloadResult> {
  const url = opts.url ?? entry.download?.url;
  if (!url) {
    throw new FacegateError('MODEL_DOWNLOAD_FAILED', `model "${entry.name}" has no download URL`, {
      context: { model: entry.name },
      hint: 'pass --url, or copy the file into models/ yourself',
    });
  }
  const expected = opts.sha256 ?? entry.sha256;
  if (!expected) {
    throw new FacegateError('MODEL_DOWNLOAD_FAILED', `model "${entry.name}" has no pinned sha256, so a download cannot be verified`, {
      context: { model: entry.name },
      hint: 'pass --sha256 HEX with the digest you trust',
    });
  }
  mkdirSync(opts.destDir, { recursive: true });
  const finalPath = join(opts.destDir, entry.file);
  const zipMember = opts.url ? undefined : entry.download?.zipMember;
  const partPath = `${finalPath}${zipMember ? '.zip' : ''}.part`;

  const got = await fetchToPart(entry, url, partPath, opts);
  let sha256 = got.sha256;
  if (zipMember) {
    const memberTmp = `${finalPath}.member.part`;
    sha256 = await extractZipMember(entry, partPath, zipMember, memberTmp);
    unlinkSync(partPath);
    if (sha256 !== expected) {
      unlinkSync(memberTmp);
      throw new FacegateError('MODEL_CORRUPT', `downloaded "${entry.name}" has sha256 ${sha256}, expected ${expected}`, {
        context: { model: entry.name, url },
        hint: 'the archive differs from the pinned release; try again or use another mirror with --url',
      });
    }
    renameSync(memberTmp, finalPath);
    return { path: finalPath, sha256, bytes: statSync(finalPath).size, resumed: got.resumed };
  }
  if (sha256 !== expected) {
    unlinkSync(partPath); // A wrong body must not be resumed from.
    throw new FacegateError('MODEL_CORRUPT', `downloaded "${entry.name}" has sha256 ${sha256}, expected ${expected}`, {
      context: { model: entry.name, url },
      hint: 'the server sent a different file; try again or use another mirror with --url',
    });
  }
  renameSync(partPath, finalPath);
  return { path: finalPath, sha256, bytes: got.bytes, resumed: got.resumed };
}
