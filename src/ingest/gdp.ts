/**
 * Incremental parser for the GStreamer Data Protocol 1.0 as written by `gdppay`.
 *
 * Every packet is a fixed 62-byte header followed by `payloadLength` bytes:
 *   0 major (1)  1 minor (0)  2 flags (bit0 header CRC, bit1 payload CRC)  3 pad
 *   4 payload type u16 (1 buffer, 2 caps, >= 64 event: 64 + GstEventType)
 *   6 payload length u32   10 pts u64   18 duration u64   26 offset u64   34 offset_end u64
 *   42 buffer flags u16    44 dts u64   ...   58 header CRC u16   60 payload CRC u16
 * All big-endian; u64 all-ones means "none" (GST_CLOCK_TIME_NONE / GST_BUFFER_OFFSET_NONE).
 *
 * No I/O, no clock: feed it chunks as they come off the pipe. Chunks are never concatenated:
 * the 62-byte header is assembled in one reused buffer and buffer payloads are copied straight
 * into memory the caller provides (so a frame is copied exactly once in JS).
 */

export const GDP_HEADER_LENGTH = 62;
export const GDP_PAYLOAD_BUFFER = 1;
export const GDP_PAYLOAD_CAPS = 2;
export const GDP_PAYLOAD_EVENT_BASE = 64;
const FLAG_CRC_HEADER = 1;
/** GST_BUFFER_FLAG_DELTA_UNIT: not a key frame. */
export const GDP_FLAG_DELTA_UNIT = 1 << 13;
const U64_NONE = 0xffff_ffff_ffff_ffffn;

export interface GdpBufferPacket {
  readonly kind: 'buffer';
  /** Nanoseconds; undefined when GStreamer had none. */
  readonly pts: number | undefined;
  readonly duration: number | undefined;
  /** For raw video after videorate: the frame counter. Undefined when none. */
  readonly offset: number | undefined;
  /** GstBufferFlags (low 16 bits): DELTA_UNIT marks a frame that needs earlier ones to decode. */
  readonly flags: number;
  /** Decoding timestamp, ns; undefined when none. */
  readonly dts: number | undefined;
  /** The payload, in memory from `allocate` (exactly `length` bytes long view). */
  readonly data: Uint8Array;
}
export interface GdpCapsPacket {
  readonly kind: 'caps';
  readonly caps: string;
}
export interface GdpEventPacket {
  readonly kind: 'event';
  /** GstEventType number (GST_EVENT_TYPE >> 8): 40 stream-start, 70 segment, 28 eos... */
  readonly eventNumber: number;
  readonly structure: string;
  /** The packet's payload type as written (64 + the full GstEventType, flags included): what re-sending the event needs. */
  readonly payloadType: number;
}
export type GdpPacket = GdpBufferPacket | GdpCapsPacket | GdpEventPacket;

export class GdpProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GdpProtocolError';
  }
}

export interface GdpParserOptions {
  /**
   * Memory for a buffer payload of `size` bytes. Return a fresh buffer for a frame that will be
   * handed out, or a reused scratch one when the payload is copied again anyway.
   */
  readonly allocate?: (size: number) => Uint8Array;
  /** Reject absurd lengths (a desynced stream) before allocating. Default 256 MiB. */
  readonly maxPayloadBytes?: number;
  /**
   * Limit for caps and event payloads (text: a few hundred bytes in practice), so a corrupt header
   * cannot grow the parser's internal buffer to maxPayloadBytes. Default 1 MiB.
   */
  readonly maxMetaBytes?: number;
  /** Verify the header CRC when the packet says it has one. Default true. */
  readonly checkCrc?: boolean;
  /**
   * Refuse headers without a CRC. gdppay writes one by default (crc-header=true); requiring it
   * means a corrupted flags byte cannot switch the check off. Default false (accept both).
   */
  readonly requireHeaderCrc?: boolean;
}

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let j = i << 8;
    for (let k = 0; k < 8; k++) j = j & 0x8000 ? ((j << 1) ^ 0x1021) & 0xffff : (j << 1) & 0xffff;
    table[i] = j;
  }
  return table;
})();

/** The CRC-16 gdppay writes (CCITT polynomial, init 0xffff, final xor 0xffff). */
export function gdpCrc(bytes: Uint8Array, start: number, length: number): number {
  let crc = 0xffff;
  for (let i = start; i < start + length; i++) {
    crc = ((crc << 8) ^ CRC_TABLE[((crc >> 8) & 0xff) ^ bytes[i]]) & 0xffff;
  }
  return 0xffff ^ crc;
}

function u64(view: DataView, at: number): number | undefined {
  const v = view.getBigUint64(at, false);
  return v === U64_NONE ? undefined : Number(v);
}

/** A caps or event payload as gdppay writes it: the string and its NUL; none for an event without a structure. */
export function gdpStringPayload(text: string): Uint8Array {
  return text === '' ? new Uint8Array(0) : Buffer.from(`${text}\0`, 'utf8');
}

/** Decode a NUL-terminated string payload. */
function cString(bytes: Uint8Array, length: number): string {
  let end = bytes.indexOf(0);
  if (end < 0 || end > length) end = length;
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8');
}

export class GdpParser {
  private readonly header = new Uint8Array(GDP_HEADER_LENGTH);
  private readonly headerView = new DataView(this.header.buffer);
  private headerFill = 0;
  private payload: Uint8Array | undefined;
  private payloadFill = 0;
  private payloadLength = 0;
  private payloadType = 0;
  private smallPayload = new Uint8Array(4096);
  private readonly allocate: (size: number) => Uint8Array;
  private readonly maxPayloadBytes: number;
  private readonly maxMetaBytes: number;
  private readonly checkCrc: boolean;
  private readonly requireHeaderCrc: boolean;
  private broken: GdpProtocolError | undefined;

