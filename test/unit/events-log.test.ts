import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EventLog, EventsError, matchesFilter, parseEventFilter, type Event, type EventFilter, type NewEvent } from '../../src/events/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-events-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const stalled = (cameraId: string, timeMs: number): NewEvent => ({ type: 'camera.stalled', cameraId, timeMs, data: { silentMs: 1000 } });
const denied = (gateId: string, cameraId: string, identityId: string | undefined, timeMs: number): NewEvent => ({
  type: 'gate.denied',
  gateId,
  cameraId,
  trackId: `${cameraId}:1`,
  ...(identityId ? { identityId } : {}),
  timeMs,
  data: { reason: 'not-allowed', masked: false },
});
const health = (timeMs: number): NewEvent => ({ type: 'system.health', timeMs, data: { status: 'ok' } });

t.test('append assigns monotonic ids, durable settings, canonical events', async (t) => {
  const log = new EventLog(join(tmp(t), 'sub', 'events.db'));
  t.teardown(() => log.close());
  t.same(log.settings(), { journalMode: 'wal', synchronous: 2 }, 'WAL + synchronous=FULL');
  t.equal(log.lastId(), 0);
  const a = log.append(stalled('cam1', T0));
  const b = log.append(health(T0 + 1));
  t.equal(a.id, 1);
  t.equal(b.id, 2);
  t.same(a, { v: 1, id: 1, type: 'camera.stalled', time: '2026-01-05T10:00:00.000Z', timeMs: T0, cameraId: 'cam1', data: { silentMs: 1000 } });
  t.same(log.get(1), a, 'read back equal');
  t.equal(log.get(99), undefined);
  t.equal(log.lastId(), 2);
  const many = log.appendMany([health(T0 + 2), health(T0 + 3), health(T0 + 4)]);
  t.same(many.map((e) => e.id), [3, 4, 5]);
  t.throws(() => log.appendMany([health(T0 + 5), { type: 'system.health', timeMs: T0, data: { status: 'fine' } } as unknown as NewEvent]), EventsError);
  t.equal(log.count(), 5, 'a batch with an invalid event appends nothing');
  t.same(log.countByType(), { 'camera.stalled': 1, 'system.health': 4 });
});

t.test('invalid events are refused with a clear message', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  try {
    log.append({ type: 'camera.stalled', timeMs: T0, data: { silentMs: 1 } } as unknown as NewEvent);
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof EventsError);
    t.equal((e as EventsError).code, 'EVENT_INVALID');
    t.match((e as EventsError).message, /invalid camera\.stalled event: cameraId/);
    t.match((e as EventsError).describe(), /schema\.v1\.json/);
  }
  t.throws(() => log.append({ type: 'system.health', timeMs: Number.NaN, data: { status: 'ok' } }), { code: 'EVENT_INVALID' });
  t.equal(log.lastId(), 0, 'no id consumed');
});

t.test('ids stay monotonic across reopen, even after everything was pruned', async (t) => {
  const file = join(tmp(t), 'events.db');
  let log = new EventLog(file, { retention: { maxCount: 0 } });
  for (let i = 0; i < 10; i++) log.append(health(T0 + i));
  log.close();
  log = new EventLog(file, { retention: { maxCount: 0 } });
  t.equal(log.lastId(), 10);
  t.equal(log.append(health(T0 + 10)).id, 11);
  t.same(log.prune(T0), { byAge: 0, byCount: 11 });
  t.equal(log.count(), 0);
  t.equal(log.lastId(), 11, 'lastId survives the prune');
  log.close();
  log = new EventLog(file);
  t.equal(log.append(health(T0 + 11)).id, 12, 'never reused');
  t.same(log.since(0).map((e) => e.id), [12]);
  log.close();
});

t.test('since: after an id, filtered, limited, oldest first', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  log.append(stalled('cam1', T0)); // 1
  log.append(denied('front', 'cam1', 'alice', T0 + 1)); // 2
  log.append(denied('back', 'cam2', 'bob', T0 + 2)); // 3
  log.append(health(T0 + 3)); // 4
  log.append(stalled('cam2', T0 + 4)); // 5
  log.append({ type: 'gate.opened', gateId: 'front', timeMs: T0 + 5, data: { action: 'open', by: 'g', reason: 'r' } }); // 6
  const ids = (after: number, f: EventFilter = {}, limit?: number): number[] => log.since(after, f, limit).map((e) => e.id);
  t.same(ids(0), [1, 2, 3, 4, 5, 6]);
  t.same(ids(4), [5, 6]);
  t.same(ids(6), []);
  t.same(ids(0, {}, 2), [1, 2]);
  t.same(ids(-5, {}, 1), [1], 'negative id = from the start');
  t.same(ids(0, { cameras: ['cam2'] }), [3, 5]);
  t.same(ids(0, { gates: ['front'] }), [2, 6]);
  t.same(ids(0, { identities: ['alice', 'bob'] }), [2, 3]);
  t.same(ids(0, { types: ['gate.*'] }), [2, 3, 6]);
  t.same(ids(0, { types: ['camera.stalled', 'system.health'] }), [1, 4, 5]);
  t.same(ids(0, { types: ['*'], cameras: [] }), [1, 2, 3, 4, 5, 6], 'empty lists do not restrict');
  t.same(ids(0, { types: ['gate.*'], cameras: ['cam1'] }), [2], 'conjunction');
  t.same(ids(1, { cameras: ['cam1'] }), [2], 'a camera filter excludes events without a camera');
  t.throws(() => log.since(0, { types: ["gate.%' OR 1=1 --"] }), { code: 'EVENT_FILTER_INVALID' });
  // Types with an underscore are exact types like any other (they were refused as patterns once).
  log.append({ type: 'gate.actuation_failed', gateId: 'front', timeMs: T0 + 6, data: { action: 'open', trigger: 'gate.granted', triggerId: 2, outcomes: [{ target: 'webhook', ok: false, attempts: 3, durationMs: 40, error: 'timeout' }] } }); // 7
  t.same(ids(0, { types: ['gate.actuation_failed'] }), [7]);
  t.same(ids(0, { types: ['gate.*'] }), [2, 3, 6, 7]);
  for (const bad of ['gate._x', 'gate.x_', 'gate__x', 'Gate.x', 'gate.x_*']) t.throws(() => log.since(0, { types: [bad] }), { code: 'EVENT_FILTER_INVALID' }, bad);
});

