/**
 * A keyring kept in a small JSON file beside data that has no database of its own (the snapshot
 * folder): the wrapped data keys, never a key in the clear. Replaced atomically (temp file,
 * fsync, rename, folder fsync), so a kill leaves the old or the new keyring, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrivacyError } from './errors.ts';
import { fsyncDir } from './key-source.ts';
import type { WrappedKey } from './keyring.ts';

interface KeyringJson {
  readonly version: 1;
  readonly keys: readonly { readonly keyId: number; readonly kekId: string; readonly wrapped: string; readonly createdAt: number }[];
}

/** The wrapped keys in a keyring file; undefined when there is none. */
export function readKeyringFile(file: string): WrappedKey[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PrivacyError('PRIVACY_CORRUPT', `cannot read keyring ${file}: ${(e as Error).message}`, { context: { file }, cause: e });
  }
  try {
    const j = JSON.parse(text) as KeyringJson;
    if (j.version !== 1 || !Array.isArray(j.keys)) throw new Error(`version ${String(j.version)}`);
    return j.keys.map((k) => {
      if (!Number.isInteger(k.keyId) || typeof k.kekId !== 'string' || typeof k.wrapped !== 'string') throw new Error('a malformed entry');
      return { keyId: k.keyId, kekId: k.kekId, wrapped: Buffer.from(k.wrapped, 'base64'), createdAt: Number(k.createdAt) };
    });
  } catch (e) {
    throw new PrivacyError('PRIVACY_CORRUPT', `keyring ${file} is not a facegate keyring (${(e as Error).message})`, { context: { file }, hint: 'restore it from a backup: without it the encrypted files beside it cannot be read', cause: e });
  }
}

export function writeKeyringFile(file: string, keys: readonly WrappedKey[]): void {
  const json: KeyringJson = { version: 1, keys: keys.map((k) => ({ keyId: k.keyId, kekId: k.kekId, wrapped: k.wrapped.toString('base64'), createdAt: k.createdAt })) };
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(json, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dirname(file));
}
