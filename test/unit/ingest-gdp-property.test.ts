/**
 * Property tests of the GDP parser (src/ingest/gdp.ts) with fast-check, fixed seed, bounded runs:
 * arbitrary bytes cut anywhere never throw anything but GdpProtocolError and never allocate more
 * than the configured limit; valid packet streams round-trip however they are chunked.
 */
import fc from 'fast-check';
import t from 'tap';
import { encodeGdpPacket, GdpParser, GdpProtocolError, type GdpPacket } from '../../src/ingest/index.ts';

const SEED = 1414;

/** Cut `bytes` at the given fractions (sorted, deduplicated) into chunks. */
function chunked(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) out.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 });

t.test('arbitrary bytes, arbitrary chunking: only GdpProtocolError, bounded allocation, stays broken', async (t) => {
  const LIMIT = 64 * 1024;
  let threw = 0;
  let parsedSome = 0;
  // Half the cases start like a real header (version 1.0) so the parser gets past the first check.
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 4096 }),
    fc.tuple(fc.uint8Array({ minLength: 60, maxLength: 4096 }), fc.boolean()).map(([b, crc]) => {
      const c = Uint8Array.from(b);
      c[0] = 1;
      c[1] = 0;
      c[2] = crc ? 1 : 0;
      // A plausible payload length (most random u32 lengths are refused at once).
      new DataView(c.buffer).setUint32(6, c[7] % 128, false);
      return c;
    }),
  );
  fc.assert(
    fc.property(bytesArb, cutsArb, (bytes, cuts) => {
      let allocated = 0;
      const parser = new GdpParser({
        maxPayloadBytes: LIMIT,
        allocate: (size) => {
          allocated = Math.max(allocated, size);
          return new Uint8Array(size);
        },
      });
      let error: unknown;
      for (const chunk of chunked(bytes, cuts)) {
        try {
          parser.push(chunk, () => parsedSome++);
        } catch (e) {
          error = e;
          break;
        }
      }
      if (allocated > LIMIT) throw new Error(`allocated ${allocated} > ${LIMIT}`);
      if (error !== undefined) {
        threw++;
        if (!(error instanceof GdpProtocolError)) throw new Error(`foreign error: ${String(error)}`);
        let again: unknown;
        try {
          parser.push(new Uint8Array(1), () => {});
        } catch (e) {
          again = e;
        }
        if (again !== error) throw new Error('a broken parser must keep refusing');
      }
    }),
    { seed: SEED, numRuns: 1500 },
  );
  t.ok(threw > 100, `corrupt streams were refused (${threw} of 1500)`);
  t.ok(parsedSome > 0, `some random headers (CRC off) parsed as packets (${parsedSome})`);
});

t.test('a header claiming a 4 GB payload is refused before anything is allocated', async (t) => {
  for (const crc of [true, false]) {
    for (const type of [1, 2, 64 + (40 << 8)]) {
      const h = encodeGdpPacket(type, new Uint8Array(0), { crc: false });
      new DataView(h.buffer).setUint32(6, 0xffff_ffff, false);
      if (crc) {
        const { gdpCrc } = await import('../../src/ingest/gdp.ts');
        h[2] = 1;
        new DataView(h.buffer).setUint16(58, gdpCrc(h, 0, 58), false);
      }
      let allocations = 0;
      const parser = new GdpParser({ allocate: (n) => (allocations++, new Uint8Array(n)) });
      t.throws(() => parser.push(h, () => {}), GdpProtocolError, `type ${type}, crc ${crc}`);
      t.equal(allocations, 0, 'nothing allocated');
    }
  }
  // Caps/events are text: even below the frame limit, a 100 MiB caps payload is refused.
  const caps = encodeGdpPacket(2, new Uint8Array(0));
  new DataView(caps.buffer).setUint32(6, 100 * 1024 * 1024, false);
  const { gdpCrc } = await import('../../src/ingest/gdp.ts');
  new DataView(caps.buffer).setUint16(58, gdpCrc(caps, 0, 58), false);
  t.throws(() => new GdpParser().push(caps, () => {}), /caps\/event payload .* too large/);
});

