import t from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decideDetection, DetectionGate, UNGATED, type DetectionGateSettings, type GateInput } from '../../src/motion/index.ts';
import { createTracker, trackFaces, type FrameInfo, type TrackOutput } from '../../src/track/index.ts';
import type { Box, Face, Landmarks } from '../../src/types.ts';

const GATED: DetectionGateSettings = { motion: { enabled: true, keepAliveMs: 1000 }, interval: 3 };
const base: GateInput = { timeMs: 10_000, motion: false, tracks: { confirmed: 0, deciding: 0, tentative: 0, lost: 0 }, lastDetectAt: 9_900, framesSinceDetect: 0 };

function face(box: Box, score = 0.9): Face {
  const [x1, y1, x2, y2] = box;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const lm: Landmarks = [[cx - 5, cy - 5], [cx + 5, cy - 5], [cx, cy], [cx - 4, cy + 5], [cx + 4, cy + 5]];
  return { box, score, landmarks: lm };
}

t.test('decideDetection: first frame, tentative and lost tracks, interval, motion, keep-alive, idle', async (t) => {
  t.same(decideDetection({ ...base, lastDetectAt: undefined }, GATED), { detect: true, reason: 'first' });
  t.same(decideDetection({ ...base, tracks: { confirmed: 1, deciding: 0, tentative: 1, lost: 0 } }, GATED), { detect: true, reason: 'tentative' }, 'a tentative track: every frame');
  const lostOnly = { ...base, tracks: { confirmed: 0, deciding: 0, tentative: 0, lost: 1 } };
  t.same(decideDetection({ ...lostOnly, motion: true }, GATED), { detect: true, reason: 'motion' }, 'only a lost track, and motion: someone may be back');
  t.same(decideDetection(lostOnly, GATED), { detect: false, reason: 'between' }, 'only a lost track, nothing moves: the interval');
  t.same(decideDetection({ ...lostOnly, framesSinceDetect: 2 }, GATED), { detect: true, reason: 'interval' }, 'a lost track is looked for every interval-th frame');
  t.same(decideDetection(lostOnly, { ...GATED, interval: 1 }), { detect: true, reason: 'interval' }, 'interval 1: every frame while a track is lost, as before');
  t.same(decideDetection({ ...lostOnly, tracks: { confirmed: 1, deciding: 0, tentative: 0, lost: 1 }, motion: true }, GATED), { detect: false, reason: 'between' }, 'a visible face moves all the time: with one confirmed, motion does not count');
  t.same(decideDetection(lostOnly, { ...UNGATED, interval: 2 }), { detect: false, reason: 'between' }, 'motion off: the interval');
  t.same(decideDetection({ ...base, tracks: { confirmed: 2, deciding: 0, tentative: 0, lost: 0 }, framesSinceDetect: 0 }, GATED), { detect: false, reason: 'between' });
  t.same(decideDetection({ ...base, tracks: { confirmed: 2, deciding: 0, tentative: 0, lost: 0 }, framesSinceDetect: 1 }, GATED), { detect: false, reason: 'between' });
  t.same(decideDetection({ ...base, tracks: { confirmed: 2, deciding: 0, tentative: 0, lost: 0 }, framesSinceDetect: 2 }, GATED), { detect: true, reason: 'interval' }, 'every 3rd frame');
  t.same(decideDetection({ ...base, tracks: { confirmed: 2, deciding: 1, tentative: 0, lost: 0 } }, GATED), { detect: true, reason: 'deciding' }, 'a track whose recognition has not settled: every frame');
  t.same(decideDetection({ ...base, tracks: { confirmed: 1, deciding: 0, tentative: 0, lost: 0 } }, { ...GATED, interval: 1 }), { detect: true, reason: 'interval' }, 'interval 1: every frame');
  t.same(decideDetection({ ...base, motion: true }, GATED), { detect: true, reason: 'motion' });
  t.same(decideDetection({ ...base, warming: true }, GATED), { detect: true, reason: 'warm-up' }, 'noise floors still being learnt');
  t.same(decideDetection(base, GATED), { detect: false, reason: 'idle' });
  t.same(decideDetection({ ...base, timeMs: 10_900 }, GATED), { detect: true, reason: 'keep-alive' }, 'keepAliveMs after the last detection');
  t.same(decideDetection({ ...base, timeMs: 5_000 }, GATED), { detect: true, reason: 'keep-alive' }, 'a clock that stepped back counts as due');
  t.same(decideDetection(base, UNGATED), { detect: true, reason: 'ungated' }, 'no gate: every frame');
  t.same(decideDetection(base, { ...UNGATED, interval: 2 }), { detect: false, reason: 'between' }, 'interval without motion gating');
});

