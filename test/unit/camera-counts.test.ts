/** CountDeltas: the per-camera deltas /metrics and system.health are made from (pure). */
import t from 'tap';
import { CountDeltas, ZERO_COUNTS, type CameraCounts } from '../../src/app/camera-counts.ts';

const counts = (processed: number, extra: Partial<CameraCounts> = {}): CameraCounts => ({ ...ZERO_COUNTS, in: processed, processed, ...extra });

t.test('deltas since the previous call; a restarted camera counts from its new start; gone cameras are forgotten', async (t) => {
  const d = new CountDeltas();
  t.same(d.next(new Map([['a', counts(10, { ingestLost: 2 })]])).get('a'), counts(10, { ingestLost: 2 }), 'first call: everything so far');
  t.same(d.next(new Map([['a', counts(25, { ingestLost: 2 })]])).get('a'), counts(15), 'then the difference');
  // Hot reload restarted the camera: its counters begin again at 0 and are now at 4.
  t.same(d.next(new Map([['a', counts(4)]])).get('a'), counts(4), 'a reset counter is the new count, not negative or zero');
  t.same(d.next(new Map([['a', counts(9)]])).get('a'), counts(5));
  // Removed, then added again later with fresh counters: no stale baseline.
  t.equal(d.next(new Map()).size, 0);
  t.same(d.next(new Map([['a', counts(30)]])).get('a'), counts(30), 'a camera added again starts from zero');
  // Two samplers on the same counters do not disturb each other.
  const other = new CountDeltas();
  t.same(other.next(new Map([['a', counts(31)]])).get('a'), counts(31));
  t.same(d.next(new Map([['a', counts(31)]])).get('a'), counts(1));
});
