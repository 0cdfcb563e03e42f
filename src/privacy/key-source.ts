/**
 * Where the key-encryption key (KEK) comes from, in this order:
 *  1. the environment variable named by `privacy.encryption.keyEnv` (default FACEGATE_KEK), base64;
 *  2. a systemd credential (`LoadCredential=facegate-kek:...`): $CREDENTIALS_DIRECTORY/facegate-kek,
 *     32 raw bytes or base64;
 *  3. the key file (`privacy.encryption.keyFile`): base64, mode 0600 (refused when group or others
 *     may read it), created by `facegate keys init`.
 * A missing or malformed key is a PrivacyError naming where it was looked for.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KEY_BYTES } from './envelope.ts';
import { PrivacyError } from './errors.ts';

export const DEFAULT_KEY_ENV = 'FACEGATE_KEK';
export const CREDENTIAL_NAME = 'facegate-kek';

export interface KeySourceOptions {
  readonly keyFile?: string | undefined;
  readonly keyEnv?: string | undefined;
  /** The process environment (a parameter so tests need not touch process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface LoadedKek {
  readonly kek: Buffer;
  /** 'env FACEGATE_KEK', 'systemd credential facegate-kek', 'key file /x/y'. */
  readonly source: string;
  readonly kind: 'env' | 'credential' | 'file';
}

/** A KEK from its text form: base64 of 32 bytes (whitespace around it ignored). */
export function parseKek(text: string | Buffer, source: string): Buffer {
  if (Buffer.isBuffer(text) && text.length === KEY_BYTES) return Buffer.from(text);
  const s = (Buffer.isBuffer(text) ? text.toString('utf8') : text).trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(s) ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) {
    throw new PrivacyError('PRIVACY_BAD_KEY', `the key from ${source} is not ${KEY_BYTES} bytes of base64`, {
      context: { source },
      hint: 'make one with `facegate keys init --config FILE` (or `head -c 32 /dev/urandom | base64`)',
    });
  }
  return key;
}

export function formatKek(kek: Buffer): string {
  return `${kek.toString('base64')}\n`;
}

/** Load the KEK from the first source that has one. */
export function loadKek(o: KeySourceOptions): LoadedKek {
  const env = o.env ?? process.env;
  const envName = o.keyEnv ?? DEFAULT_KEY_ENV;
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return { kek: parseKek(fromEnv, `environment variable ${envName}`), source: `environment variable ${envName}`, kind: 'env' };
  const creds = env.CREDENTIALS_DIRECTORY;
  if (creds) {
    const file = join(creds, CREDENTIAL_NAME);
    const bytes = readIfExists(file);
    if (bytes) return { kek: parseKek(bytes, `systemd credential ${CREDENTIAL_NAME}`), source: `systemd credential ${CREDENTIAL_NAME}`, kind: 'credential' };
  }
  if (o.keyFile) return { kek: readKeyFile(o.keyFile), source: `key file ${o.keyFile}`, kind: 'file' };
  throw new PrivacyError('PRIVACY_MISSING_KEY', `encryption is on but no key was given (looked in ${envName}${creds ? `, $CREDENTIALS_DIRECTORY/${CREDENTIAL_NAME}` : ''}; no privacy.encryption.keyFile)`, {
    hint: 'set privacy.encryption.keyFile and create it with `facegate keys init --config FILE`',
  });
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PrivacyError('PRIVACY_MISSING_KEY', `cannot read ${file}: ${(e as Error).message}`, { context: { file }, hint: 'check its permissions', cause: e });
  }
}

/** The KEK in a key file; the file must exist and be readable by its owner only. */
export function readKeyFile(file: string): Buffer {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PrivacyError('PRIVACY_MISSING_KEY', `no key file at ${file}`, {
        context: { file },
        hint: 'a new installation: `facegate keys init --config FILE`; an existing one: restore the key file from its backup (without it the encrypted data cannot be read)',
      });
    }
    throw new PrivacyError('PRIVACY_MISSING_KEY', `cannot read key file ${file}: ${(e as Error).message}`, { context: { file }, cause: e });
  }
  if ((mode & 0o077) !== 0) {
    throw new PrivacyError('PRIVACY_KEY_FILE_INSECURE', `key file ${file} may be read by others (mode ${(mode & 0o777).toString(8)})`, {
      context: { file, mode: (mode & 0o777).toString(8) },
      hint: `chmod 600 ${file}`,
    });
  }
  return parseKek(readFileSync(file), `key file ${file}`);
}

/**
 * Write a key file atomically: a 0600 temp file, fsynced, then linked (`exclusive`: never over an
 * existing key) or renamed into place, then the folder fsynced.
 */
export function writeKeyFile(file: string, kek: Buffer, opts: { readonly exclusive: boolean }): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, formatKek(kek));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (opts.exclusive) {
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new PrivacyError('PRIVACY_KEY_EXISTS', `a key file already exists at ${file}`, { context: { file }, hint: 'keep it (it decrypts your data); to replace the key use `facegate keys rotate`' });
        throw e;
      }
      rmSync(tmp, { force: true });
    } else {
      renameSync(tmp, file);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dirname(file));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function newKek(): Buffer {
  return randomBytes(KEY_BYTES);
}
