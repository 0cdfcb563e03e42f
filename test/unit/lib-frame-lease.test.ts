import t from 'tap';
import { BufferPool, createFrameLease, holdFrame, releaseFrame } from '../../src/lib/frame-lease.ts';
import type { Frame } from '../../src/types.ts';

t.test('BufferPool: a given-back buffer takes the next frame; fresh ones only when none is free', async (t) => {
  const pool = new BufferPool();
  const a = pool.take(12);
  const b = pool.take(12);
  t.not(a, b, 'two frames in flight: two buffers');
  t.same(pool.stats, { allocated: 2, reused: 0, discarded: 0, trimmed: 0 });
  pool.give(a, 0);
  t.equal(pool.take(12), a, 'the released one is reused');
  t.equal(pool.stats.reused, 1);
  t.not(pool.take(12), b, 'b was never given back: a fresh one');
  t.equal(pool.stats.allocated, 3);
});

t.test('BufferPool: new caps drop the old size; the free list is bounded', async (t) => {
  const pool = new BufferPool({ maxFree: 2 });
  const old = [pool.take(8), pool.take(8), pool.take(8)];
  for (const b of old) pool.give(b, 0);
  t.equal(pool.stats.discarded, 1, 'a third free buffer goes to the garbage collector');
  const bigger = pool.take(16);
  t.equal(bigger.length, 16, 'the new size is allocated, not an old buffer');
  t.equal(pool.stats.reused, 0);
  pool.give(old[0], 0);
  t.equal(pool.stats.discarded, 2, 'a buffer of the old size coming back late is not kept');
  t.equal(pool.take(16).length, 16);
});

t.test('BufferPool: free buffers nobody took within maxIdleMs are trimmed, all but the newest', async (t) => {
  const pool = new BufferPool({ maxIdleMs: 1000 });
  const a = pool.take(4);
  const b = pool.take(4);
  pool.give(a, 0);
  pool.give(b, 100);
  pool.trim(500);
  t.equal(pool.freeCount, 2, 'both given back within the second stay');
  pool.trim(5000);
  t.equal(pool.freeCount, 1, 'idle for seconds: the extra one goes, the newest stays for the next frame');
  t.equal(pool.stats.trimmed, 1);
  t.equal(pool.take(4), b, 'the newest is reused');
  t.not(pool.take(4), a, 'a trimmed buffer is never handed out again');
});

t.test('BufferPool: poison blackens a released buffer', async (t) => {
  const pool = new BufferPool({ poison: true });
  const a = pool.take(6);
  a.fill(200);
  pool.give(a, 0);
  t.same([...a], [0, 0, 0, 0, 0, 0]);
  const plain = new BufferPool();
  const b = plain.take(3);
  b.fill(7);
  plain.give(b, 0);
  t.same([...b], [7, 7, 7], 'without poison nothing is written');
});

t.test('createFrameLease: the last release gives every part back once; a late hold is refused', async (t) => {
  const full = new BufferPool();
  const view = new BufferPool();
  const fb = full.take(30);
  const vb = view.take(10);
  const misuse: string[] = [];
  const lease = createFrameLease(
    [
      [full, fb],
      [view, vb],
    ],
    (what) => misuse.push(what),
    () => 0,
  );
  t.ok(lease.held, 'a frame starts with its one hold');
  t.ok(lease.retain(), 'a second holder (the live view)');
  lease.release();
  t.ok(lease.held, 'one hold is still out: nothing given back');
  t.not(full.take(30), fb, 'the memory is not reused while held');
  lease.release();
  t.notOk(lease.held);
  t.equal(full.take(30), fb, 'the full frame is reused after the last release');
  t.equal(view.take(10), vb, 'and so is its detector copy');
  t.notOk(lease.retain(), 'a hold after the last release is refused: the pixels may be another frame now');
  lease.release();
  t.same(misuse, ['release'], 'one release too many is reported');
  t.equal(full.stats.reused, 1, 'and gives nothing back twice');
});

t.test('holdFrame / releaseFrame: frames without a lease are always readable', async (t) => {
  const still: Frame = { data: new Uint8Array(3), width: 1, height: 1, cameraId: 'c', seq: 0, pts: undefined, capturedAt: 0, format: 'RGB' };
  t.ok(holdFrame(still));
  releaseFrame(still);
  const pool = new BufferPool();
  const data = pool.take(3);
  const leased: Frame = { ...still, data, lease: createFrameLease([[pool, data]]) };
  t.ok(holdFrame(leased));
  releaseFrame(leased);
  releaseFrame(leased);
  t.notOk(holdFrame(leased));
  t.equal(pool.take(3), data);
});
