import { setImmediate as tick } from 'node:timers/promises';
import t from 'tap';
import { EventBus, EventLog, EventsError, matchesFilter, type Event, type EventFilter, type NewEvent } from '../../src/events/index.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');
let clock = 0;
const kinds = (i: number): NewEvent => {
  const timeMs = T0 + ++clock;
  switch (i % 4) {
    case 0:
      return { type: 'camera.stalled', cameraId: i % 8 === 0 ? 'cam1' : 'cam2', timeMs, data: { silentMs: i } };
    case 1:
      return { type: 'gate.denied', gateId: 'front', cameraId: 'cam1', trackId: `cam1:${i}`, identityId: 'alice', timeMs, data: { reason: 'cooldown', masked: false } };
    case 2:
      return { type: 'gate.opened', gateId: 'back', timeMs, data: { action: 'open', by: 'g', reason: String(i) } };
    default:
      return { type: 'system.health', timeMs, data: { status: 'ok', uptimeMs: i } };
  }
};

function strictlyIncreasing(ids: readonly number[]): boolean {
  return ids.every((id, i) => i === 0 || id > ids[i - 1]);
}

t.test('publish appends to the log before any subscriber sees the event', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log);
  const seen: boolean[] = [];
  bus.events$.subscribe((e) => seen.push(log.get(e.id) !== undefined));
  const e = bus.publish(kinds(3));
  t.equal(e.id, 1);
  t.same(seen, [true]);
  const got: Event[] = [];
  bus.events$.subscribe((x) => got.push(x));
  t.throws(() => bus.publish({ type: 'system.health', timeMs: T0, data: {} } as unknown as NewEvent), EventsError);
  t.equal(got.length, 0, 'an event the log refused is not published');
  t.equal(log.count(), 1);
});

t.test('live(filter) and close()', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log);
  const got: number[] = [];
  let completed = false;
  bus.live({ gates: ['front'] }).subscribe({ next: (e) => got.push(e.id), complete: () => (completed = true) });
  for (let i = 0; i < 8; i++) bus.publish(kinds(i));
  t.same(got, [2, 6]);
  bus.close();
  t.ok(completed);
});

t.test('re-entrant publishes reach every subscriber in id order', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log);
  const first: number[] = [];
  const second: number[] = [];
  bus.events$.subscribe((e) => {
    first.push(e.id);
    if (e.id < 3) bus.publish(kinds(e.id)); // publish from inside next()
  });
  bus.events$.subscribe((e) => second.push(e.id));
  const e = bus.publish(kinds(0));
  t.equal(e.id, 1, 'publish returns its logged event at once');
  t.same(first, [1, 2, 3]);
  t.same(second, [1, 2, 3], 'a plain Subject would hand the nested events to this one first: [3, 2, 1]');
});

t.test('replayThenLive: the backlog, then live, resuming after sinceId', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log, { replayPageSize: 3, replaySliceMs: 0 });
  for (let i = 0; i < 10; i++) bus.publish(kinds(i));
  const got: number[] = [];
  const sub = bus.replayThenLive(4).subscribe((e) => got.push(e.id));
  t.same(got, [5, 6, 7], 'first page synchronously');
  await tick();
  await tick();
  await tick();
  t.same(got, [5, 6, 7, 8, 9, 10]);
  bus.publish(kinds(10));
  t.same(got, [5, 6, 7, 8, 9, 10, 11], 'live after the backlog');
  sub.unsubscribe();
  bus.publish(kinds(11));
  t.equal(got.length, 7, 'unsubscribed');

  const future: number[] = [];
  bus.replayThenLive(1000).subscribe((e) => future.push(e.id));
  bus.publish(kinds(12));
  t.same(future, [13], 'sinceId beyond the log: live only');
  const fromStart: number[] = [];
  bus.replayThenLive(-1, { types: ['gate.opened'] }).subscribe((e) => fromStart.push(e.id));
  for (let i = 0; i < 5; i++) await tick();
  t.same(fromStart, [3, 7, 11]);
});

/**
 * The seam under fire: a big backlog read in small pages across many event-loop turns, while a
 * concurrent publisher publishes on every turn, and a subscriber publishes re-entrantly from its
 * own next(). Every subscriber must see exactly the logged events after its sinceId that match
 * its filter, in id order, once each.
 */