type Spec =
  | { kind: 'buffer'; data: Uint8Array; pts: number | undefined; duration: number | undefined; offset: number | undefined }
  | { kind: 'caps'; caps: string }
  | { kind: 'event'; eventNumber: number; structure: string };

const u53 = fc.option(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 2 }), { nil: undefined });
const textArb = fc.string({ maxLength: 200 }).map((s) => s.replace(/\0/g, ''));
const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant('buffer' as const), data: fc.uint8Array({ maxLength: 3000 }), pts: u53, duration: u53, offset: u53 }),
  fc.record({ kind: fc.constant('caps' as const), caps: textArb }),
  fc.record({ kind: fc.constant('event' as const), eventNumber: fc.integer({ min: 0, max: 255 }), structure: textArb }),
);

function encode(s: Spec, crc: boolean): Uint8Array {
  if (s.kind === 'buffer') return encodeGdpPacket(1, s.data, { pts: s.pts, duration: s.duration, offset: s.offset, crc });
  const text = new TextEncoder().encode(s.kind === 'caps' ? s.caps : s.structure);
  const payload = concat([text, new Uint8Array([0])]);
  return encodeGdpPacket(s.kind === 'caps' ? 2 : 64 + (s.eventNumber << 8), payload, { crc });
}

function same(p: GdpPacket, s: Spec): boolean {
  if (p.kind !== s.kind) return false;
  if (p.kind === 'buffer' && s.kind === 'buffer') {
    return p.pts === s.pts && p.duration === s.duration && p.offset === s.offset && Buffer.from(p.data).equals(Buffer.from(s.data));
  }
  if (p.kind === 'caps' && s.kind === 'caps') return p.caps === s.caps;
  if (p.kind === 'event' && s.kind === 'event') return p.eventNumber === s.eventNumber && p.structure === s.structure;
  return false;
}

t.test('valid packet streams round-trip regardless of chunking', async (t) => {
  let packets = 0;
  fc.assert(
    fc.property(fc.array(specArb, { maxLength: 12 }), fc.boolean(), cutsArb, (specs, crc, cuts) => {
      const stream = concat(specs.map((s) => encode(s, crc)));
      const parser = new GdpParser();
      const got: GdpPacket[] = [];
      for (const chunk of chunked(stream, cuts)) parser.push(chunk, (p) => got.push(p.kind === 'buffer' ? { ...p, data: Uint8Array.from(p.data) } : p));
      if (got.length !== specs.length) throw new Error(`${got.length} packets, expected ${specs.length}`);
      specs.forEach((s, i) => {
        if (!same(got[i], s)) throw new Error(`packet ${i} differs`);
      });
      if (!parser.idle) throw new Error('parser not idle after whole packets');
      packets += specs.length;
    }),
    { seed: SEED, numRuns: 400 },
  );
  t.ok(packets > 1000, `${packets} packets round-tripped`);
});

t.test('a flipped header byte in a CRC-protected stream is refused, never misparsed', async (t) => {
  fc.assert(
    fc.property(fc.array(specArb, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (specs, pick, xor) => {
      const encoded = specs.map((s) => encode(s, true));
      const which = pick % encoded.length;
      const at = pick % 60; // header bytes covered by the CRC (0..57) plus the CRC itself
      const corrupted = encoded.map((e, i) => (i === which ? Uint8Array.from(e) : e));
      corrupted[which][at] ^= xor;
      const parser = new GdpParser({ requireHeaderCrc: true });
      const got: GdpPacket[] = [];
      try {
        parser.push(concat(corrupted), (p) => got.push(p));
      } catch (e) {
        if (!(e instanceof GdpProtocolError)) throw e;
        if (got.length > which) throw new Error('a packet at or after the corruption was emitted');
        return;
      }
      throw new Error(`corruption at packet ${which} byte ${at} went unnoticed`);
    }),
    { seed: SEED, numRuns: 500 },
  );
  t.pass('500 corruptions refused');
});
