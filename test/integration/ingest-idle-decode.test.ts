/**
 * A sleeping camera (idleDecode: keyframes) whose decode child hangs, against the loopback RTSP
 * server: the parse child keeps receiving the stream, the decoder keeps getting a key frame a
 * second and returns nothing. The camera must report the stall as an awake one does (camera.stalled,
 * camera.down 'stalled', rebuilt), not wait for its next wake.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { openCamera } from '../../src/ingest/index.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { HealthLog, isDown, isStalled, isUp, waitUntil } from '../helpers/ingest-wait.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('sleeping camera, decode child SIGSTOPped: camera.stalled, down stalled, rebuilt and decoding again', async (t) => {
  // One key frame a second (the server's GOP is its fps); a still test pattern never wakes the size test.
  const server = await withRtspCamera(t, { width: 160, height: 120, fps: 5 });
  const stallMs = 1500;
  const cam = openCamera(
    {
      id: 'sleeper',
      source: { kind: 'rtsp', url: server.url(), codec: 'h264' },
      output: { fps: 5 },
      idleDecode: { mode: 'keyframes', sleepAfterMs: 300, keyframeEveryMs: 500 },
      watchdog: { stallMs, startMs: 5000 },
      backoff: { baseMs: 100, maxMs: 400 },
    },
    // The chain never has anything to do: the decoder sleeps 300 ms after the start.
    { demand: { busy: () => false } },
  );
  const health = new HealthLog(cam);
  let frames = 0;
  const sub = cam.frames.subscribe(() => frames++);
  let stopped: number | undefined;
  t.teardown(() => {
    if (stopped !== undefined && alive(stopped)) process.kill(stopped, 'SIGCONT');
    sub.unsubscribe();
    cam.close();
  });

  const first = await health.waitFor(isUp, 10_000);
  const pid = first.event.pid;
  if (pid === undefined) throw new Error('camera.up carries no pid');
  t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /fdsrc/, 'the pid camera.up reports is the decode child (it reads from facegate)');
  t.ok(await waitUntil(() => cam.stats().notDecoded >= 10, 6000), `asleep: ${cam.stats().notDecoded} of ${cam.stats().parsed} access units not decoded`);
  const framesAsleep = frames;
  t.ok(await waitUntil(() => frames >= framesAsleep + 1, 3000), 'asleep, decoded key frames still come out');

  process.kill(pid, 'SIGSTOP');
  stopped = pid;
  const parsedAtStop = cam.stats().parsed;
  const stalled = await health.waitFor(isStalled, 8000, first.index);
  t.ok(cam.stats().parsed >= parsedAtStop + 5, `the parse child went on (${cam.stats().parsed - parsedAtStop} access units parsed after the decoder stopped)`);
  t.ok(stalled.event.silentMs >= stallMs, `stalled after ${stalled.event.silentMs} ms without a frame`);
  const down = await health.waitFor(isDown, 1000, stalled.index);
  t.equal(down.index, stalled.index + 1, 'down right after stalled');
  t.equal(down.event.reason.kind, 'stalled', 'reason stalled, as for an awake camera');
  t.match(down.event.reason.message, /no frame for \d+ ms \(the decoder got \d+ compressed frames/, `the message says it was the decoder: ${down.event.reason.message}`);
  t.equal(down.event.fatal, false, 'and it is retried');

  const again = await health.waitFor(isUp, 10_000, down.index);
  t.not(again.event.pid, pid, 'a new decode child');
  t.ok(await waitUntil(() => !alive(pid), 2000), 'the hung decode child was killed');
  const framesAfter = frames;
  t.ok(await waitUntil(() => frames >= framesAfter + 2, 5000), 'frames come out of the rebuilt run');
  t.equal(cam.stats().starts, 2, 'one rebuild');
});
