import t from 'tap';
import { aggregateScores, detPoints, padRates, padReport, thresholdAtBpcer, type PadSample } from '../../src/recognize/pad-metrics.ts';
import { centralFace, decidingTrack, trackScore, type PadFaceObservation, type PadTrack } from '../../src/recognize/evaluate-pad.ts';
import { detSvg, probit } from '../../src/recognize/roc-plot.ts';
import type { Face } from '../../src/types.ts';

const live = (score: number, context?: string): PadSample => ({ label: 'live', attack: 'none', score, context });
const spoof = (attack: string, score: number, context?: string): PadSample => ({ label: 'spoof', attack, score, context });

t.test('APCER per attack type, BPCER, ACER at a threshold (score >= threshold is live)', async (t) => {
  const samples = [live(0.9), live(0.8), live(0.4), live(0.5), spoof('print', 0.1), spoof('print', 0.5), spoof('replay', 0.7), spoof('replay', 0.2), spoof('replay', 0.3), spoof('replay', 0.6)];
  const r = padRates(samples, 0.5);
  t.same(r.counts, { live: 4, spoof: 6, attacks: { print: 2, replay: 4 } });
  t.equal(r.liveRefused, 1, '0.4 refused; 0.5 is accepted (at the threshold)');
  t.equal(r.bpcer, 0.25);
  t.same(r.attacksAccepted, { print: 1, replay: 2 });
  t.same(r.apcer, { print: 0.5, replay: 0.5 });
  t.equal(r.worstAttack, 'print', 'ties go to the first attack type in name order');
  t.equal(r.acer, (0.5 + 0.25) / 2);
  const none = padRates([spoof('mask', 0.2)], 0.5);
  t.ok(Number.isNaN(none.bpcer), 'no live samples: BPCER is undefined, not 0');
  t.equal(none.apcer.mask, 0);
  const noAttack = padRates([live(0.7)], 0.5);
  t.equal(noAttack.worstAttack, undefined);
  t.ok(Number.isNaN(noAttack.acer));
});

t.test('threshold at BPCER 5%: the highest threshold refusing at most floor(5% n) live', async (t) => {
  const scores = Array.from({ length: 41 }, (_, i) => (i + 1) / 42);
  const thr = thresholdAtBpcer(scores, 0.05);
  t.equal(thr, scores[2], 'floor(0.05 * 41) = 2 may be refused: the third lowest is the threshold');
  t.equal(padRates(scores.map((s) => live(s)), thr).liveRefused, 2);
  t.equal(thresholdAtBpcer([0.3, 0.9, 0.1], 0.05), 0.1, '3 live: none may be refused');
  t.equal(thresholdAtBpcer(Array.from({ length: 20 }, (_, i) => i / 20), 0.05), 1 / 20, '20 live: exactly one may be refused');
  t.ok(Number.isNaN(thresholdAtBpcer([], 0.05)));
  const ties = [0.2, 0.2, 0.2, 0.9];
  t.equal(padRates(ties.map((s) => live(s)), thresholdAtBpcer(ties, 0.05)).liveRefused, 0, 'ties refuse fewer, never more');
});

t.test('report: rates at the threshold, at BPCER 5%, and per context', async (t) => {
  const samples = [
    ...Array.from({ length: 20 }, (_, i) => live(0.5 + i / 40, 'full')),
    live(0.05, 'tight'),
    spoof('print', 0.01, 'full'),
    spoof('replay', 0.55, 'full'),
    spoof('replay', 0.3, 'tight'),
  ];
  const r = padReport(samples, 0.5);
  t.equal(r.threshold, 0.5);
  t.equal(r.liveRefused, 1);
  t.same(r.apcer, { print: 0, replay: 0.5 });
  t.equal(r.atBpcer5.threshold, 0.5, '21 live: one may be refused, the second lowest (0.5) is the threshold');
  t.equal(r.atBpcer5.bpcer, 1 / 21);
  t.ok(r.contexts);
  t.same(Object.keys(r.contexts ?? {}), ['full', 'tight']);
  t.equal(r.contexts?.tight.liveRefused, 1);
  t.same(r.contexts?.tight.apcer, { replay: 0 });
  t.same(r.contexts?.full.counts, { live: 20, spoof: 2, attacks: { print: 1, replay: 1 } });
  t.equal(padReport([live(0.9), spoof('print', 0.1)], 0.5).contexts, undefined, 'no context column: no breakdown');
});

