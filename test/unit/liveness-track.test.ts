/** A track's liveness from its frames' scores: window, median, when it is known, when to score. */
import t from 'tap';
import { addLivenessScore, DEFAULT_LIVENESS_TRACK, livenessBecameKnown, trackLiveness, wantsLiveness } from '../../src/recognize/liveness-track.ts';
import { addLivenessObservation, EMPTY_TRACK_STATE } from '../../src/recognize/bestshot.ts';

const fill = (scores: number[], window = 30): readonly number[] => scores.reduce<readonly number[]>((s, v) => addLivenessScore(s, v, window), []);

t.test('the sample keeps the last `window` scores, oldest dropped first', async (t) => {
  t.same(fill([0.1, 0.2, 0.3], 2), [0.2, 0.3]);
  t.same(fill([0.1, 0.2], 5), [0.1, 0.2]);
  t.same(fill([0.4, 0.5], 0), [0.5], 'a window under 1 still keeps the newest score');
  t.same(fill([0.4, Number.NaN, 0.6, Number.POSITIVE_INFINITY]), [0.4, 0.6], 'a non-finite score is not evidence');
  const before = [0.1, 0.2];
  addLivenessScore(before, 0.3, 30);
  t.same(before, [0.1, 0.2], 'pure: the input is not changed');
});

t.test('median once minFrames are in, undefined before', async (t) => {
  const opts = { window: 30, minFrames: 5 };
  t.same(trackLiveness([], opts), { score: undefined, frames: 0, rule: 'median' });
  t.same(trackLiveness([0.9, 0.9, 0.9, 0.9], opts), { score: undefined, frames: 4, rule: 'median' }, 'four frames: not known yet');
  t.same(trackLiveness([0.9, 0.1, 0.8, 0.7, 0.95], opts), { score: 0.8, frames: 5, rule: 'median' });
  t.equal(trackLiveness([0.9, 0.9, 0.02, 0.9, 0.9, 0.9], opts).score, 0.9, 'one bad frame (a blink, motion blur) does not decide');
  t.equal(trackLiveness([0.1, 0.1, 0.1, 0.97, 0.1, 0.1], opts).score, 0.1, 'one lucky frame of a replay does not pass it');
  t.equal(trackLiveness([0.2, 0.4, 0.6, 0.8, 0.3, 0.5], opts).score, 0.45, 'an even count takes the mean of the two middle scores');
  t.equal(trackLiveness([0.3], { window: 30, minFrames: 1 }).score, 0.3);
});

t.test('the median follows the window: an attack that starts after a live start takes over the track', async (t) => {
  const opts = { window: 10, minFrames: 5 };
  let s = fill(Array(10).fill(0.9), opts.window);
  t.equal(trackLiveness(s, opts).score, 0.9);
  s = fill([...s, ...Array(6).fill(0.05)], opts.window);
  t.equal(trackLiveness(s, opts).score, 0.05, '6 of the last 10 frames are the attack');
  t.equal(trackLiveness(s, opts).frames, 10);
});

t.test('became known exactly once, on the frame that reaches minFrames', async (t) => {
  const opts = { window: 30, minFrames: 3 };
  const seen: boolean[] = [];
  let s: readonly number[] = [];
  for (const v of [0.5, 0.6, 0.7, 0.8, 0.9]) {
    const next = addLivenessScore(s, v, opts.window);
    seen.push(livenessBecameKnown(s, next, opts));
    s = next;
  }
  t.same(seen, [false, false, true, false, false]);
});

t.test('scored only while a decision can still follow', async (t) => {
  t.equal(wantsLiveness(false, false), true, 'not settled (looks or liveness missing): every looked-at frame, a gate decides on them');
  t.equal(wantsLiveness(false, true), true, 'not settled, embedded frame');
  t.equal(wantsLiveness(true, true), true, 'settled, but this frame is embedded: its recognition may bring another vote');
  t.equal(wantsLiveness(true, false), false, 'settled and not embedded: nothing this frame emits is decided on');
});

t.test('the track state carries the bounded sample', async (t) => {
  let s = EMPTY_TRACK_STATE;
  for (let i = 0; i < 40; i++) s = addLivenessObservation(s, i / 40, DEFAULT_LIVENESS_TRACK.window);
  t.equal(s.liveness.length, 30);
  t.equal(s.liveness[0], 10 / 40);
  t.equal(EMPTY_TRACK_STATE.liveness.length, 0, 'the shared empty state is untouched');
});
