/** Ingest feeding the real SCRFD detector: two live cameras under continuous inference, and the real clip. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import t from 'tap';
import { lastValueFrom, toArray, type Subscription } from 'rxjs';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { openCamera } from '../../src/ingest/index.ts';
import { latestWins, type LatestWinsStats } from '../../src/lib/latest-wins.ts';
import type { Frame } from '../../src/types.ts';
import { CLIP_PATH, withRtspCamera } from '../helpers/rtsp.ts';
import { HealthLog, isUp, sleep } from '../helpers/ingest-wait.ts';

let detector: Detector | undefined;
t.before(async () => {
  detector = await createDetector({ tier: '500m', size: 320 });
});
t.teardown(async () => {
  await detector?.close();
});

t.test('two cameras at once with continuous SCRFD inference on their frames: both keep flowing', async (t) => {
  const det = detector as Detector;
  const server = await withRtspCamera(t, { width: 640, height: 480, fps: 15 });
  const cams = ['door', 'lobby'].map((id) => openCamera({ id, source: { kind: 'rtsp', url: server.url() }, watchdog: { stallMs: 3000 } }));
  const logs = cams.map((c) => new HealthLog(c));
  const arrivals = cams.map(() => [] as number[]);
  const inference = cams.map((): LatestWinsStats => ({ processed: 0, dropped: 0 }));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const subs: Subscription[] = cams.map((cam, i) =>
    cam.frames
      .pipe(
        latestWins(
          (f: Frame) => {
            arrivals[i].push(Date.now());
            return det.detect(f);
          },
          { stats: inference[i] },
        ),
      )
      .subscribe(),
  );
  for (const log of logs) await log.waitFor(isUp, 15_000);
  const t0 = Date.now();
  // A measurement window, not a wait for an event: frame counts, gaps and the absence of stalls
  // are checked over these 6 s.
  await sleep(6000);
  subs.forEach((s) => s.unsubscribe());
  cams.forEach((c) => c.close());
  lag.disable();

  for (const [i, cam] of cams.entries()) {
    const delivered = cam.stats().delivered;
    const seen = arrivals[i].filter((a) => a >= t0);
    const gaps = seen.slice(1).map((a, j) => a - seen[j]);
    t.ok(delivered >= 6 * 15 * 0.6, `${cam.id}: frames keep arriving (${delivered} delivered)`);
    t.ok(inference[i].processed >= 20, `${cam.id}: inference keeps running (${inference[i].processed} frames detected, ${inference[i].dropped} skipped as stale)`);
    t.ok(Math.max(...gaps) < 1500, `${cam.id}: no long gap between inferences (max ${Math.max(...gaps)} ms)`);
    t.notOk(logs[i].types().some((x) => x === 'stalled' || x.startsWith('down')), `${cam.id}: never stalled or down (${logs[i].types().join(', ')})`);
  }
  t.comment(`event loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`);
});

t.test('the real clip through the file source into the detector finds the pedestrians', async (t) => {
  const det = await createDetector({ tier: '500m', size: 640 });
  t.teardown(() => det.close());
  const cam = openCamera({ id: 'clip', source: { kind: 'file', path: CLIP_PATH }, output: { width: 960, height: 540 } });
  const health = new HealthLog(cam);
  const stats: LatestWinsStats = { processed: 0, dropped: 0 };
  const counts = await lastValueFrom(cam.frames.pipe(latestWins(async (f: Frame) => (await det.detect(f)).length, { stats }), toArray()));
  t.same(health.types().slice(-1), ['ended'], 'played once, then camera.ended');
  // Played in real time: frames the busy consumer could not take are dropped by the pipeline's
  // leaky queue, and counted. How many depends on the machine's load, the sum does not. A file
  // with no fps cap has no videorate (it would duplicate frames), so no buffer offsets: its losses
  // are counted from PTS gaps, and the product's lost count is the larger of the two (camera-counts).
  const { delivered, droppedInPipeline, missedByPts } = cam.stats();
  const lost = Math.max(droppedInPipeline, missedByPts);
  t.ok(delivered + lost >= 100 && delivered + lost <= 105, `every one of the clip's 105 frames delivered or counted as lost (${delivered} + ${lost})`);
  t.ok(delivered >= 20, `a useful share reaches JS (${delivered})`);
  t.ok(counts.length >= 10, `detector ran on ${counts.length} frames`);
  const withFaces = counts.filter((n) => n > 0).length;
  t.ok(withFaces >= counts.length * 0.8, `faces on ${withFaces}/${counts.length} frames (people are visible throughout)`);
  t.ok(Math.max(...counts) >= 3, `several faces at once (max ${Math.max(...counts)}, counts ${counts.join(',')})`);
});