t.test('DET points sweep every distinct score', async (t) => {
  const pts = detPoints([0.2, 0.8], [0.1, 0.5]);
  t.same(pts.map((p) => p.threshold), [0.1, 0.2, 0.5, 0.8, Number.POSITIVE_INFINITY]);
  t.same(pts[0], { threshold: 0.1, apcer: 1, bpcer: 0 });
  t.same(pts[2], { threshold: 0.5, apcer: 0.5, bpcer: 0.5 });
  t.same(pts[4], { threshold: Number.POSITIVE_INFINITY, apcer: 0, bpcer: 1 });
  for (let i = 1; i < pts.length; i++) t.ok(pts[i].apcer <= pts[i - 1].apcer && pts[i].bpcer >= pts[i - 1].bpcer, 'monotone');
  t.same(detPoints([], [0.1]), []);
});

t.test('track aggregation', async (t) => {
  const s = [0.9, 0.1, 0.8, 0.7, 0.95];
  t.equal(aggregateScores(s, 'mean'), (0.9 + 0.1 + 0.8 + 0.7 + 0.95) / 5);
  t.equal(aggregateScores(s, 'median'), 0.8);
  t.equal(aggregateScores(s, 'min'), 0.1);
  t.equal(aggregateScores(s, 'trimmed-mean'), (0.7 + 0.8 + 0.9) / 3, '20% cut off each end: one of five');
  t.ok(Number.isNaN(aggregateScores([], 'mean')));
});

const face = (x1: number, y1: number, x2: number, y2: number): Face => ({ box: [x1, y1, x2, y2], score: 0.9, landmarks: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] });
const obs = (trackId: string, score: number, bestShot = false): PadFaceObservation => ({ frameIndex: 0, timeMs: 0, trackId, box: [0, 0, 1, 1], landmarks: face(0, 0, 1, 1).landmarks, quality: 0.5, score, bestShot, extra: {} });

t.test('the judged face and the deciding track', async (t) => {
  const a = face(0, 0, 100, 100);
  const b = face(280, 200, 360, 280);
  t.equal(centralFace([a, b], 640, 480), b, 'the face nearest the centre, not the largest');
  t.equal(centralFace([], 640, 480), undefined);
  const tracks: PadTrack[] = [
    { trackId: 'pad:1', observations: [obs('pad:1', 0.9), obs('pad:1', 0.8)] },
    { trackId: 'pad:2', observations: [obs('pad:2', 0.1), obs('pad:2', 0.2, true), obs('pad:2', 0.9)] },
    { trackId: 'pad:3', observations: [obs('pad:3', 0.5), obs('pad:3', 0.5), obs('pad:3', 0.5)] },
  ];
  t.equal(decidingTrack(tracks)?.trackId, 'pad:2', 'most frames; ties to the earlier track');
  t.equal(decidingTrack([]), undefined);
  t.equal(trackScore(tracks[1], 'best-shot'), 0.2, 'best-shot: only the frames the live pipeline reads');
  t.equal(trackScore(tracks[0], 'best-shot'), (0.9 + 0.8) / 2, 'no best-shot frame: all frames');
  t.equal(trackScore(tracks[1], 'median'), 0.2);
});

t.test('DET plot: probit axes, one curve per attack type', async (t) => {
  t.equal(probit(0.5), 0);
  t.ok(Math.abs(probit(0.975) - 1.959964) < 1e-5);
  t.ok(Math.abs(probit(0.01) + 2.326348) < 1e-5);
  const svg = detSvg([{ label: 'print <31>', colour: '#d62728', points: detPoints([0.2, 0.8], [0.1, 0.5]), operating: { apcer: 0.5, bpcer: 0.5 } }]);
  t.match(svg, /print &lt;31&gt;/, 'labels are escaped');
  t.match(svg, /<polyline/);
  t.match(svg, /<circle/, 'the operating point is marked');
  t.match(svg, /APCER/);
});
