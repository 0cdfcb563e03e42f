import t from 'tap';
import {
  countIdSwitches,
  createTracker,
  DEFAULT_TRACKER_PARAMS,
  type GroundTruthBox,
  type GroundTruthMatches,
  iou,
  matchGroundTruth,
  type TrackEndedEvent,
  type TrackerOptions,
  type TrackEvent,
  type TrackStep,
  type TrackUpdatedEvent,
} from '../../src/track/index.ts';
import type { Box, Face, Landmarks } from '../../src/types.ts';
import { mulberry32 } from '../../src/lib/random.ts';

const FRAME_MS = 40; // 25 fps

/** A face with landmarks placed inside the box, like a frontal SCRFD detection. */
function faceAt(box: Box, score = 0.9): Face {
  const [x1, y1, x2, y2] = box;
  const w = x2 - x1;
  const h = y2 - y1;
  const landmarks: Landmarks = [
    [x1 + 0.3 * w, y1 + 0.4 * h],
    [x1 + 0.7 * w, y1 + 0.4 * h],
    [x1 + 0.5 * w, y1 + 0.6 * h],
    [x1 + 0.35 * w, y1 + 0.8 * h],
    [x1 + 0.65 * w, y1 + 0.8 * h],
  ];
  return { box, score, landmarks };
}

