/**
 * The per-record envelope: one AES-256-GCM ciphertext per record (one template, one crop, one
 * snapshot file), so a record can be erased, re-encrypted or rotated on its own.
 *
 *   [version 1 byte = 1][data key id uint32 BE][nonce 12 bytes][ciphertext][tag 16 bytes]
 *
 * The additional authenticated data is the 5-byte header plus the record's place ("templates/
 * embedding/tpl_ab12..."): a blob copied onto another row, column or table fails authentication
 * instead of decrypting as someone else's face. Nonces are random (96 bits): far below the 2^32
 * messages per data key that random nonces allow; `keys rotate --reencrypt` starts a fresh key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PrivacyError } from './errors.ts';

export const ENVELOPE_VERSION = 1;
export const HEADER_BYTES = 5;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes an envelope adds to its plaintext (33: odd, so never the length of a float32 blob). */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
export const KEY_BYTES = 32;

/** Where a record lives: bound into the envelope so blobs cannot be swapped between places. */
export interface RecordPlace {
  readonly table: string;
  readonly column: string;
  readonly id: string;
}

export function placeLabel(p: RecordPlace): string {
  return `${p.table}/${p.column}/${p.id}`;
}

function aadOf(header: Buffer, place: RecordPlace): Buffer {
  return Buffer.concat([header, Buffer.from(`facegate/v${ENVELOPE_VERSION}/${placeLabel(place)}`, 'utf8')]);
}

function header(keyId: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h[0] = ENVELOPE_VERSION;
  h.writeUInt32BE(keyId, 1);
  return h;
}

export function checkKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `${what} must be ${KEY_BYTES} bytes`);
}

/** Encrypt one record under the data key `keyId`. */
export function seal(key: Buffer, keyId: number, plaintext: Uint8Array, place: RecordPlace): Buffer {
  checkKey(key, 'a data key');
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffff_ffff) throw new PrivacyError('PRIVACY_BAD_ARGUMENT', `data key id ${keyId} is not a uint32`);
  const h = header(keyId);
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aadOf(h, place));
  const body = c.update(plaintext);
  const rest = c.final();
  return Buffer.concat([h, nonce, body, rest, c.getAuthTag()]);
}

/** The data key id in an envelope's header (checks the version and length, nothing else). */
export function envelopeKeyId(envelope: Uint8Array, place: RecordPlace): number {
  if (envelope.length < ENVELOPE_OVERHEAD) throw corrupt(place, `${envelope.length} bytes is shorter than an envelope (${ENVELOPE_OVERHEAD})`);
  if (envelope[0] !== ENVELOPE_VERSION) throw corrupt(place, `envelope version ${envelope[0]} (this facegate reads ${ENVELOPE_VERSION})`);
  return Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength).readUInt32BE(1);
}

/** Decrypt one record; `keyFor` gives the data key of the id in its header. */
export function open(envelope: Uint8Array, place: RecordPlace, keyFor: (keyId: number) => Buffer | undefined): Buffer {
  const keyId = envelopeKeyId(envelope, place);
  const key = keyFor(keyId);
  if (!key) {
    throw new PrivacyError('PRIVACY_CORRUPT', `${placeLabel(place)} is encrypted under data key ${keyId}, which the keyring does not hold`, {
      context: { place: placeLabel(place), keyId },
      hint: 'the key was retired by `facegate keys rotate --reencrypt` while another process still wrote with it, or the file comes from another installation: restore from a backup with its key',
    });
  }
  const buf = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  const h = buf.subarray(0, HEADER_BYTES);
  const nonce = buf.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAAD(aadOf(h, place));
    d.setAuthTag(tag);
    const body = d.update(buf.subarray(HEADER_BYTES + NONCE_BYTES, buf.length - TAG_BYTES));
    const rest = d.final();
    return rest.length ? Buffer.concat([body, rest]) : body;
  } catch (e) {
    throw corrupt(place, 'authentication failed (altered, truncated, or moved from another record)', e);
  }
}

function corrupt(place: RecordPlace, why: string, cause?: unknown): PrivacyError {
  return new PrivacyError('PRIVACY_CORRUPT', `encrypted record ${placeLabel(place)}: ${why}`, {
    context: { place: placeLabel(place) },
    hint: 'restore the file from a backup (with the key that was in force when it was made)',
    cause,
  });
}
