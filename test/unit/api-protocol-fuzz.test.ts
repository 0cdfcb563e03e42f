/**
 * Property-based fuzzing (fast-check, fixed seed, bounded runs) of the WebSocket message parser:
 * for any client frame, parseClientMessage never throws and returns either a message that the
 * rest of the server can use as it is (its filter accepted by the event filter, in JS and in SQL)
 * or a typed error whose code is one of the codes published in src/api/protocol.v1.json. An
 * accepted message never carries text a store cannot keep (a NUL, a lone surrogate).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { clientMessageSchema, parseClientMessage, type ParseResult } from '../../src/api/protocol.ts';
import { filterSql, matchesFilter, parseEventFilter } from '../../src/events/index.ts';
import { findBadText } from '../../src/lib/text.ts';

const MAX = 4096;
const SEED = 20261129;
const doc = JSON.parse(readFileSync(new URL('../../src/api/protocol.v1.json', import.meta.url), 'utf8')) as { $defs: { serverMessage: { oneOf: { properties: { type: { const?: string }; code?: { enum?: string[] } } }[] } } };
const PUBLISHED_CODES = new Set(doc.$defs.serverMessage.oneOf.find((o) => o.properties.type.const === 'error')?.properties.code?.enum ?? []);

/** The property: a usable message, or a published error; never an exception. */
function check(raw: string | Buffer): void {
  let r: ParseResult;
  try {
    r = parseClientMessage(raw, MAX);
  } catch (e) {
    throw new Error(`parseClientMessage threw ${String(e)} for ${JSON.stringify(String(raw).slice(0, 200))}`);
  }
  if (!r.ok) {
    if (r.error.type !== 'error' || !PUBLISHED_CODES.has(r.error.code)) throw new Error(`unpublished error ${JSON.stringify(r.error)}`);
    if (typeof r.error.message !== 'string' || r.error.message.length === 0 || r.error.message.length > 2000) throw new Error(`error message of ${r.error.message.length} chars`);
    return;
  }
  if (!clientMessageSchema.safeParse(r.message).success) throw new Error(`accepted a message its own schema rejects: ${JSON.stringify(r.message)}`);
  const bad = findBadText(r.message);
  if (bad) throw new Error(`accepted a message with ${bad.kind} at ${bad.path}: ${JSON.stringify(r.message)}`);
  if (r.message.type === 'subscribe') {
    // What the server does next with it: the bus filters in JS, the log replays in SQL.
    const filter = parseEventFilter(r.message.filter ?? {});
    filterSql(filter);
    matchesFilter({ type: 'gate.denied', cameraId: 'c', gateId: 'g', identityId: 'i' }, filter);
  }
}

const typePiece = fc.constantFrom('gate', 'GATE', 'denied', '*', '**', '.', '..', ' ', 'system', 'health', 'identity', '\u0000', 'é', '-', '_', 'a1');
const typePattern = fc.oneof(fc.array(typePiece, { maxLength: 6 }).map((p) => p.join('')), fc.string({ maxLength: 20 }), fc.constantFrom('gate.*', '*', 'gate.denied', 'gate.*.*', 'GATE.*', 'gate.denied '));
const idish = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('', 'front-door', 'x'.repeat(300), 'door\u0000', 'half\ud83d'), fc.integer(), fc.constant(null));
const filter = fc.record(
  { cameras: fc.array(idish, { maxLength: 4 }), gates: fc.array(idish, { maxLength: 4 }), types: fc.array(typePattern, { maxLength: 4 }), identities: fc.array(idish, { maxLength: 4 }), extra: fc.anything() },
  { requiredKeys: [] },
);
const subscribe = fc.record(
  { type: fc.constantFrom('subscribe', 'Subscribe', 'ping'), since: fc.oneof(fc.integer(), fc.double(), fc.constant(-1), fc.string({ maxLength: 5 }), fc.constant(Number.MAX_SAFE_INTEGER + 2)), filter: fc.oneof(filter, fc.anything()), nonce: fc.oneof(fc.string({ maxLength: 120 }), fc.integer(), fc.constantFrom('n\u0000', '\udfff')) },
  { requiredKeys: ['type'] },
);

/** Well-formed subscribes whose only doubt is the filter's type patterns. */
const typedSubscribe = fc.record({ type: fc.constant('subscribe'), since: fc.nat(), filter: fc.record({ types: fc.array(typePattern, { minLength: 1, maxLength: 3 }) }) }, { requiredKeys: ['type', 'filter'] });

t.test('structured client messages (subscribe / ping with random fields): usable or a published error', async (t) => {
  fc.assert(fc.property(fc.oneof(subscribe, typedSubscribe), (m) => check(JSON.stringify(m))), { seed: SEED, numRuns: 2000 });
  t.pass('2000 runs');
});

t.test('any JSON value: usable or a published error', async (t) => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => check(JSON.stringify(v))), { seed: SEED + 1, numRuns: 2000 });
  t.pass('2000 runs');
});

t.test('arbitrary text and bytes, including over the size limit: usable or a published error', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ minLength: MAX - 10, maxLength: MAX + 10 })), (s) => check(s)), { seed: SEED + 2, numRuns: 2000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(Buffer.from(b))), { seed: SEED + 3, numRuns: 2000 });
  t.pass('4000 runs');
});
