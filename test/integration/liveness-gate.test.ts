/**
 * Liveness on by default, end to end through the real chain: a shared video (file source,
 * rotation applied) -> SCRFD -> tracker -> recognition with the real embedder, mask and MiniFASNet
 * models -> a gate with the default liveness setting and an empty gallery. A screen replay is
 * denied 'liveness'; a live person passes liveness and is denied only as 'unknown'. Both
 * decisions say which evidence decided. Also: `facegate doctor`'s liveness probe.
 */
import { BehaviorSubject, concatMap, filter, lastValueFrom, map, toArray } from 'rxjs';
import t from 'tap';
import { probeLiveness } from '../../src/app/doctor.ts';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { parseGate, type GateDecision, type GatePolicy } from '../../src/gates/index.ts';
import { cameraFrames, isFrameOutput } from '../../src/ingest/index.ts';
import { decideGates, withTrackEvents, type PipelineItem } from '../../src/pipeline/index.ts';
import { createEmbedder, createLiveness, createMaskClassifier, recognizeTracks, type Embedder, type LivenessModel, type MaskClassifier, type Recognition, type RecognizeStats } from '../../src/recognize/index.ts';
import { trackFaces } from '../../src/track/index.ts';
import { dataPath } from '../helpers/data.ts';

// A webcam filming a screen replay, and a phone selfie stored sideways (rotation tag).
const REPLAY = 'spoof_video/spoof/replay_apfol_fake2.webm';
const LIVE = 'spoof_video/live/live_trainingdata_6238f1fa.mov';

let detector: Detector;
let embedder: Embedder;
let mask: MaskClassifier;
let liveness: LivenessModel;

t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder('w600k_mbf_dq');
  mask = await createMaskClassifier();
  liveness = await createLiveness();
});
t.teardown(async () => {
  await detector?.close();
  await embedder?.close();
  await mask?.close();
  await liveness?.close();
});

async function door(file: string): Promise<{ decisions: GateDecision[]; recognitions: Recognition[]; stats: RecognizeStats; frames: number }> {
  // What a new config gives a gate: liveness required at the models' calibrated threshold.
  const gate: GatePolicy = parseGate({ id: 'door', cameras: ['door'], allow: { groups: ['staff'] } });
  const stats: RecognizeStats = { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 };
  let frames = 0;
  let lastMs: number | undefined;
  const items: PipelineItem[] = await lastValueFrom(
    cameraFrames({ id: 'door', source: { kind: 'file', path: dataPath(file), realtime: false, lossless: true }, output: { fps: 5 } }).pipe(
      filter(isFrameOutput),
      map(({ frame }) => frame),
      // Variable-rate files come whole through videorate: thinned to a door camera's 5 fps here.
      filter((frame) => {
        const ms = frame.pts === undefined ? undefined : frame.pts / 1e6;
        if (ms === undefined) return true;
        if (lastMs !== undefined && ms - lastMs < 180) return false;
        lastMs = ms;
        return true;
      }),
      // Every frame detected in order (an offline clip; a live camera is latest-wins).
      concatMap(async (frame) => (frames++, { frame, faces: await detector.detect(frame) })),
      trackFaces({}),
      withTrackEvents(recognizeTracks({ embedder, mask, liveness, gallery: { search: () => [] }, thresholds: { unmasked: 0.25, masked: 0.45 } }, stats)),
      decideGates(new BehaviorSubject<readonly GatePolicy[]>([gate])),
      toArray(),
    ),
  );
  const decisions = items.flatMap((i) => (i.kind === 'gate' && (i.event.type === 'gate.granted' || i.event.type === 'gate.denied') ? [i.event] : []));
  const recognitions = items.flatMap((i) => (i.kind === 'recognition' ? [i.recognition] : []));
  return { decisions, recognitions, stats, frames };
}

t.test('the default gate denies a screen replay with reason liveness, and says why', async (t) => {
  const { decisions, recognitions, stats, frames } = await door(REPLAY);
  t.ok(frames >= 20, `${frames} frames`);
  t.ok(decisions.length >= 1, 'a decision for the presented face');
  t.notOk(decisions.some((d) => d.type === 'gate.granted'));
  const denial = decisions.find((d) => d.type === 'gate.denied' && d.reason === 'liveness');
  t.ok(denial, `denied liveness (decisions: ${decisions.map((d) => (d.type === 'gate.denied' ? d.reason : 'granted')).join(', ')})`);
  const ev = denial?.livenessEvidence;
  t.equal(ev?.rule, 'median');
  t.equal(ev?.threshold, liveness.threshold.value, "the models' calibrated threshold");
  t.ok(ev && ev.frames >= liveness.track.minFrames && ev.frames <= liveness.track.window, `decided on ${ev?.frames} frames`);
  t.ok(ev?.score !== undefined && ev.score < (ev.threshold ?? 0), `track score ${ev?.score}`);
  t.ok(recognitions.every((r) => r.livenessEvidence !== undefined), 'every recognition carries its liveness evidence');
  t.ok((stats.livenessRuns ?? 0) > stats.embedderRuns, `liveness read on more frames (${stats.livenessRuns}) than embedded (${stats.embedderRuns})`);
  t.ok((stats.livenessRuns ?? 0) <= stats.facesSeen, 'never more than once per looked-at face');
  // Once the track settled (decided above on the scores before it), its frames without an
  // embedder run are not scored: each looked-at face is either scored or skipped.
  t.ok((stats.livenessSkipped ?? 0) > 0, `${stats.livenessSkipped} looked-at frames of the settled track not scored`);
  t.equal((stats.livenessRuns ?? 0) + (stats.livenessSkipped ?? 0), stats.facesSeen, 'scored + skipped = looked at');
});

t.test('a live person passes liveness and, with an empty gallery, is denied only as unknown', async (t) => {
  const { decisions, recognitions } = await door(LIVE);
  t.ok(decisions.length >= 1);
  t.notOk(decisions.some((d) => d.type === 'gate.denied' && d.reason === 'liveness'), `no liveness denial (decisions: ${decisions.map((d) => (d.type === 'gate.denied' ? `${d.reason} ${d.livenessEvidence?.score}` : 'granted')).join(', ')})`);
  const unknown = decisions.find((d) => d.type === 'gate.denied' && d.reason === 'unknown');
  t.ok(unknown, 'denied unknown');
  t.ok(unknown?.livenessEvidence?.score !== undefined && unknown.livenessEvidence.score >= (unknown.livenessEvidence.threshold ?? 1), `passed liveness: ${unknown?.livenessEvidence?.score} over ${unknown?.livenessEvidence?.frames} frames`);
  const first = recognitions[0];
  t.equal(first?.livenessEvidence?.score, undefined, 'the first recognition comes before the liveness is known');
  t.ok(recognitions.some((r) => !r.changed && r.livenessEvidence?.frames === liveness.track.minFrames) || recognitions.some((r) => r.changed && (r.livenessEvidence?.frames ?? 0) >= liveness.track.minFrames), 'the decision follows as soon as the liveness is known');
});

t.test('doctor: the liveness models load and run, with their threshold and its source', async (t) => {
  const ok = await probeLiveness();
  t.equal(ok.ok, true, ok.reason ?? "loaded");
  t.equal(ok.threshold, liveness.threshold.value);
  t.match(ok.thresholdSource ?? '', /manifest|local calibration/);
  const missing = await probeLiveness(['minifasnet_v2']);
  t.equal(missing.ok, false, 'a model set without a calibrated threshold is reported');
  t.match(missing.reason ?? '', /no calibrated threshold/);
});