t.test('query: by time range, types, routing ids, order and limit', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  // Appended out of time order on purpose: query orders by time, since() by id.
  log.append(health(T0 + 3000)); // 1
  log.append(stalled('cam1', T0 + 1000)); // 2
  log.append(denied('front', 'cam1', 'alice', T0 + 2000)); // 3
  log.append(denied('front', 'cam2', 'bob', T0 + 4000)); // 4
  const ids = (q: Parameters<EventLog['query']>[0]): number[] => log.query(q).map((e) => e.id);
  t.same(ids({}), [2, 3, 1, 4]);
  t.same(ids({ fromMs: T0 + 2000, toMs: T0 + 4000 }), [3, 1], 'from inclusive, to exclusive');
  t.same(ids({ types: ['gate.denied'] }), [3, 4]);
  t.same(ids({ types: ['gate.*', 'system.*'], order: 'desc' }), [4, 1, 3]);
  t.same(ids({ cameraId: 'cam1' }), [2, 3]);
  t.same(ids({ gateId: 'front', identityId: 'bob' }), [4]);
  t.same(ids({ limit: 2, order: 'desc' }), [4, 1]);
  t.same(ids({ limit: 0 }), [2], 'limit clamps to at least 1');
  t.throws(() => log.query({ types: ['bad type'] }), { code: 'EVENT_FILTER_INVALID' });
});

t.test('prune: by age and by count', async (t) => {
  const log = new EventLog(':memory:', { retention: { maxAgeMs: 60_000, maxCount: 3 } });
  t.teardown(() => log.close());
  for (let i = 0; i < 10; i++) log.append(health(T0 + i * 10_000)); // T0 .. T0+90s
  t.same(log.prune(T0 + 100_000), { byAge: 4, byCount: 3 }, '4 older than 60 s, then keep the newest 3');
  t.same(log.since(0).map((e) => e.id), [8, 9, 10]);
  t.same(log.prune(T0 + 100_000), { byAge: 0, byCount: 0 }, 'idempotent');
  const none = new EventLog(':memory:');
  none.append(health(0));
  t.same(none.prune(1e15), { byAge: 0, byCount: 0 }, 'no retention, nothing pruned');
  none.close();
});

t.test('a log from a newer facegate is refused', async (t) => {
  const file = join(tmp(t), 'events.db');
  const raw = new Database(file);
  raw.pragma('user_version = 2');
  raw.close();
  t.throws(() => new EventLog(file), { code: 'EVENT_LOG_VERSION' });
  // A directory that cannot exist: its parent is a regular file.
  t.throws(() => new EventLog(join(file, 'sub', 'events.db')), { code: 'EVENT_LOG_FAILED' });
});

t.test('matchesFilter and the SQL filter agree on random events and filters', async (t) => {
  const rand = mulberry32(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const cams = ['cam1', 'cam2', 'cam3'];
  const gates = ['front', 'back'];
  const people = ['alice', 'bob', undefined];
  for (let i = 0; i < 300; i++) {
    const k = rand();
    if (k < 0.25) log.append(stalled(pick(cams), T0 + i));
    else if (k < 0.6) log.append(denied(pick(gates), pick(cams), pick(people), T0 + i));
    else if (k < 0.8) log.append({ type: 'gate.opened', gateId: pick(gates), timeMs: T0 + i, data: { action: 'open', by: 'g', reason: 'r' } });
    else log.append(health(T0 + i));
  }
  const all = log.since(0, {}, 10_000);
  const subset = <T>(xs: readonly T[]): T[] | undefined => (rand() < 0.4 ? undefined : xs.filter(() => rand() < 0.5));
  for (let k = 0; k < 200; k++) {
    const filter = parseEventFilter({
      cameras: subset(cams),
      gates: subset(gates),
      identities: subset(['alice', 'bob', 'carol']),
      types: subset(['gate.*', 'gate.denied', 'camera.stalled', 'system.health', 'camera.*', '*', 'gate']),
      // A box's events have no fleet origin: a node or site list matches none of them, in both.
      nodes: rand() < 0.1 ? ['door-1'] : undefined,
      sites: rand() < 0.1 ? ['hq'] : undefined,
    });
    const expected = all.filter((e: Event) => matchesFilter(e, filter)).map((e) => e.id);
    const got = log.since(0, filter, 10_000).map((e) => e.id);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.fail(`disagree on ${JSON.stringify(filter)}`);
      return;
    }
  }
  t.pass('200 random filters agree');
  t.throws(() => parseEventFilter({ cameras: 'cam1' }), { code: 'EVENT_FILTER_INVALID' });
  t.throws(() => parseEventFilter({ types: ['gate.%'] }), { code: 'EVENT_FILTER_INVALID' });
  t.throws(() => parseEventFilter({ cameraz: ['x'] }), { code: 'EVENT_FILTER_INVALID' });
  t.same(parseEventFilter(undefined), {});
});
