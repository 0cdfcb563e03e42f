import t from 'tap';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decideDetection, DetectionGate, motionBesideFaces, UNGATED, type DetectionGateSettings, type GateInput } from '../../src/motion/index.ts';
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
  const settled = { ...base, tracks: { confirmed: 1, deciding: 0, tentative: 0, lost: 0 }, motion: true };
  t.same(decideDetection({ ...settled, motionBeside: true }, GATED), { detect: true, reason: 'beside' }, 'motion beside the settled faces: someone else may be coming in, at once');
  t.same(decideDetection({ ...settled, motionBeside: false }, GATED), { detect: false, reason: 'between' }, 'motion only around the settled faces: the interval');
  t.same(decideDetection({ ...settled, motionBeside: true }, { ...UNGATED, interval: 3 }), { detect: false, reason: 'between' }, 'motion gate off: motion beside does not count');
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

t.test('motionBesideFaces: moved cells outside every face zone (sides, above, everything below)', async (t) => {
  const width = 20;
  const height = 10;
  const mask = (cells: [number, number][]): { cells: Uint8Array; width: number; height: number } => {
    const m = new Uint8Array(width * height);
    for (const [x, y] of cells) m[y * width + x] = 1;
    return { cells: m, width, height };
  };
  // One face: cells x 8..11, y 3..4 (normalised 0.4..0.6 x 0.3..0.5); a zone of one face width
  // each side and one height above: cells x 4..15, y 1..9.
  const face: Box = [0.4, 0.3, 0.6, 0.5];
  const one = { sideWidths: 1, aboveHeights: 1 };
  t.equal(motionBesideFaces(mask([[9, 3], [5, 9], [14, 1]]), [face], one), 0, 'the face, its body below and the zone corners: not beside');
  t.equal(motionBesideFaces(mask([[3, 5], [16, 5]]), [face], one), 2 / 200, 'left and right of the zone');
  t.equal(motionBesideFaces(mask([[9, 0]]), [face], one), 1 / 200, 'above the zone');
  t.equal(motionBesideFaces(mask([[1, 5], [9, 5]]), [], one), 2 / 200, 'no faces: all motion is beside');
  t.equal(motionBesideFaces(mask([[1, 5], [9, 5]]), [face, [0, 0.4, 0.1, 0.6]], one), 0, 'a second face claims its own zone');
  // The default zone: two face widths each side (shoulders, swinging arms). A face 0.45..0.55: cells 5..14.
  const narrow: Box = [0.45, 0.3, 0.55, 0.5];
  t.equal(motionBesideFaces(mask([[5, 5], [14, 5]]), [narrow]), 0, 'default zone: two face widths each side');
  t.equal(motionBesideFaces(mask([[4, 5], [15, 5]]), [narrow]), 2 / 200, 'default zone: beyond them');
  t.equal(motionBesideFaces({ cells: new Uint8Array(0), width: 0, height: 0 }, [face]), 0, 'an empty mask');
});

t.test('DetectionGate: motion beside a settled face detects at once, motion on it waits for the interval', async (t) => {
  const gate = new DetectionGate(GATED);
  const W = 160;
  const H = 90;
  const frame = (dark?: [number, number, number, number]): { data: Uint8Array; width: number; height: number } => {
    const data = new Uint8Array(W * H * 3).fill(120);
    if (dark) for (let y = dark[1]; y < dark[3]; y++) data.fill(10, (y * W + dark[0]) * 3, (y * W + dark[2]) * 3);
    return { data, width: W, height: H };
  };
  const still = frame();
  for (let i = 0; i < 25; i++) gate.observe(still);
  t.equal(gate.take(0).reason, 'first');
  // A settled face in the middle of the frame (x 0.45..0.55, y 0.3..0.5).
  gate.tracked({ confirmed: ['cam:1'], faces: [[0.45, 0.3, 0.55, 0.5]], tentative: 0, lost: 0 });
  gate.settle('cam:1');
  gate.observe(frame([72, 30, 88, 60])); // its own body moves, below the face
  t.same(gate.take(200), { detect: false, reason: 'between' }, 'motion inside the person zone: the interval');
  gate.observe(frame([0, 20, 20, 80])); // the left edge: someone coming in
  t.same(gate.take(400), { detect: true, reason: 'beside' }, 'motion beside the face: detect now');
  gate.observe(still);
  t.same(gate.take(600), { detect: false, reason: 'between' }, 'the motion mask is consumed by the take');
  t.equal(gate.counts.beside, 1);
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

t.test('tracker: a face that stops during skipped frames keeps its track (matched on its last seen box)', async (t) => {
  const tr = createTracker({ cameraId: 'cam' });
  // Walking in fast (40 px per frame, a 100 px face), then stopped where it was last seen.
  const at = (x: number): Box => [x, 100, x + 100, 220];
  for (let i = 0; i < 6; i++) tr.update([face(at(40 * i))], i * 200);
  for (const ms of [1200, 1400, 1600]) tr.predict(ms);
  const ahead = tr.liveTracks()[0]?.box[0] ?? NaN;
  // Below the tracker's highMinIou (0.2) against the stopped face: the prediction alone would not match.
  t.ok(ahead > 270, `the prediction ran on ahead (x1 ${ahead.toFixed(0)} vs 200), IoU with the stopped face < 0.2`);
  const step = tr.update([face(at(200))], 1800);
  t.same(step.update.tracks.map((x) => x.trackId), ['cam:1'], 'the same track');
  t.same([step.update.tentative, step.update.lost], [0, 0], 'no new tentative track, nothing lost');
  // Matched every frame, the prediction alone decides (ByteTrack): a detection far from it is someone else.
  const tr2 = createTracker({ cameraId: 'cam' });
  for (let i = 0; i < 6; i++) tr2.update([face(at(40 * i))], i * 200);
  const jump = tr2.update([face(at(200 - 60))], 1200);
  t.same([jump.update.tracks.length, jump.update.tentative], [0, 1], 'one frame on, a face well behind the prediction starts its own track');
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
