/**
 * replayThenLive over sync pages (a local log) and async pages (a remote history): events pushed
 * live while the replay runs are held and sent after it, every id once and in order; a long sync
 * replay yields to the event loop; unsubscribing mid-replay stops it.
 */
import t from 'tap';
import { Subject } from 'rxjs';
import { replayThenLive } from '../../src/lib/replay.ts';
import { HubFeed, type HubEvent } from '../../src/hub/feed.ts';

interface E {
  readonly id: number;
}
const ids = (n: number, from = 1): E[] => Array.from({ length: n }, (_, i) => ({ id: from + i }));

t.test('sync pages: replayed in the subscribing turn, then live; a live event during replay is sent once, after', async (t) => {
  const store = ids(25);
  const live$ = new Subject<E>();
  const got: number[] = [];
  let reads = 0;
  const sub = replayThenLive<E>({
    since: 3,
    live$,
    page: (after, limit) => {
      reads++;
      if (reads === 2) {
        // Published while replaying: it is in the store and on live.
        store.push({ id: 26 });
        live$.next({ id: 26 });
      }
      return store.filter((e) => e.id > after).slice(0, limit);
    },
    pageSize: 10,
    matches: (e) => e.id % 2 === 0,
  }).subscribe((e) => got.push(e.id));
  t.same(got, [4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26], 'replayed synchronously, filtered, 26 once');
  live$.next({ id: 26 });
  live$.next({ id: 28 });
  live$.next({ id: 27 });
  t.same(got.slice(-1), [28], 'live after: repeats and older ids dropped');
  sub.unsubscribe();
});

t.test('async pages: live events arriving between pages are held and sent after the history, in order', async (t) => {
  const history = ids(30);
  const live$ = new Subject<E>();
  const got: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub = replayThenLive<E>({
    since: 0,
    live$,
    page: async (after, limit) => {
      await new Promise((r) => setTimeout(r, 5));
      live$.next({ id: 100 + after }); // arrives while a page is on its way
      return history.filter((e) => e.id > after).slice(0, limit);
    },
    pageSize: 10,
    matches: () => true,
  }).subscribe((e) => {
    got.push(e.id);
    if (e.id === 130) done();
  });
  await finished;
  t.same(got, [...history.map((e) => e.id), 100, 110, 120, 130], 'history first, then the held live events');
  sub.unsubscribe();
});

t.test('a long sync replay yields to the event loop and stops when unsubscribed', async (t) => {
  const live$ = new Subject<E>();
  const got: number[] = [];
  let reads = 0;
  const sub = replayThenLive<E>({
    since: 0,
    live$,
    page: (after, limit) => {
      reads++;
      const end = performance.now() + 3; // a slow page
      while (performance.now() < end);
      return ids(limit, after + 1);
    },
    pageSize: 5,
    matches: () => true,
    sliceMs: 1,
  }).subscribe((e) => got.push(e.id));
  t.equal(reads, 1, 'one page, then it yielded');
  await new Promise((r) => setImmediate(r));
  t.ok(reads >= 2, 'went on after the yield');
  sub.unsubscribe();
  const after = reads;
  await new Promise((r) => setTimeout(r, 20));
  t.equal(reads, after, 'no more pages once unsubscribed');
});

t.test('HubFeed: a since older than the window pages the history, then the window, then live', async (t) => {
  const ev = (id: number): HubEvent => ({ id, type: 'gate.granted', timeMs: id, nodeId: 'n1', site: 's', nodeEventId: id });
  const history = Array.from({ length: 2500 }, (_, i) => ev(i + 1));
  const feed = new HubFeed(100, undefined, async (after, limit) => history.filter((e) => e.id > after).slice(0, limit));
  feed.push(history); // the window keeps the newest 100
  t.equal(feed.size(), 100);
  const got: number[] = [];
  const sub = feed.replayThenLive(5, {}).subscribe((e) => got.push(e.id));
  feed.push([ev(2501)]);
  await new Promise((r) => setTimeout(r, 50));
  feed.push([ev(2502)]);
  t.equal(got.length, 2497, 'every id after 5 once');
  t.same([got[0], got[got.length - 1]], [6, 2502]);
  t.ok(got.every((id, i) => i === 0 || id === got[i - 1] + 1), 'in order, no gap');
  sub.unsubscribe();
  feed.close();
});
