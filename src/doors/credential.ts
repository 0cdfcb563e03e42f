/**
 * A person's card credential and the frame a grant hands to a panel (docs/doors.md, "Card-number
 * handoff"). The credential lives in the identity's metadata, so the gallery's schema stays as it
 * is: `metadata.credential = { number, facilityCode, format: 'wiegand26' | 'wiegand34' }`.
 * Pure: metadata in, a checked credential or a DoorError naming the field and its range out.
 */
import { DoorError } from './errors.ts';
import { WIEGAND_FORMATS, wiegandBitString, type WiegandFormat } from './wiegand.ts';

/** The key of identity metadata that holds the card credential. */
export const CREDENTIAL_KEY = 'credential';

export interface CardCredential {
  readonly format: WiegandFormat;
  readonly facilityCode: number;
  readonly number: number;
}

/** The widest value each field takes per format: facility code bits and card number bits. */
const RANGES: Record<WiegandFormat, { readonly facilityCode: number; readonly number: number }> = {
  wiegand26: { facilityCode: 255, number: 65535 },
  wiegand34: { facilityCode: 65535, number: 65535 },
};

const invalid = (field: string, message: string, hint: string): DoorError => {
  const path = field ? `${CREDENTIAL_KEY}.${field}` : CREDENTIAL_KEY;
  return new DoorError('DOOR_CREDENTIAL_INVALID', `${path}: ${message}`, { context: { field: path }, hint });
};

const EXAMPLE = `{"credential": {"number": 4095, "facilityCode": 101, "format": "wiegand26"}}`;

/**
 * The credential of an identity's metadata: undefined when it has none; a DoorError
 * (DOOR_CREDENTIAL_INVALID) naming the field and the range when it is malformed or out of range
 * for its format.
 */
export function credentialFromMetadata(metadata: Readonly<Record<string, unknown>> | undefined): CardCredential | undefined {
  const raw = metadata?.[CREDENTIAL_KEY];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('', 'expected an object { number, facilityCode, format }', `set metadata ${EXAMPLE}`);
  const c = raw as Record<string, unknown>;
  const extra = Object.keys(c).filter((k) => !['number', 'facilityCode', 'format'].includes(k));
  if (extra.length > 0) throw invalid(extra[0], 'unknown key', 'a credential has only number, facilityCode and format');
  const format = c.format;
  if (typeof format !== 'string' || !(WIEGAND_FORMATS as readonly string[]).includes(format)) {
    throw invalid('format', `expected one of ${WIEGAND_FORMATS.join(', ')}, got ${JSON.stringify(format ?? null)}`, 'wiegand26 (HID H10301: facility 0-255) or wiegand34 (facility 0-65535), as the panel reads its cards');
  }
  const f = format as WiegandFormat;
  const range = RANGES[f];
  for (const field of ['facilityCode', 'number'] as const) {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > range[field]) {
      const wider = f === 'wiegand26' && field === 'facilityCode' && typeof v === 'number' && Number.isInteger(v) && v > 255 && v <= 65535;
      throw invalid(field, `${JSON.stringify(v ?? null)} is out of range for ${f} (0-${range[field]})`, wider ? 'a facility code over 255 needs format wiegand34' : `give an integer from 0 to ${range[field]}, as printed on the card`);
    }
  }
  return { format: f, facilityCode: c.facilityCode as number, number: c.number as number };
}

/** What a credential output sends for one grant: the frame as bits and as the raw value in hex. */
export interface CredentialFrame {
  readonly format: WiegandFormat;
  /** '0' and '1', first bit on the wire first, parity included. */
  readonly bits: string;
  /** The frame as one unsigned number, first bit most significant, lowercase hex without 0x. */
  readonly hex: string;
  readonly bitLength: number;
}

export function credentialFrame(c: CardCredential): CredentialFrame {
  const bits = wiegandBitString(c.format, { facilityCode: c.facilityCode, cardNumber: c.number });
  return { format: c.format, bits, hex: BigInt(`0b${bits}`).toString(16), bitLength: bits.length };
}

/** The MQTT payload of a credential output: the frame, the gate and the time (no name, no card fields). */
export function credentialPayload(gateId: string, frame: CredentialFrame, atMs: number): string {
  return JSON.stringify({ gateId, format: frame.format, bits: frame.bits, hex: frame.hex, bitLength: frame.bitLength, atMs });
}

/** A credential command's argv: `{bits}` and `{hex}` in any argument become the frame's. */
export function credentialArgv(argv: readonly string[], frame: CredentialFrame): string[] {
  return argv.map((a) => a.replaceAll('{bits}', frame.bits).replaceAll('{hex}', frame.hex));
}
