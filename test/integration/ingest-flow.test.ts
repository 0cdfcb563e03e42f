/** Flow control: a consumer 10x slower than the stream never builds a queue; drops are counted. */
import t from 'tap';
import { openCamera } from '../../src/ingest/index.ts';
import { latestWins, type LatestWinsStats } from '../../src/lib/latest-wins.ts';
import type { Frame } from '../../src/types.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { HealthLog, isUp, sleep, waitUntil } from '../helpers/ingest-wait.ts';

const FPS = 25;
const WORK_MS = 10 * (1000 / FPS); // 10x slower than the stream

t.test('overload', async (t) => {
  const server = await withRtspCamera(t, { width: 320, height: 240, fps: FPS });

  t.test('async consumer (inference-like): latest frame wins, latency bounded, drops counted', async (t) => {
    const cam = openCamera({ id: 'slow-async', source: { kind: 'rtsp', url: server.url() } });
    const health = new HealthLog(cam);
    const stats: LatestWinsStats = { processed: 0, dropped: 0 };
    const latencies: number[] = [];
    const sub = cam.frames
      .pipe(
        latestWins(async (f: Frame) => {
          latencies.push(Date.now() - f.capturedAt);
          await sleep(WORK_MS);
          return f.seq;
        }, { stats }),
      )
      .subscribe();
    await health.waitFor(isUp, 10_000);
    // A measurement window, not a wait for an event: the rates below are counted over these 5 s.
    await sleep(5000);
    sub.unsubscribe();
    cam.close();
    const delivered = cam.stats().delivered;
    t.ok(stats.processed >= 6 && stats.processed <= 20, `work ran ~2.5x/s (${stats.processed} in 5 s)`);
    t.ok(stats.dropped > stats.processed * 4, `drops counted (${stats.dropped} dropped, ${stats.processed} processed, ${delivered} delivered)`);
    t.ok(Math.abs(delivered - stats.processed - stats.dropped) <= 1, 'every delivered frame is processed or counted as dropped');
    const worst = Math.max(...latencies);
    t.ok(worst < WORK_MS + 1000, `frame age when work starts stays below one work period + slack (max ${worst} ms)`);
    const lateHalf = latencies.slice(latencies.length / 2);
    t.ok(Math.max(...lateHalf) < WORK_MS + 1000, 'and does not grow over time');
  });

  t.test('blocking consumer (event loop busy): the pipeline drops, latency bounded, drops counted', async (t) => {
    const cam = openCamera({ id: 'slow-sync', source: { kind: 'rtsp', url: server.url() }, watchdog: { stallMs: 5000 } });
    const health = new HealthLog(cam);
    // Delay from source timestamp to arrival in JS, relative to the best frame of the run: any
    // queue between camera and JS shows up as a drift that keeps growing.
    const drift: number[] = [];
    let base: number | undefined;
    let blocking = false;
    let start = 0;
    const sub = cam.frames.subscribe((f) => {
      const d = f.capturedAt - (f.pts ?? 0) / 1e6;
      base = base === undefined ? d : Math.min(base, d);
      if (!blocking) return;
      if (Date.now() - start > 6000) {
        blocking = false;
        return;
      }
      drift.push(d - base);
      const until = Date.now() + WORK_MS;
      while (Date.now() < until) {
        // a synchronous consumer holding the event loop for 400 ms per frame
      }
    });
    await health.waitFor(isUp, 10_000);
    await waitUntil(() => cam.stats().delivered >= 10, 5000);
    start = Date.now();
    blocking = true;
    await waitUntil(() => !blocking, 15_000);
    sub.unsubscribe();
    cam.close();
    const s = cam.stats();
    t.ok(drift.length >= 8, `consumer ran ${drift.length} times`);
    t.ok(s.droppedInPipeline > drift.length * 4, `GStreamer dropped and JS counted it (${s.droppedInPipeline} dropped in the pipeline)`);
    // The same losses seen from the timestamps (what also catches losses offsets cannot see).
    t.ok(Math.abs(s.missedByPts - s.droppedInPipeline) <= 0.1 * s.droppedInPipeline + 5, `missedByPts agrees (${s.missedByPts} by PTS vs ${s.droppedInPipeline} by offset)`);
    const maxDrift = Math.max(...drift);
    t.ok(maxDrift < 3 * WORK_MS + 1300, `delivered frames stay fresh (max ${maxDrift.toFixed(0)} ms behind the best frame)`);
    const lateHalf = drift.slice(drift.length / 2);
    t.ok(Math.max(...lateHalf) < 3 * WORK_MS + 1300, `no growth: late half max ${Math.max(...lateHalf).toFixed(0)} ms`);
  });
});
