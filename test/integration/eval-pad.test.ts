/**
 * `eval --pad` on a small labelled folder built at test time from real shared photos and videos
 * (symlinked, never copied into the repo): exact counts, per-item problems, rotated phone clips.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { isFacegateError } from '../../src/errors.ts';
import { evaluatePad, videoObservations } from '../../src/recognize/evaluate-pad.ts';
import { createLiveness, type LivenessModel } from '../../src/recognize/models.ts';
import { dataPath } from '../helpers/data.ts';

let detector: Detector;
let liveness: LivenessModel;
let dir: string;

const PHOTOS = {
  live: ['live/live_nuaa_0001_00_00_01_253.jpg', 'live/live_nuaa_0002_01_00_01_109.jpg'],
  print: ['spoof/print_nuaa_0001_00_08_03_260.jpg', 'spoof/print_nuaa_0002_01_02_03_244.jpg'],
  replay: ['spoof/replay_trueface_far_shot_fake_person.jpg'],
};
// A phone clip stored sideways (rotation tag 90) and a webcam filming a screen replay.
const LIVE_VIDEO = 'live/live_trainingdata_6238f1fa.mov';
const REPLAY_VIDEO = 'spoof/replay_apfol_fake2.webm';

t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true, threads: 2 });
  liveness = await createLiveness(undefined, { threads: 2 });
  dir = mkdtempSync(join(tmpdir(), 'facegate-pad-'));
  mkdirSync(join(dir, 'live'));
  mkdirSync(join(dir, 'spoof'));
  const rows = ['file,label,attack,context'];
  for (const f of PHOTOS.live) rows.push(`${f},live,none,full`);
  for (const f of PHOTOS.print) rows.push(`${f},spoof,print,full`);
  for (const f of PHOTOS.replay) rows.push(`${f},spoof,replay,full`);
  for (const f of [...PHOTOS.live, ...PHOTOS.print, ...PHOTOS.replay]) symlinkSync(dataPath(`spoof/${f}`), join(dir, f));
  symlinkSync(dataPath(`spoof_video/${LIVE_VIDEO}`), join(dir, LIVE_VIDEO));
  symlinkSync(dataPath(`spoof_video/${REPLAY_VIDEO}`), join(dir, REPLAY_VIDEO));
  rows.push(`${LIVE_VIDEO},live,none,video`, `${REPLAY_VIDEO},spoof,replay,video`);
  // Bad rows: each is reported with its reason and counted, none stops the run.
  writeFileSync(join(dir, 'broken.jpg'), 'this is not a JPEG');
  writeFileSync(join(dir, 'broken.mp4'), 'this is not a video');
  await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 160 } } }).png().toFile(join(dir, 'blank.png'));
  rows.push('broken.jpg,live,none,full', 'broken.mp4,spoof,replay,video', 'blank.png,spoof,print,full', 'gone.jpg,live,none,full', `${PHOTOS.live[0]},maybe,none,full`, `${PHOTOS.live[1]},spoof,,full`);
  writeFileSync(join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
});
t.teardown(async () => {
  await detector?.close();
  await liveness?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

t.test('photos and videos judged, bad rows reported per item', async (t) => {
  const r = await evaluatePad(dir, { detector, liveness }, { threshold: 0.5, videoFps: 5 });
  t.same(r.counts, { live: 3, spoof: 4, attacks: { print: 2, replay: 2 } }, 'judged: 2 live photos + 1 live video; 2 prints, 1 replay photo + 1 replay video');
  t.equal(r.liveRefused, 0);
  t.equal(r.bpcer, 0);
  t.same(r.attacksAccepted, { print: 0, replay: 0 });
  t.same(r.apcer, { print: 0, replay: 0 });
  t.equal(r.acer, 0);
  t.same(r.problems, { unreadable: 2, 'no-face': 1, 'missing-file': 1, 'unknown-label': 1, 'unknown-attack': 1 });
  t.same(r.nonResponse, { live: 2, spoof: 3 }, 'broken.jpg + gone.jpg live; broken.mp4, blank.png and the attack-less spoof row');
  const by = (f: string, label?: string) => r.items.find((i) => i.file === f && (label === undefined || i.label === label));
  t.equal(by('broken.jpg')?.problem, 'unreadable');
  t.equal(by('broken.mp4')?.problem, 'unreadable');
  t.equal(by('blank.png')?.problem, 'no-face');
  t.equal(by('gone.jpg')?.problem, 'missing-file');
  t.equal(r.items.find((i) => i.problem === 'unknown-label')?.line, 13, 'the CSV line is named (header = line 1)');
  t.same(Object.keys(r.contexts ?? {}), ['full', 'video']);
  t.ok(r.kinds, 'photos and videos reported apart too');
  const liveVideo = by(LIVE_VIDEO);
  t.ok(liveVideo?.video && liveVideo.video.height > liveVideo.video.width, 'the sideways phone clip is decoded upright (its rotation tag applied)');
  t.ok(liveVideo?.video && liveVideo.video.trackFrames >= 30, 'the live person is tracked across the clip');
  t.equal(liveVideo?.accepted, true);
  const replay = by(REPLAY_VIDEO);
  t.equal(replay?.accepted, false);
  t.equal(replay?.video?.tracks, 1);
  t.ok(Number.isFinite(r.atBpcer5.threshold));
});

t.test('a folder without labels.csv is a clear error, not a crash', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'facegate-pad-empty-'));
  try {
    await evaluatePad(empty, { detector, liveness }, { threshold: 0.5 });
    t.fail('should have thrown');
  } catch (e) {
    t.ok(isFacegateError(e) && e.code === 'BAD_ARGUMENT' && /labels\.csv/.test(e.message), 'BAD_ARGUMENT naming labels.csv');
  }
  writeFileSync(join(empty, 'labels.csv'), 'file,kind\na.jpg,live\n');
  await t.rejects(evaluatePad(empty, { detector, liveness }, { threshold: 0.5 }), /lacks column\(s\) label, attack/);
  rmSync(empty, { recursive: true, force: true });
});

t.test('a variable-frame-rate phone clip decodes (videorate no longer aborts on framerate 0/1)', async (t) => {
  const v = await videoObservations(dataPath('spoof_video/spoof/replay_trainingdata_628befdf.mp4'), { detector, liveness }, { videoFps: 5 });
  t.ok(v.frames >= 30 && v.frames <= 36, `6.8 s at 5 fps: ${v.frames} frames`);
});