  constructor(opts: GdpParserOptions = {}) {
    this.allocate = opts.allocate ?? ((size) => Buffer.allocUnsafeSlow(size));
    this.maxPayloadBytes = opts.maxPayloadBytes ?? 256 * 1024 * 1024;
    this.maxMetaBytes = Math.min(this.maxPayloadBytes, opts.maxMetaBytes ?? 1024 * 1024);
    this.checkCrc = opts.checkCrc ?? true;
    this.requireHeaderCrc = opts.requireHeaderCrc ?? false;
  }

  /** True between packets (nothing half-read). */
  get idle(): boolean {
    return this.headerFill === 0 && this.payload === undefined;
  }

  /**
   * Consume one chunk; calls `emit` for each complete packet, in order. Throws GdpProtocolError on
   * a corrupt stream, after which the parser stays broken (the pipe has lost framing for good).
   */
  push(chunk: Uint8Array, emit: (packet: GdpPacket) => void): void {
    if (this.broken) throw this.broken;
    let at = 0;
    while (at < chunk.length) {
      if (this.payload === undefined) {
        const take = Math.min(GDP_HEADER_LENGTH - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill < GDP_HEADER_LENGTH) return;
        this.startPayload();
        if (this.payloadLength === 0) this.finishPacket(emit);
        continue;
      }
      const take = Math.min(this.payloadLength - this.payloadFill, chunk.length - at);
      this.payload.set(chunk.subarray(at, at + take), this.payloadFill);
      this.payloadFill += take;
      at += take;
      if (this.payloadFill === this.payloadLength) this.finishPacket(emit);
    }
  }

  private fail(message: string): never {
    this.broken = new GdpProtocolError(message);
    throw this.broken;
  }

  private startPayload(): void {
    const h = this.header;
    const v = this.headerView;
    if (h[0] !== 1 || h[1] !== 0) this.fail(`GDP: bad version ${h[0]}.${h[1]} (stream out of sync?)`);
    if (this.requireHeaderCrc && !(h[2] & FLAG_CRC_HEADER)) this.fail('GDP: header without CRC (stream out of sync?)');
    if (this.checkCrc && h[2] & FLAG_CRC_HEADER) {
      const expected = v.getUint16(58, false);
      const actual = gdpCrc(h, 0, 58);
      if (expected !== actual) this.fail(`GDP: header CRC mismatch (${actual} != ${expected})`);
    }
    this.payloadType = v.getUint16(4, false);
    this.payloadLength = v.getUint32(6, false);
    if (this.payloadLength > this.maxPayloadBytes) this.fail(`GDP: payload of ${this.payloadLength} bytes is too large`);
    this.payloadFill = 0;
    if (this.payloadType === GDP_PAYLOAD_BUFFER) {
      const target = this.allocate(this.payloadLength);
      if (target.length < this.payloadLength) this.fail('GDP: allocate() returned a buffer that is too small');
      this.payload = target.subarray(0, this.payloadLength);
    } else {
      if (this.payloadLength > this.maxMetaBytes) this.fail(`GDP: caps/event payload of ${this.payloadLength} bytes is too large`);
      if (this.smallPayload.length < this.payloadLength) this.smallPayload = new Uint8Array(this.payloadLength);
      this.payload = this.smallPayload.subarray(0, this.payloadLength);
    }
  }

  private finishPacket(emit: (packet: GdpPacket) => void): void {
    const v = this.headerView;
    const payload = this.payload ?? new Uint8Array(0);
    const type = this.payloadType;
    this.payload = undefined;
    this.headerFill = 0;
    if (type === GDP_PAYLOAD_BUFFER) {
      emit({ kind: 'buffer', pts: u64(v, 10), duration: u64(v, 18), offset: u64(v, 26), flags: v.getUint16(42, false), dts: u64(v, 44), data: payload });
    } else if (type === GDP_PAYLOAD_CAPS) {
      emit({ kind: 'caps', caps: cString(payload, this.payloadLength) });
    } else if (type >= GDP_PAYLOAD_EVENT_BASE) {
      emit({ kind: 'event', eventNumber: (type - GDP_PAYLOAD_EVENT_BASE) >> 8, structure: cString(payload, this.payloadLength), payloadType: type });
    }
    // type 0 (none) and unknown types are skipped: forward compatible.
  }
}

/**
 * Build a GDP packet (header + payload), as gdppay would: for tests, and for re-sending a parsed
 * packet to a `gdpdepay` (a caps or event payload is its NUL-terminated string, as gdppay writes it).
 */
export function encodeGdpPacket(
  type: number,
  payload: Uint8Array,
  fields: { pts?: number; duration?: number; offset?: number; flags?: number; dts?: number; crc?: boolean } = {},
): Uint8Array {
  const out = new Uint8Array(GDP_HEADER_LENGTH + payload.length);
  const v = new DataView(out.buffer);
  out[0] = 1;
  out[1] = 0;
  out[2] = fields.crc === false ? 0 : FLAG_CRC_HEADER;
  v.setUint16(4, type, false);
  v.setUint32(6, payload.length, false);
  const put = (at: number, n: number | undefined) => v.setBigUint64(at, n === undefined ? U64_NONE : BigInt(n), false);
  put(10, fields.pts);
  put(18, fields.duration);
  put(26, fields.offset);
  put(34, fields.offset === undefined ? undefined : fields.offset + 1);
  v.setUint16(42, fields.flags ?? 0, false);
  put(44, fields.dts);
  if (fields.crc !== false) v.setUint16(58, gdpCrc(out, 0, 58), false);
  out.set(payload, GDP_HEADER_LENGTH);
  return out;
}
