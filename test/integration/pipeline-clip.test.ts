import { concatMap, filter, lastValueFrom, map, tap, toArray } from 'rxjs';
import t from 'tap';
import { createDetector, iou } from '../../src/detect/index.ts';
import { cameraFrames, isFrameOutput } from '../../src/ingest/index.ts';
import type { PipelineItem } from '../../src/pipeline/index.ts';
import { createEmbedder, createMaskClassifier, DEFAULT_BEST_SHOT, recognizeTracks } from '../../src/recognize/index.ts';
import { withTrackEvents } from '../../src/pipeline/index.ts';
import { trackFaces, type TrackEndedEvent, type TrackStartedEvent } from '../../src/track/index.ts';
import { dataPath } from '../helpers/data.ts';

t.test('real street clip: file source -> detect -> track -> best-shot recognition (track events alongside)', async (t) => {
  const detector = await createDetector({ tier: '500m', size: 640 });
  const embedder = await createEmbedder('mobilefacenet_paddlex_128d');
  const maskModel = await createMaskClassifier();
  // The real classifier, counted: the mask attribute is read only on frames that are embedded.
  let maskRuns = 0;
  const mask = { ...maskModel, maskProbability: (img: Parameters<typeof maskModel.maskProbability>[0]) => (maskRuns++, maskModel.maskProbability(img)) };
  t.teardown(async () => {
    await detector.close();
    await embedder.close();
    await mask.close();
  });
  const stats = { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 };
  let facesDetected = 0;
  let framesDetected = 0;
  const out: PipelineItem[] = await lastValueFrom(
    cameraFrames({ id: 'clip', source: { kind: 'file', path: dataPath('video/facenet_pytorch_video.mp4'), realtime: true, lossless: true } }).pipe(
      filter(isFrameOutput),
      map(({ frame }) => frame),
      // Every frame detected, in order (a clip measured offline): detectFaces is latest-wins for
      // live cameras, so frames arriving during a run would be dropped (more so with the model on
      // a worker thread, models.sessionThread: worker, where the event loop keeps reading).
      concatMap(async (frame) => ({ frame, faces: await detector.detect(frame) })),
      tap((ff) => {
        facesDetected += ff.faces.length;
        framesDetected++;
      }),
      trackFaces({}),
      withTrackEvents(recognizeTracks({ embedder, mask, gallery: { search: () => [] }, thresholds: { unmasked: 0.36, masked: 0.6 } }, stats)),
      toArray(),
    ),
  );
  const started = out.flatMap((o) => (o.kind === 'track' && o.event.type === 'track.started' ? [o.event as TrackStartedEvent] : []));
  const ended = out.flatMap((o) => (o.kind === 'track' && o.event.type === 'track.ended' ? [o.event as TrackEndedEvent] : []));
  t.ok(framesDetected >= 90, `${framesDetected} frames decoded and detected (4 s at 25 fps)`);
  t.equal(ended.length, started.length, 'every started track ended (flush at end of clip)');
  t.ok(started.length >= 5 && started.length <= 25, `${started.length} tracks for a handful of people walking`);
  const lengths = ended.map((e) => e.frameCount).sort((a, b) => b - a);
  t.ok(lengths.filter((l) => l >= 20).length >= 5, `long tracks: ${lengths.join(',')}`);
  // Fragmentation / ID switches: a track that ends and a new one that starts on the same spot
  // within a few frames is the same person re-identified under a new id.
  let rebirths = 0;
  for (const e of ended) {
    if (e.reason === 'flush') continue;
    for (const s of started) {
      const dt = s.timeMs - e.track.lastSeenAt;
      if (dt > 0 && dt < 400 && iou(s.track.box, e.track.box) > 0.3) rebirths++;
    }
  }
  t.ok(rebirths <= 2, `${rebirths} track re-births (id switches) in the clip`);
  const recognitions = out.filter((o) => o.kind === 'recognition');
  t.equal(stats.errors, 0);
  t.ok(stats.embedderRuns > 0, `${stats.embedderRuns} embedder runs`);
  t.ok(stats.embedderRuns <= started.length * DEFAULT_BEST_SHOT.maxRuns, 'at most maxRuns per track');
  t.ok(stats.embedderRuns * 10 < facesDetected, `best shot: ${stats.embedderRuns} embedder runs instead of ${facesDetected} (one per face per frame)`);
  t.equal(maskRuns, stats.embedderRuns, `the mask classifier ran on the ${stats.embedderRuns} embedded frames only (${stats.facesSeen} faces looked at)`);
  for (const r of recognitions) {
    if (r.kind !== 'recognition') continue;
    t.equal(r.recognition.type, 'face.unknown', 'nobody is enrolled: every decision is unknown');
    t.type(r.recognition.maskProbability, 'number', 'every decision carries the mask attribute of its embedded frames');
  }
});
