import fc from 'fast-check';
import t from 'tap';
import { addEmbedding, DEFAULT_BEST_SHOT, EMPTY_TRACK_STATE, isMatch, recognitionSettled, shouldEmbed, trackEmbedding } from '../../src/recognize/bestshot.ts';

const opts = { minQuality: 0.2, improvement: 0.25, maxRuns: 3 };

t.test('best shot: first good frame, then only clear improvements, within the budget', async (t) => {
  let s = EMPTY_TRACK_STATE;
  t.notOk(shouldEmbed(s, 0.1, opts), 'below the quality gate: never');
  t.ok(shouldEmbed(s, 0.3, opts), 'first good frame');
  s = addEmbedding(s, new Float32Array([1, 0]), 0.3);
  t.notOk(shouldEmbed(s, 0.35, opts), '0.35 is not 25% better than 0.3');
  t.ok(shouldEmbed(s, 0.38, opts), '0.38 is');
  s = addEmbedding(s, new Float32Array([0, 1]), 0.6);
  s = addEmbedding(s, new Float32Array([0, 1]), 0.9);
  t.equal(s.runs, 3);
  t.notOk(shouldEmbed(s, 1, opts), 'budget spent');
  t.equal(DEFAULT_BEST_SHOT.maxRuns, 4);
});

t.test('best shot: confirmation runs without a quality gain, spaced out', async (t) => {
  const o = { minQuality: 0.2, improvement: 0.25, maxRuns: 4, confirmRuns: 3, minGapFrames: 3 };
  let s = addEmbedding(EMPTY_TRACK_STATE, new Float32Array([1, 0]), 0.5);
  t.notOk(shouldEmbed({ ...s, framesSinceRun: 2 }, 0.5, o), 'too soon after the last run');
  t.ok(shouldEmbed({ ...s, framesSinceRun: 3 }, 0.45, o), 'spaced and within 80% of the best: a confirmation run');
  t.notOk(shouldEmbed({ ...s, framesSinceRun: 9 }, 0.3, o), 'a much worse frame is not worth a run');
  s = addEmbedding(s, new Float32Array([1, 0]), 0.5);
  s = addEmbedding(s, new Float32Array([1, 0]), 0.5);
  t.equal(s.framesSinceRun, 0, 'a run resets the spacing');
  t.notOk(shouldEmbed({ ...s, framesSinceRun: 9 }, 0.5, o), 'confirmation runs stop at confirmRuns');
  t.ok(shouldEmbed({ ...s, framesSinceRun: 0 }, 0.7, o), 'a clear quality gain still runs, up to maxRuns');
});

t.test('recognitionSettled: the confirming looks, and liveness when it is read', async (t) => {
  let s = EMPTY_TRACK_STATE;
  t.notOk(recognitionSettled(s, true), 'no embedder run yet');
  for (let i = 0; i < 2; i++) s = addEmbedding(s, new Float32Array([1, 0]), 0.5);
  t.notOk(recognitionSettled(s, true), `2 of the default ${DEFAULT_BEST_SHOT.confirmRuns} confirming runs`);
  s = addEmbedding(s, new Float32Array([1, 0]), 0.5);
  t.ok(recognitionSettled(s, true), 'confirming runs done, liveness known');
  t.notOk(recognitionSettled(s, false), 'liveness read but not known yet: not settled');
  t.ok(recognitionSettled(s, undefined), 'no liveness models: the runs decide');
  const one = addEmbedding(EMPTY_TRACK_STATE, new Float32Array([1, 0]), 0.5);
  t.ok(recognitionSettled(one, undefined, { ...DEFAULT_BEST_SHOT, confirmRuns: 0 }), 'no confirming runs configured: one look');
  t.ok(recognitionSettled(one, undefined, { ...DEFAULT_BEST_SHOT, maxRuns: 1 }), 'a budget of one run: one look');
});

t.test('track embedding is the quality-weighted mean, normalised', async (t) => {
  let s = addEmbedding(EMPTY_TRACK_STATE, new Float32Array([1, 0]), 0.25);
  s = addEmbedding(s, new Float32Array([0, 1]), 0.75);
  const e = trackEmbedding(s) as Float32Array;
  const n = Math.hypot(0.25, 0.75);
  t.ok(Math.abs(e[0] - 0.25 / n) < 1e-6 && Math.abs(e[1] - 0.75 / n) < 1e-6, `${e[0]}, ${e[1]}`);
  t.equal(trackEmbedding(EMPTY_TRACK_STATE), undefined);
  t.throws(() => addEmbedding(s, new Float32Array(3), 1), RangeError, 'dimension changes are refused');
});

t.test('match decision uses the threshold of the probe mask state', async (t) => {
  const thresholds = { unmasked: 0.36, masked: 0.6 };
  t.ok(isMatch({ bestScore: 0.5, masked: false, thresholds }));
  t.notOk(isMatch({ bestScore: 0.5, masked: true, thresholds }));
  t.notOk(isMatch({ bestScore: undefined, masked: false, thresholds }));
});

t.test('shouldEmbed grows with quality: a better frame is never refused where a worse one is embedded', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (runs, bestQuality, framesSinceRun, q1, q2) => {
      const state = { ...EMPTY_TRACK_STATE, runs, bestQuality, framesSinceRun };
      const [lo, hi] = q1 <= q2 ? [q1, q2] : [q2, q1];
      return !shouldEmbed(state, lo, DEFAULT_BEST_SHOT) || shouldEmbed(state, hi, DEFAULT_BEST_SHOT);
    }),
    { numRuns: 2000, seed: 42 },
  );
  t.pass('monotone over 2,000 random states and quality pairs');
});
