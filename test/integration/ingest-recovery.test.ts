/** Watchdog and reconnect against a real RTSP server that freezes (SIGSTOP) or dies (SIGKILL). */
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { openCamera } from '../../src/ingest/index.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { HealthLog, isDown, isStalled, isUp, sleep, waitUntil } from '../helpers/ingest-wait.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** gst-launch processes whose parent is this process, read from /proc (independent of our registry). */
function gstChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (Number(ppid) === process.pid && comm.startsWith('gst-launch') && state !== 'Z') out.push(Number(name));
    } catch {
      // process went away while listing
    }
  }
  return out;
}

t.test('frozen camera (server SIGSTOPped): camera.stalled, camera.down, recovery after SIGCONT', async (t) => {
  const server = await withRtspCamera(t, { width: 160, height: 120, fps: 15 });
  const cam = openCamera({
    id: 'frozen',
    source: { kind: 'rtsp', url: server.url() },
    watchdog: { stallMs: 1500, startMs: 2500 },
    backoff: { baseMs: 200, maxMs: 800 },
  });
  const health = new HealthLog(cam);
  let frames = 0;
  const sub = cam.frames.subscribe(() => frames++);
  t.teardown(() => {
    sub.unsubscribe();
    cam.close();
  });
  await health.waitFor(isUp, 10_000);
  await waitUntil(() => frames >= 10, 5000);

  server.pause();
  const stalled = await health.waitFor(isStalled, 6000);
  t.ok(stalled.event.silentMs >= 1500, `stalled after ${stalled.event.silentMs} ms without a frame`);
  const down = await health.waitFor(isDown, 1000, stalled.index);
  t.equal(down.event.reason.kind, 'stalled', 'then camera.down with reason stalled');
  t.equal(down.index, stalled.index + 1, 'down right after stalled');
  // Still frozen: the rebuilt pipeline connects (the kernel accepts) but never gets a frame.
  const again = await health.waitFor(isDown, 8000, down.index + 1);
  t.equal(again.event.reason.kind, 'start-timeout', 'retries while frozen time out at start-up');
  const framesWhileFrozen = frames;

  server.resume();
  await health.waitFor(isUp, 15_000, again.index);
  t.ok(await waitUntil(() => frames >= framesWhileFrozen + 10, 5000), 'frames flow again after SIGCONT');
  t.equal(cam.state.value.status, 'up');
});

t.test('server killed and restarted on the same port, 5 times: down, up, frames resume, no leak', async (t) => {
  const server = await withRtspCamera(t, { width: 160, height: 120, fps: 15 });
  const port = server.port;
  const cam = openCamera({
    id: 'flaky',
    source: { kind: 'rtsp', url: server.url() },
    watchdog: { stallMs: 3000, startMs: 5000 },
    backoff: { baseMs: 100, maxMs: 400 },
  });
  const health = new HealthLog(cam);
  let frames = 0;
  const sub = cam.frames.subscribe(() => frames++);
  t.teardown(() => {
    sub.unsubscribe();
    cam.close();
  });
  let from = (await health.waitFor(isUp, 10_000)).index + 1;
  await waitUntil(() => frames >= 10, 5000);

  const exitListeners = process.listenerCount('exit');
  const rss: number[] = [];
  for (let round = 1; round <= 5; round++) {
    await server.kill();
    const down = await health.waitFor(isDown, 8000, from);
    t.equal(down.event.reason.kind, 'connection-lost', `round ${round}: camera.down says the connection was lost (${down.event.reason.message})`);
    await server.restart();
    t.equal(server.port, port, 'same port');
    const up = await health.waitFor(isUp, 10_000, down.index);
    from = up.index + 1;
    const before = frames;
    t.ok(await waitUntil(() => frames >= before + 15, 6000), `round ${round}: frames resume`);
    t.ok(gstChildren().length <= 1, `round ${round}: one pipeline process at most (${gstChildren().join(',')})`);
    gc();
    await sleep(50);
    gc();
    rss.push(process.memoryUsage().rss);
  }
  const growthMb = (rss[4] - rss[0]) / 2 ** 20;
  t.ok(growthMb < 20, `RSS after the last rebuild within 20 MB of the first (${growthMb.toFixed(1)} MB; ${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(' ')})`);
  t.equal(process.listenerCount('exit'), exitListeners, 'no listener piles up across rebuilds');
  t.ok(cam.stats().starts >= 6, `pipelines started: ${cam.stats().starts}`);
  sub.unsubscribe();
  t.ok(await waitUntil(() => gstChildren().length === 0, 3000), 'no gst-launch left after unsubscribe');
});
