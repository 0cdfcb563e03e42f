/**
 * Wiegand credential frames, the way a card reader hands a card to an access-control panel: after
 * a face match, a gate can send the person's card number to an existing panel as if the card had
 * been presented. Pure: numbers in, bits out.
 *
 * Formats (the bit order on the wire is the order of the array, first bit first, MSB first):
 * - 26-bit (HID H10301, the open "standard 26-bit"): E FFFFFFFF CCCCCCCCCCCCCCCC O - an even
 *   parity bit over the next 12 bits, an 8-bit facility code (0-255), a 16-bit card number
 *   (0-65535), an odd parity bit over the 12 bits before it.
 * - 34-bit (the common "Wiegand 34": 16-bit facility code, 16-bit card number):
 *   E FFFFFFFFFFFFFFFF CCCCCCCCCCCCCCCC O - even parity over the first 16 data bits, odd parity
 *   over the last 16. Panels that read 34-bit as one 32-bit number see facility * 65536 + card.
 * Even parity: the bit makes the count of ones in its half, itself included, even; odd: odd.
 */
import { DoorError } from './errors.ts';

export const WIEGAND_FORMATS = ['wiegand26', 'wiegand34'] as const;
export type WiegandFormat = (typeof WIEGAND_FORMATS)[number];
export type Bit = 0 | 1;

export interface WiegandCredential {
  readonly facilityCode: number;
  readonly cardNumber: number;
}

interface Layout {
  readonly bits: number;
  readonly facilityBits: number;
  readonly cardBits: number;
}

const LAYOUTS: Record<WiegandFormat, Layout> = {
  wiegand26: { bits: 26, facilityBits: 8, cardBits: 16 },
  wiegand34: { bits: 34, facilityBits: 16, cardBits: 16 },
};

function toBits(value: number, width: number): Bit[] {
  const out: Bit[] = [];
  for (let i = width - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** i) % 2 === 1 ? 1 : 0);
  return out;
}

const ones = (bits: readonly Bit[]): number => bits.reduce<number>((n, b) => n + b, 0);

function checkField(format: WiegandFormat, name: 'facilityCode' | 'cardNumber', value: number, width: number): void {
  const max = 2 ** width - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new DoorError('DOOR_CREDENTIAL_INVALID', `${name} ${String(value)} does not fit ${format} (0-${max})`, {
      context: { format, field: name, max },
      hint: format === 'wiegand26' && value <= 65535 ? 'a facility code over 255 needs wiegand34' : `use a ${name} between 0 and ${max}, or a wider format`,
    });
  }
}

/** The frame's bits, parity included, first bit on the wire first. Throws DoorError for a value that does not fit. */
export function wiegandBits(format: WiegandFormat, credential: WiegandCredential): Bit[] {
  const layout = LAYOUTS[format];
  checkField(format, 'facilityCode', credential.facilityCode, layout.facilityBits);
  checkField(format, 'cardNumber', credential.cardNumber, layout.cardBits);
  const data = [...toBits(credential.facilityCode, layout.facilityBits), ...toBits(credential.cardNumber, layout.cardBits)];
  const half = data.length / 2;
  const even: Bit = ones(data.slice(0, half)) % 2 === 0 ? 0 : 1;
  const odd: Bit = ones(data.slice(half)) % 2 === 0 ? 1 : 0;
  return [even, ...data, odd];
}

/** The frame as a string of '0' and '1' (what an external Wiegand adapter takes). */
export function wiegandBitString(format: WiegandFormat, credential: WiegandCredential): string {
  return wiegandBits(format, credential).join('');
}

/** The frame as one unsigned number, first bit most significant (how readers print raw frames in hex). */
export function wiegandValue(format: WiegandFormat, credential: WiegandCredential): bigint {
  return BigInt(`0b${wiegandBitString(format, credential)}`);
}

/** Read a frame back: its format by length, parity checked. Throws DoorError (DOOR_FRAME_INVALID). */
export function decodeWiegand(frame: string | readonly Bit[]): WiegandCredential & { readonly format: WiegandFormat } {
  const text = typeof frame === 'string' ? frame : frame.join('');
  const format = WIEGAND_FORMATS.find((f) => LAYOUTS[f].bits === text.length);
  if (!format || !/^[01]+$/.test(text)) {
    throw new DoorError('DOOR_FRAME_INVALID', `not a 26- or 34-bit Wiegand frame: ${text.length} characters`, { context: { length: text.length }, hint: "give the frame as '0' and '1' characters, 26 or 34 of them" });
  }
  const bits = [...text].map((c) => (c === '1' ? 1 : 0) as Bit);
  const layout = LAYOUTS[format];
  const data = bits.slice(1, -1);
  const half = data.length / 2;
  if ((ones(data.slice(0, half)) + bits[0]) % 2 !== 0 || (ones(data.slice(half)) + bits[bits.length - 1]) % 2 !== 1) {
    throw new DoorError('DOOR_FRAME_INVALID', `${format} frame fails its parity check`, { context: { format }, hint: 'a bit was lost or flipped on the wire: read the frame again' });
  }
  const value = (b: readonly Bit[]): number => b.reduce<number>((n, x) => n * 2 + x, 0);
  return { format, facilityCode: value(data.slice(0, layout.facilityBits)), cardNumber: value(data.slice(layout.facilityBits)) };
}