t.test('DetectionGate: motion seen on a dropped frame still counts at the next take; counts by reason', async (t) => {
  const gate = new DetectionGate(GATED);
  const still = { data: new Uint8Array(160 * 90 * 3).fill(120), width: 160, height: 90 };
  const moved = { data: new Uint8Array(160 * 90 * 3).fill(120).fill(10, 0, 160 * 30 * 3), width: 160, height: 90 };
  for (let i = 0; i < 25; i++) gate.observe(still);
  t.equal(gate.take(0).reason, 'first');
  t.equal(gate.take(200).reason, 'idle', 'warm-up over, nothing moved');
  gate.observe(moved); // a frame latest-wins then dropped
  gate.observe(moved);
  t.equal(gate.take(400).reason, 'motion');
  t.equal(gate.take(600).reason, 'idle', 'motion is consumed by the take');
  gate.tracked({ confirmed: ['cam:1'], tentative: 0, lost: 0 });
  t.equal(gate.take(800).reason, 'deciding', 'a confirmed track recognition has not settled: every frame');
  gate.settle('cam:1');
  t.same([gate.take(1000), gate.take(1200), gate.take(1400)].map((d) => d.detect), [false, false, true], 'settled: interval 3 counts from the last detection');
  t.equal(gate.counts.first + gate.counts.motion + gate.counts.deciding + gate.counts.interval, 4);
  t.equal(gate.counts.idle + gate.counts.between, 4);
  gate.tracked({ confirmed: ['cam:1', 'cam:2'], tentative: 0, lost: 0 });
  t.equal(gate.take(1600).reason, 'deciding', 'a second face: every frame until it settles too');
  gate.tracked({ confirmed: [], tentative: 0, lost: 0 });
  gate.tracked({ confirmed: ['cam:1'], tentative: 0, lost: 0 });
  t.equal(gate.take(1800).reason, 'deciding', 'a settled track forgotten once it is neither visible nor lost');
});

t.test('tracker.predict: moves tracks without matching, ending or starting; the next detection matches the prediction', async (t) => {
  const tr = createTracker({ cameraId: 'cam' });
  // A face moving 10 px per frame to the right.
  const at = (i: number): Box => [100 + 10 * i, 100, 160 + 10 * i, 170];
  for (let i = 0; i < 4; i++) tr.update([face(at(i))], i * 200);
  const p1 = tr.predict(800);
  const p2 = tr.predict(1000);
  const x1 = p2.update.tracks[0]?.box[0] ?? NaN;
  t.equal(p1.update.predicted, true);
  t.same(p1.events, [], 'no events on a predicted frame');
  t.equal(p2.update.tracks.length, 1, 'the confirmed track stays visible');
  // The Kalman velocity is still converging after 4 matches: ahead of the last detection, not past the truth.
  t.ok(x1 > at(3)[0] + 5 && x1 <= at(5)[0] + 2, `predicted x1 ${x1.toFixed(1)}: moved on from ${at(3)[0]} towards ${at(5)[0]}`);
  t.ok(x1 > (p1.update.tracks[0]?.box[0] ?? Infinity), 'each predicted frame moves it further');
  t.equal(p2.update.tracks[0].face.box[0], at(3)[0], 'face is the last real detection (recognition aligns on it)');
  t.same([p2.update.tentative, p2.update.lost], [0, 0]);
  const next = tr.update([face(at(6))], 1200);
  t.same(next.update.tracks.map((x) => x.trackId), ['cam:1'], 'same track after two predicted frames');
  t.equal(next.update.predicted, false);
  t.same(next.events.filter((e) => e.type !== 'track.updated'), [], 'no start, no end');
  // A new face is tentative until its second detection.
  const withNew = tr.update([face(at(7)), face([400, 300, 460, 370])], 1400);
  t.same([withNew.update.tentative, withNew.update.lost], [1, 0], 'one tentative track');
});

t.test('trackFaces: skipped frames are predict-only steps', async (t) => {
  const frame = (seq: number): FrameInfo => ({ cameraId: 'cam', seq, capturedAt: seq * 200, width: 640, height: 480 });
  const input = [
    { frame: frame(0), faces: [face([100, 100, 160, 170])] },
    { frame: frame(1), faces: [face([102, 100, 162, 170])] },
    { frame: frame(2), faces: [], skipped: true },
    { frame: frame(3), faces: [] },
  ];
  const out = (await lastValueFrom(from(input).pipe(trackFaces(), toArray()))) as TrackOutput[];
  const steps = out.filter((o) => o.kind === 'frame');
  t.same(steps.map((s) => s.update.predicted), [false, false, true, false]);
  t.equal(steps[2].update.tracks.length, 1, 'the skipped frame keeps the track visible');
  t.equal(steps[3].update.tracks.length, 0, 'a real detection with no face loses it');
  t.same([steps[3].update.tentative, steps[3].update.lost], [0, 1], 'lost');
});