/** Box of size w x h centred at (cx, cy). */
function boxAt(cx: number, cy: number, w = 80, h = 100): Box {
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

function tracker(opts: Partial<TrackerOptions> = {}) {
  return createTracker({ cameraId: 'cam', ...opts });
}

function eventsOf<T extends TrackEvent['type']>(steps: readonly TrackStep[], type: T): Extract<TrackEvent, { type: T }>[] {
  return steps.flatMap((s) => s.events).filter((e): e is Extract<TrackEvent, { type: T }> => e.type === type);
}

function visibleIds(step: TrackStep): string[] {
  return step.update.tracks.map((tr) => tr.trackId);
}

/** Ground truth -> visible track id, per frame, by IoU >= 0.5. */
function gtMatches(step: TrackStep, truth: readonly GroundTruthBox[]): GroundTruthMatches {
  return matchGroundTruth(
    truth,
    step.update.tracks.map((tr) => ({ trackId: tr.trackId, box: tr.face.box })),
  );
}

t.test('countIdSwitches counts changes of track id per ground-truth object', async (t) => {
  const m = (entries: [string, string | undefined][]): GroundTruthMatches => new Map(entries);
  t.equal(countIdSwitches([]), 0);
  t.equal(countIdSwitches([m([['a', '1']]), m([['a', '1']]), m([['a', undefined]]), m([['a', '1']])]), 0, 'a miss is not a switch');
  t.equal(countIdSwitches([m([['a', '1']]), m([['a', undefined]]), m([['a', '2']])]), 1, 'coming back under a new id is');
  t.equal(
    countIdSwitches([
      m([['a', '1'], ['b', '2']]),
      m([['a', '2'], ['b', '1']]),
    ]),
    2,
    'a swap costs one switch per object',
  );
  t.equal(countIdSwitches([m([['a', '1']]), m([['a', '2']]), m([['a', '1']])]), 2);
  const matched = matchGroundTruth(
    [
      { id: 'a', box: [0, 0, 10, 10] },
      { id: 'b', box: [100, 100, 110, 110] },
    ],
    [{ trackId: 'cam:7', box: [1, 0, 11, 10] }],
  );
  t.same([...matched], [['a', 'cam:7'], ['b', undefined]]);
});

t.test('a single face moving linearly keeps one id, its own detection and landmarks', async (t) => {
  const tr = tracker();
  const steps: TrackStep[] = [];
  const faces: Face[] = [];
  for (let i = 0; i < 60; i++) {
    const face = faceAt(boxAt(100 + 4 * i, 200 + i), 0.8);
    faces.push(face);
    steps.push(tr.update([face], i * FRAME_MS));
  }
  t.same(visibleIds(steps[0]), ['cam:1'], 'confident face on the first frame is confirmed at once');
  t.ok(steps.every((s) => s.update.tracks.length === 1 && s.update.tracks[0].trackId === 'cam:1'), 'cam:1 in every frame');
  t.ok(
    steps.every((s, i) => s.update.tracks[0].face === faces[i]),
    'the update carries the matched detection itself (landmarks for alignment), not a Kalman box',
  );
  t.equal(eventsOf(steps, 'track.started').length, 1);
  t.equal(eventsOf(steps, 'track.ended').length, 0);
  const last = steps[59].update.tracks[0];
  t.equal(last.hits, 60);
  t.equal(last.ageFrames, 60);
  t.equal(last.lostFrames, 0);
  t.equal(last.state, 'confirmed');
  t.equal(last.firstSeenAt, 0);
  t.equal(last.lastSeenAt, 59 * FRAME_MS);
  const truth = boxAt(100 + 4 * 59, 200 + 59);
  t.ok(
    last.box.every((v, k) => Math.abs(v - truth[k]) < 1),
    `Kalman box ${last.box.map((v) => v.toFixed(1))} tracks the truth`,
  );
  t.equal(steps[59].update.frameIndex, 60);
  t.equal(steps[59].update.cameraId, 'cam');
});

/** Two faces crossing at constant velocity; `occludeBack` hides B while it passes behind A. */
function crossing(occludeBack: boolean) {
  const tr = tracker();
  const frames: GroundTruthMatches[] = [];
  const steps: TrackStep[] = [];
  for (let i = 0; i < 50; i++) {
    const a = boxAt(100 + 8 * i, 200);
    const b = boxAt(500 - 8 * i, 220);
    const truth = [
      { id: 'A', box: a },
      { id: 'B', box: b },
    ];
    const hidden = occludeBack && i >= 21 && i <= 29; // centres within 64 px: B behind A
    const faces = hidden ? [faceAt(a)] : [faceAt(a), faceAt(b)];
    const step = tr.update(faces, i * FRAME_MS);
    steps.push(step);
    frames.push(gtMatches(step, hidden ? truth.slice(0, 1) : truth));
  }
  return { frames, steps };
}

t.test('two faces crossing paths keep their ids (0 ID switches)', async (t) => {
  const { frames, steps } = crossing(false);
  t.equal(countIdSwitches(frames), 0);
  t.ok(frames.every((f) => f.get('A') !== undefined && f.get('B') !== undefined), 'both matched in every frame');
  t.same(eventsOf(steps, 'track.started').map((e) => e.trackId), ['cam:1', 'cam:2']);
  t.equal(frames[49].get('A'), 'cam:1');
  t.equal(frames[49].get('B'), 'cam:2');
});

t.test('a face hidden behind another while crossing comes back with its id', async (t) => {
  const { frames, steps } = crossing(true);
  t.equal(countIdSwitches(frames), 0);
  t.equal(frames[30].get('B'), 'cam:2', 'B is re-associated on its first frame back');
  t.equal(frames[49].get('A'), 'cam:1');
  t.equal(eventsOf(steps, 'track.started').length, 2, 'no third track was started');
  t.equal(eventsOf(steps, 'track.ended').length, 0);
});

t.test('occlusion gap: the same id resumes on the Kalman prediction', async (t) => {
  const tr = tracker();
  const at = (i: number): Box => boxAt(100 + 10 * i, 200);
  const steps: TrackStep[] = [];
  for (let i = 0; i < 40; i++) {
    const gap = i >= 20 && i < 26;
    steps.push(tr.update(gap ? [] : [faceAt(at(i))], i * FRAME_MS));
    if (i === 22) {
      const live = tr.liveTracks();
      t.equal(live.length, 1);
      t.equal(live[0].state, 'lost');
      t.equal(live[0].lostFrames, 3);
      t.ok(Math.abs(live[0].box[0] - at(22)[0]) < 2, 'the lost track coasts along its velocity');
    }
  }
  // The face moved 70 px during the gap, more than its 80 px width minus overlap: without
  // motion prediction the old and new boxes would not even overlap enough to match.
  t.ok(iou(at(19), at(26)) < DEFAULT_TRACKER_PARAMS.highMinIou, 'gap defeats a position-only matcher');
  t.same(visibleIds(steps[19]), ['cam:1']);
  t.ok(steps.slice(20, 26).every((s) => s.update.tracks.length === 0), 'nothing visible during the gap');
  t.ok(steps.slice(26).every((s) => visibleIds(s).join() === 'cam:1'), 'cam:1 after the gap');
  t.equal(eventsOf(steps, 'track.started').length, 1);
  t.equal(eventsOf(steps, 'track.ended').length, 0);
});

/** A face whose score drops to 0.3 (blur) for frames 10..19 while it keeps moving. */
function blurredRun(opts: Partial<TrackerOptions>) {
  const tr = tracker({ maxLostFrames: 2, ...opts });
  const steps: TrackStep[] = [];
  for (let i = 0; i < 30; i++) {
    const score = i >= 10 && i < 20 ? 0.3 : 0.9;
    steps.push(tr.update([faceAt(boxAt(100 + 5 * i, 200), score)], i * FRAME_MS));
  }
  return steps;
}

t.test('low-score detections keep a track alive where a high-only tracker drops it', async (t) => {
  const byte = blurredRun({});
  t.ok(byte.every((s) => visibleIds(s).join() === 'cam:1'), 'ByteTrack: cam:1 visible in all 30 frames');
  t.equal(byte[15].update.tracks[0].face.score, 0.3, 'the low-score detection is what matched');
  t.equal(eventsOf(byte, 'track.ended').length, 0);

  // lowThresh = highThresh turns the second stage off: the naive tracker.
  const naive = blurredRun({ lowThresh: 0.5 });
  t.ok(naive.slice(10, 20).every((s) => s.update.tracks.length === 0), 'naive: nothing visible while blurred');
  const ended = eventsOf(naive, 'track.ended');
  t.same(
    ended.map((e) => [e.trackId, e.reason]),
    [['cam:1', 'lost']],
    'naive: the track is dropped',
  );
  t.same(visibleIds(naive[29]), ['cam:2'], 'naive: the face comes back as a new person');
});

t.test('low-score detections neither start tracks nor revive lost ones', async (t) => {
  const tr = tracker({ maxLostFrames: 5 });
  const steps: TrackStep[] = [];
  for (let i = 0; i < 10; i++) steps.push(tr.update([faceAt(boxAt(400, 300), 0.3)], i * FRAME_MS));
  t.ok(steps.every((s) => s.update.tracks.length === 0 && s.events.length === 0), 'low scores alone make no track');

  const tr2 = tracker({ maxLostFrames: 5 });
  const steps2: TrackStep[] = [];
  for (let i = 0; i < 5; i++) steps2.push(tr2.update([faceAt(boxAt(400, 300))], i * FRAME_MS));
  steps2.push(tr2.update([], 5 * FRAME_MS)); // lost
  for (let i = 6; i < 12; i++) steps2.push(tr2.update([faceAt(boxAt(400, 300), 0.3)], i * FRAME_MS));
  t.ok(steps2.slice(5).every((s) => s.update.tracks.length === 0), 'the lost track is not matched to low scores');
  t.same(
    eventsOf(steps2, 'track.ended').map((e) => e.timeMs),
    [10 * FRAME_MS],
    'and is removed on schedule: last matched on frame 4, more than 5 frames lost on frame 10',
  );
});

t.test('track birth needs minHits consecutive matches', async (t) => {
  const tr = tracker({ minHits: 3 });
  const steps: TrackStep[] = [tr.update([], 0)]; // not the first frame any more
  for (let i = 1; i <= 4; i++) steps.push(tr.update([faceAt(boxAt(300, 300))], i * FRAME_MS));
  t.ok(steps.slice(0, 3).every((s) => s.update.tracks.length === 0 && s.events.length === 0), 'silent for 2 hits');
  t.same(steps[3].events.map((e) => e.type), ['track.started']);
  const started = steps[3].update.tracks[0];
  t.equal(started.trackId, 'cam:1');
  t.equal(started.hits, 3);
  t.equal(started.ageFrames, 3);
  t.equal(started.firstSeenAt, FRAME_MS, 'first seen at the first tentative detection');
  t.same(tr.liveTracks().map((v) => v.trackId), ['cam:1']);

  // One miss resets the count; the tentative dies without an event and its id is not used up.
  const tr2 = tracker({ minHits: 3 });
  const seen = [false, true, true, false, true, true, true];
  const steps2 = seen.map((present, i) => tr2.update(present ? [faceAt(boxAt(300, 300))] : [], i * FRAME_MS));
  t.same(
    steps2.map((s) => s.update.tracks.length),
    [0, 0, 0, 0, 0, 0, 1],
  );
  t.ok(steps2.slice(0, 6).every((s) => s.events.length === 0), 'no events for a dead tentative');
  t.same(visibleIds(steps2[6]), ['cam:1'], 'ids have no gaps');
});

t.test('first frame: confident faces are confirmed at once, others wait for minHits', async (t) => {
  const tr = tracker({ minHits: 3 });
  const first = tr.update([faceAt(boxAt(100, 100), 0.9), faceAt(boxAt(400, 100), 0.55)], 0);
  t.same(visibleIds(first), ['cam:1'], 'score 0.9 >= newTrackThresh 0.6 starts now; 0.55 waits');
  tr.update([faceAt(boxAt(100, 100), 0.9), faceAt(boxAt(400, 100), 0.55)], FRAME_MS);
  const third = tr.update([faceAt(boxAt(100, 100), 0.9), faceAt(boxAt(400, 100), 0.55)], 2 * FRAME_MS);
  t.same(visibleIds(third), ['cam:1', 'cam:2']);
  t.same(third.events.filter((e) => e.type === 'track.started').map((e) => e.trackId), ['cam:2']);

  const one = tracker({ minHits: 1 });
  one.update([], 0);
  t.same(visibleIds(one.update([faceAt(boxAt(100, 100), 0.51)], FRAME_MS)), ['cam:1'], 'minHits 1 confirms on sight');
});

t.test('a lost track is removed after maxLostFrames, with duration and frame count', async (t) => {
  const tr = tracker({ maxLostFrames: 5, maxLostMs: Infinity });
  const steps: TrackStep[] = [];
  for (let i = 1; i <= 20; i++) steps.push(tr.update(i <= 10 ? [faceAt(boxAt(300, 300))] : [], i * FRAME_MS));
  const endedAt = steps.findIndex((s) => s.events.some((e) => e.type === 'track.ended')) + 1;
  t.equal(endedAt, 16, 'unmatched on frames 11..15 (5 frames) is still alive; frame 16 ends it');
  const ended = eventsOf(steps, 'track.ended');
  t.equal(ended.length, 1);
  const e: TrackEndedEvent = ended[0];
  t.equal(e.trackId, 'cam:1');
  t.equal(e.reason, 'lost');
  t.equal(e.timeMs, 16 * FRAME_MS);
  t.equal(e.durationMs, 9 * FRAME_MS);
  t.equal(e.frameCount, 10);
  t.equal(e.track.state, 'removed');
  t.equal(e.track.lostFrames, 6);
  t.same(tr.liveTracks(), []);
});

t.test('a lost track is removed after maxLostMs when frames are sparse', async (t) => {
  const tr = tracker({ maxLostFrames: 1000, maxLostMs: 300 });
  const steps: TrackStep[] = [];
  for (let i = 0; i < 20; i++) steps.push(tr.update(i < 10 ? [faceAt(boxAt(300, 300))] : [], i * 100));
  const ended = eventsOf(steps, 'track.ended');
  t.same(
    ended.map((e) => e.timeMs),
    [1300],
    'last seen at 900 ms: 1200 is 300 ms later (kept), 1300 is over',
  );
});

t.test('track.updated is throttled to updateIntervalMs per track', async (t) => {
  const tr = tracker({ updateIntervalMs: 100 });
  const steps: TrackStep[] = [];
  for (let i = 0; i < 20; i++) {
    const faces = [faceAt(boxAt(100, 100))];
    if (i >= 3) faces.push(faceAt(boxAt(400, 100))); // second face from 120 ms, confirmed at 160 ms
    steps.push(tr.update(faces, i * FRAME_MS));
  }
  const updated = eventsOf(steps, 'track.updated');
  const times = (id: string) => updated.filter((e: TrackUpdatedEvent) => e.trackId === id).map((e) => e.timeMs);
  t.same(
    eventsOf(steps, 'track.started').map((e) => [e.trackId, e.timeMs]),
    [
      ['cam:1', 0],
      ['cam:2', 160],
    ],
  );
  t.same(times('cam:1'), [120, 240, 360, 480, 600, 720], 'cam:1 every 100 ms at 40 ms frames');
  t.same(times('cam:2'), [280, 400, 520, 640, 760], 'cam:2 on its own schedule from its start');
  t.ok(updated.every((e) => e.track.trackId === e.trackId && e.track.lostFrames === 0), 'only visible tracks update');

  const every = tracker({ updateIntervalMs: 0 });
  const s = [0, 1, 2, 3].map((i) => every.update([faceAt(boxAt(100, 100))], i * FRAME_MS));
  t.same(
    s.map((x) => x.events.map((e) => e.type)),
    [['track.started'], ['track.updated'], ['track.updated'], ['track.updated']],
  );

  const quiet = tracker({ updateIntervalMs: 100 });
  const q = [0, 1, 2, 3, 4, 5].map((i) => quiet.update(i === 2 || i === 3 ? [] : [faceAt(boxAt(100, 100))], i * FRAME_MS));
  t.same(eventsOf(q, 'track.updated').map((e) => e.timeMs), [160], 'no update while lost; first one after it is due');
});

t.test('noisy jittered boxes with dropouts and blur keep ids (seeded, deterministic)', async (t) => {
  const rand = mulberry32(20240611);
  const gauss = (): number => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  // Four people: two crossing horizontally, one walking towards the camera (growing), one
  // loitering; 150 frames at 25 fps.
  const people = [
    { id: 'P1', at: (i: number) => [80 + 5 * i, 240, 90] as const },
    { id: 'P2', at: (i: number) => [830 - 5 * i, 270, 90] as const },
    { id: 'P3', at: (i: number) => [600, 500 - 1.5 * i, 60 + 0.6 * i] as const },
    { id: 'P4', at: (i: number) => [250 + 20 * Math.sin(i / 15), 520, 70] as const },
  ];
  const tr = tracker();
  const frames: GroundTruthMatches[] = [];
  let truthFrames = 0;
  let matchedFrames = 0;
  const starts = new Set<string>();
  for (let i = 0; i < 150; i++) {
    const truth: GroundTruthBox[] = [];
    const faces: Face[] = [];
    for (const p of people) {
      const [cx, cy, size] = p.at(i);
      const box = boxAt(cx, cy, size * 0.8, size);
      truth.push({ id: p.id, box });
      const r = rand();
      if (r < 0.05) continue; // missed detection
      const jitter = size * 0.04;
      const noisy = boxAt(cx + gauss() * jitter, cy + gauss() * jitter, size * 0.8 * (1 + gauss() * 0.03), size * (1 + gauss() * 0.03));
      const score = r < 0.13 ? 0.15 + 0.3 * rand() : 0.55 + 0.4 * rand(); // ~8% blurred
      faces.push(faceAt(noisy, score));
    }
    // Shuffle the detection order: a tracker must not depend on it.
    faces.sort(() => rand() - 0.5);
    const step = tr.update(faces, i * FRAME_MS);
    for (const e of step.events) if (e.type === 'track.started') starts.add(e.trackId);
    const m = matchGroundTruth(
      truth,
      step.update.tracks.map((v) => ({ trackId: v.trackId, box: v.box })),
      0.3,
    );
    frames.push(m);
    truthFrames += m.size;
    for (const id of m.values()) if (id !== undefined) matchedFrames++;
  }
  const switches = countIdSwitches(frames);
  t.ok(switches <= 1, `ID switches: ${switches}`);
  t.ok(starts.size <= 5, `tracks started for 4 people: ${starts.size}`);
  t.ok(matchedFrames / truthFrames >= 0.9, `recall ${(matchedFrames / truthFrames).toFixed(3)}`);
});

t.test('a lost track parked on a visible face ends as a duplicate; the visible id stays', async (t) => {
  const tr = tracker();
  const steps: TrackStep[] = [];
  for (let i = 0; i < 40; i++) {
    const faces = [faceAt(boxAt(400, 200))]; // B stands still
    if (i < 10) faces.push(faceAt(boxAt(100 + 10 * i, 200))); // A walks towards B, then vanishes
    steps.push(tr.update(faces, i * FRAME_MS));
  }
  const ended = eventsOf(steps, 'track.ended');
  t.equal(ended.length, 1);
  t.equal(ended[0].trackId, 'cam:2', 'A (second id: B was listed first) ended');
  t.equal(ended[0].reason, 'duplicate');
  t.ok(steps.every((s) => s.update.tracks.some((v) => v.trackId === 'cam:1')), 'B keeps cam:1 throughout');
});

t.test('flush ends started tracks (visible and lost) but not tentative ones', async (t) => {
  const tr = tracker({ minHits: 2 });
  tr.update([faceAt(boxAt(100, 100)), faceAt(boxAt(400, 100))], 0); // both confirmed (first frame)
  tr.update([faceAt(boxAt(100, 100))], 40); // the one at 400 is lost
  tr.update([faceAt(boxAt(100, 100)), faceAt(boxAt(700, 100))], 80); // a tentative at 700
  const events = tr.flush();
  t.same(
    events.map((e) => [e.trackId, e.reason, e.timeMs, e.frameCount]),
    [
      ['cam:1', 'flush', 80, 3],
      ['cam:2', 'flush', 80, 1],
    ],
  );
  t.same(tr.liveTracks(), []);
  t.same(tr.flush(500), [], 'nothing left to flush');
  tr.update([faceAt(boxAt(100, 100))], 1000);
  const after = tr.update([faceAt(boxAt(100, 100))], 1040);
  t.same(visibleIds(after), ['cam:3'], 'ids never repeat after a flush');
});

t.test('unusable detections are ignored; bad options are rejected', async (t) => {
  const tr = tracker();
  const step = tr.update(
    [
      faceAt([10, 10, 10, 50]), // zero width
      faceAt([10, 50, 40, 10]), // inverted
      faceAt([NaN, 0, 10, 10]),
      faceAt(boxAt(300, 300), NaN),
      faceAt(boxAt(500, 300)),
    ],
    0,
  );
  t.equal(step.update.tracks.length, 1);
  t.same(step.update.tracks[0].face.box, boxAt(500, 300));

  t.throws(() => tracker({ lowThresh: 0.7, highThresh: 0.5 }), { code: 'BAD_ARGUMENT', message: /lowThresh/ });
  t.throws(() => tracker({ minHits: 0 }), { code: 'BAD_ARGUMENT', message: /minHits/ });
  t.throws(() => tracker({ highMinIou: 0 }), { code: 'BAD_ARGUMENT', message: /highMinIou/ });
  t.throws(() => tracker({ maxLostFrames: 2.5 }), { code: 'BAD_ARGUMENT' });
  t.throws(() => tracker({ kalman: { stdWeightPosition: -1, stdWeightVelocity: 0.01 } }), { code: 'BAD_ARGUMENT' });
  t.same(tracker({ minHits: undefined }).params.minHits, DEFAULT_TRACKER_PARAMS.minHits, 'undefined means default');
});