/** tap's Test type (the callback parameter of the last t.test overload). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

async function seamScenario(t: TapTest, pageSize: number, backlog: number, concurrent: number): Promise<void> {
  const log = new EventLog(':memory:');
  // One page per event-loop turn: the replay spans many turns, publishes land between pages.
  const bus = new EventBus(log, { replayPageSize: pageSize, replaySliceMs: 0 });
  for (let i = 0; i < backlog; i++) bus.publish(kinds(i));
  const seamId = log.lastId();

  const subscribers: { sinceId: number; filter: EventFilter; got: number[]; reentrant: boolean }[] = [
    { sinceId: 0, filter: {}, got: [], reentrant: false },
    { sinceId: Math.floor(backlog / 3), filter: {}, got: [], reentrant: true },
    { sinceId: 5, filter: { types: ['gate.*'] }, got: [], reentrant: false },
    { sinceId: 0, filter: { cameras: ['cam1'] }, got: [], reentrant: true },
    { sinceId: backlog, filter: {}, got: [], reentrant: false },
  ];
  const errors: unknown[] = [];
  let reentrantLeft = 40;
  let publishedDuringReplay = 0;
  let caughtUp = 0;
  for (const s of subscribers) {
    let reached = false;
    bus.replayThenLive(s.sinceId, s.filter).subscribe({
      error: (e: unknown) => errors.push(e),
      next: (e) => {
        s.got.push(e.id);
        if (!reached && e.id >= seamId) {
          reached = true;
          caughtUp++;
        }
        // Re-entrant publish from inside next(), during replay and live alike.
        if (s.reentrant && reentrantLeft > 0 && e.id % 13 === 0) {
          reentrantLeft--;
          bus.publish(kinds(e.id * 7));
        }
      },
    });
  }
  // Concurrent publisher: one event per event-loop turn and per timer, interleaved with the replay pages.
  let n = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      if (caughtUp < subscribers.length) publishedDuringReplay++;
      bus.publish(kinds(backlog + n));
      if (++n % 5 === 0) setTimeout(() => bus.publish(kinds(backlog + n + 100_000)), 0);
      if (n < concurrent) setImmediate(step);
      else setTimeout(resolve, 5);
    };
    setImmediate(step);
  });
  // Let every replay drain (page size 1 needs a turn per event; re-entrant publishes add more).
  const expectedFor = (s: (typeof subscribers)[number]): number[] =>
    log
      .since(0, {}, 1_000_000)
      .filter((e) => e.id > s.sinceId && matchesFilter(e, s.filter))
      .map((e) => e.id);
  const done = (): boolean => subscribers.every((s) => s.got.length === expectedFor(s).length);
  for (let i = 0; i < 5000 && !done(); i++) await tick();
  for (let i = 0; i < 5; i++) await tick();
  const all = log.since(0, {}, 1_000_000);

  t.ok(publishedDuringReplay > 0, `${publishedDuringReplay} events published while replays were running`);
  for (const [k, s] of subscribers.entries()) {
    const expected = all.filter((e) => e.id > s.sinceId && matchesFilter(e, s.filter)).map((e) => e.id);
    t.ok(strictlyIncreasing(s.got), `subscriber ${k}: ids strictly increasing (no duplicate)`);
    t.same(s.got, expected, `subscriber ${k}: exactly the logged events after ${s.sinceId} (no gap), ${expected.length} events`);
  }
  t.same(errors, [], 'no subscriber errored');
  bus.close();
  log.close();
}

t.test('replay-then-live seam under concurrent publishing: page size 7', (t) => seamScenario(t, 7, 1000, 300));
t.test('replay-then-live seam under concurrent publishing: page size 1', (t) => seamScenario(t, 1, 200, 300));
t.test('replay-then-live seam under concurrent publishing: page size 500', (t) => seamScenario(t, 500, 3000, 100));

t.test('unsubscribing during replay stops reading; close during replay completes after the backlog', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log, { replayPageSize: 2, replaySliceMs: 0 });
  for (let i = 0; i < 10; i++) bus.publish(kinds(i));
  const got: number[] = [];
  const sub = bus.replayThenLive(0).subscribe((e) => {
    got.push(e.id);
    if (e.id === 3) sub.unsubscribe();
  });
  for (let i = 0; i < 10; i++) await tick();
  t.same(got, [1, 2, 3]);

  const got2: number[] = [];
  let completed = false;
  bus.replayThenLive(0).subscribe({ next: (e) => got2.push(e.id), complete: () => (completed = true) });
  bus.close();
  t.notOk(completed, 'still replaying');
  for (let i = 0; i < 10; i++) await tick();
  t.same(got2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.ok(completed, 'completed once drained');
});

t.test('a time slice reads page after page in one turn', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const bus = new EventBus(log, { replayPageSize: 10, replaySliceMs: 60_000 });
  for (let i = 0; i < 100; i++) bus.publish(kinds(i));
  const got: number[] = [];
  bus.replayThenLive(0).subscribe((e) => got.push(e.id));
  t.equal(got.length, 100, 'all ten pages synchronously');
});

t.test('a log failure during replay is an error on the subscriber', async (t) => {
  const log = new EventLog(':memory:');
  const bus = new EventBus(log, { replayPageSize: 2, replaySliceMs: 0 });
  for (let i = 0; i < 6; i++) bus.publish(kinds(i));
  let err: unknown;
  bus.replayThenLive(0).subscribe({ error: (e) => (err = e) });
  log.close();
  for (let i = 0; i < 5; i++) await tick();
  t.ok(err instanceof Error, 'errored, not hung');
});
