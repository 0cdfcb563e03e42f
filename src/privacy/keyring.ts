/**
 * Data keys and their wrapping. Records are encrypted under data keys (random, 32 bytes); data
 * keys are stored only wrapped (AES-256-GCM) under the key-encryption key (KEK) that the operator
 * keeps outside the data folder. A store (the gallery database, the snapshot folder) holds its
 * wrapped keys beside its data, so a wrong KEK is found at open, before any record is read.
 *
 * A wrapped key is stored per (data key id, KEK id): during a rotation one data key is wrapped
 * under both the old and the new KEK, so whichever KEK is in force after a crash unwraps it.
 * Pure apart from the random bytes.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { checkKey, KEY_BYTES, NONCE_BYTES, open, seal, TAG_BYTES, type RecordPlace } from './envelope.ts';
import { PrivacyError } from './errors.ts';

export interface WrappedKey {
  readonly keyId: number;
  /** Fingerprint of the KEK that wrapped it (kekId()). */
  readonly kekId: string;
  /** nonce (12) + wrapped key (32) + tag (16). */
  readonly wrapped: Buffer;
  readonly createdAt: number;
}

/** A KEK's fingerprint: names it in errors and in the stored wraps without revealing it. */
export function kekId(kek: Buffer): string {
  checkKey(kek, 'the key-encryption key');
  return createHmac('sha256', kek).update('facegate kek id v1').digest('hex').slice(0, 16);
}

function wrapAad(keyId: number, kid: string): Buffer {
  return Buffer.from(`facegate-wrap/v1/${keyId}/${kid}`, 'utf8');
}

export function wrapKey(kek: Buffer, keyId: number, dataKey: Buffer, createdAt: number): WrappedKey {
  checkKey(dataKey, 'a data key');
  const kid = kekId(kek);
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(wrapAad(keyId, kid));
  const body = Buffer.concat([c.update(dataKey), c.final()]);
  return { keyId, kekId: kid, wrapped: Buffer.concat([nonce, body, c.getAuthTag()]), createdAt };
}

export function unwrapKey(kek: Buffer, w: WrappedKey, where: string): Buffer {
  if (w.wrapped.length !== NONCE_BYTES + KEY_BYTES + TAG_BYTES) throw new PrivacyError('PRIVACY_CORRUPT', `${where}: wrapped data key ${w.keyId} is ${w.wrapped.length} bytes`, { context: { where, keyId: w.keyId }, hint: 'restore from a backup' });
  try {
    const d = createDecipheriv('aes-256-gcm', kek, w.wrapped.subarray(0, NONCE_BYTES));
    d.setAAD(wrapAad(w.keyId, w.kekId));
    d.setAuthTag(w.wrapped.subarray(NONCE_BYTES + KEY_BYTES));
    return Buffer.concat([d.update(w.wrapped.subarray(NONCE_BYTES, NONCE_BYTES + KEY_BYTES)), d.final()]);
  } catch (e) {
    throw new PrivacyError('PRIVACY_CORRUPT', `${where}: wrapped data key ${w.keyId} fails authentication under key ${w.kekId}`, { context: { where, keyId: w.keyId, kekId: w.kekId }, hint: 'the keyring was altered: restore it from a backup', cause: e });
  }
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** A store's unwrapped data keys: records are sealed under the active one and opened by the id in their envelope. */
export class DataKeys {
  readonly active: number;
  private readonly keys: ReadonlyMap<number, Buffer>;

  constructor(keys: ReadonlyMap<number, Buffer>, active: number) {
    if (!keys.has(active)) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `active data key ${active} is not among the keys`);
    this.keys = keys;
    this.active = active;
  }

  ids(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  has(keyId: number): boolean {
    return this.keys.has(keyId);
  }

  key(keyId: number): Buffer | undefined {
    return this.keys.get(keyId);
  }

  seal(plaintext: Uint8Array, place: RecordPlace): Buffer {
    return seal(this.keys.get(this.active) as Buffer, this.active, plaintext, place);
  }

  open(envelope: Uint8Array, place: RecordPlace): Buffer {
    return open(envelope, place, (id) => this.keys.get(id));
  }

  /** These keys plus one more, made the active one (re-encryption). */
  withActive(keyId: number, key: Buffer): DataKeys {
    checkKey(key, 'a data key');
    return new DataKeys(new Map([...this.keys, [keyId, key]]), keyId);
  }
}

/**
 * Unwrap a store's data keys with `kek`. Every data key must have a wrap under this KEK: none at
 * all means another KEK (PRIVACY_WRONG_KEY, naming the fingerprints the store expects), some
 * but not all means a damaged keyring. The active key is the highest id. `where` names the store
 * in errors. Returns undefined for a store with no keys yet.
 */
export function unlockKeyring(entries: readonly WrappedKey[], kek: Buffer, where: string): DataKeys | undefined {
  if (entries.length === 0) return undefined;
  const kid = kekId(kek);
  const ids = [...new Set(entries.map((e) => e.keyId))].sort((a, b) => a - b);
  const mine = entries.filter((e) => e.kekId === kid);
  if (mine.length === 0) {
    const expected = [...new Set(entries.map((e) => e.kekId))];
    throw new PrivacyError('PRIVACY_WRONG_KEY', `${where} is encrypted under key ${expected.join(' or ')}; the key given is ${kid}`, {
      context: { where, expected: expected.join(','), given: kid },
      hint: 'give the key this data was encrypted with (privacy.encryption.keyFile, or the environment variable / systemd credential that overrides it); a lost key cannot be recovered: restore the key from its backup',
    });
  }
  const keys = new Map<number, Buffer>();
  for (const e of mine) keys.set(e.keyId, unwrapKey(kek, e, where));
  const lacking = ids.filter((id) => !keys.has(id));
  if (lacking.length) {
    throw new PrivacyError('PRIVACY_CORRUPT', `${where}: data key(s) ${lacking.join(', ')} have no wrap under key ${kid}`, {
      context: { where, lacking: lacking.join(','), given: kid },
      hint: 'the keyring is incomplete: restore it from a backup, or give the key it was last rotated to',
    });
  }
  return new DataKeys(keys, ids[ids.length - 1]);
}
