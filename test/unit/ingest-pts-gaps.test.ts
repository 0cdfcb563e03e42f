/** PTS-gap loss counting on a decimated stream (fps cap below the camera's rate) and the source cadence. */
import t from 'tap';
import { missedBetween, SourceCadence } from '../../src/ingest/frame.ts';

const MS = 1e6;

t.test('a 10 fps camera capped at 5 fps: a pick moved by one source frame is no loss', async (t) => {
  const out = 200 * MS;
  const src = 100 * MS;
  t.equal(missedBetween(0, 200 * MS, out, src), 0, 'the nominal step');
  t.equal(missedBetween(0, 300.4 * MS, out, src), 0, 'the pick one source frame late (jitter at the slot)');
  t.equal(missedBetween(0, 100 * MS, out, src), 0, 'one source frame early');
  t.equal(missedBetween(0, 300.4 * MS, out), 0, 'without the source rate: under 1.75 intervals');
  t.equal(missedBetween(0, 360 * MS, out), 1, 'without the source rate: over 1.75 intervals counts');
  t.equal(missedBetween(0, 360 * MS, out, src), 0, 'with it: one slot and a bit more is still the moved pick');
  t.equal(missedBetween(0, 400 * MS, out, src), 1, 'a whole output slot empty');
  t.equal(missedBetween(0, 500 * MS, out, src), 1, 'one slot empty and the pick moved');
  t.equal(missedBetween(0, 600 * MS, out, src), 2);
  t.equal(missedBetween(600 * MS, 0, out, src), 0, 'new segment');
});

t.test('no decimation: the source rate changes nothing', async (t) => {
  const out = 200 * MS;
  for (const src of [200 * MS, 199 * MS, 250 * MS, 0, -1]) {
    t.equal(missedBetween(0, 340 * MS, out, src), 0, `jitter or a cap just under the rate, source ${src / MS} ms`);
    t.equal(missedBetween(0, 400 * MS, out, src), 1, `one lost, source ${src / MS} ms`);
    t.equal(missedBetween(0, 1000 * MS, out, src), 4, `four lost, source ${src / MS} ms`);
  }
});

t.test('source cadence: the smallest forward step among recent access units, B-frames included', async (t) => {
  const c = new SourceCadence(8);
  t.equal(c.intervalNs, undefined, 'nothing seen');
  c.push(0);
  t.equal(c.intervalNs, undefined, 'one unit');
  c.push(undefined);
  t.equal(c.intervalNs, undefined, 'a unit without PTS is ignored');
  // Decode order of I P B B at 10 fps: PTS 0, 300, 100, 200, 600, 400, 500 ms.
  for (const p of [300, 100, 200, 600, 400, 500]) c.push(p * MS);
  t.equal(c.intervalNs, 100 * MS);
  const d = new SourceCadence(4);
  for (let i = 0; i < 10; i++) d.push(i * 100 * MS);
  for (let i = 10; i < 20; i++) d.push(1000 * MS + (i - 9) * 200 * MS);
  t.equal(d.intervalNs, 200 * MS, 'the window forgets an old, faster rate');
});
