/**
 * The openh264 decoder preset (Cisco's OpenH264 in gst-plugins-bad instead of libav): the same
 * pictures as the default decoder on a real H.264 clip (H.264 decoding is exact, so the frames
 * must match), and an idle camera's split run with it: asleep, key frames only; woken by the
 * chain, every frame again.
 */
import { lastValueFrom, take, toArray } from 'rxjs';
import t from 'tap';
import { openCamera, type DecoderConfig } from '../../src/ingest/index.ts';
import type { Frame } from '../../src/types.ts';
import { CLIP_PATH } from '../../src/dev/rtsp-server.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { HealthLog, isUp, waitUntil } from '../helpers/ingest-wait.ts';

const FRAMES = 12;

async function decodeClip(decoder: DecoderConfig): Promise<Frame[]> {
  const cam = openCamera({ id: `clip-${typeof decoder === 'string' ? decoder : 'custom'}`, source: { kind: 'file', path: CLIP_PATH, codec: 'h264', realtime: false, lossless: true }, decoder, output: { width: 320, height: 180 } });
  try {
    // Nothing here releases a frame's hold, so no later frame reuses its memory.
    return await lastValueFrom(cam.frames.pipe(take(FRAMES), toArray()));
  } finally {
    cam.close();
  }
}

t.test('openh264 decodes a real H.264 clip to the same pictures as libav', async (t) => {
  const libav = await decodeClip('cpu');
  const openh264 = await decodeClip('openh264');
  t.equal(openh264.length, FRAMES);
  t.same(
    openh264.map((f) => f.pts),
    libav.map((f) => f.pts),
    'the same frames in the same order',
  );
  for (const [i, f] of openh264.entries()) {
    const ref = libav[i].data;
    let maxDiff = 0;
    let sum = 0;
    for (let p = 0; p < ref.length; p++) {
      const d = Math.abs(f.data[p] - ref[p]);
      sum += d;
      if (d > maxDiff) maxDiff = d;
    }
    const mean = sum / ref.length;
    // Bit-exact decoders, the same colour conversion: identical but for rounding, if any.
    if (maxDiff > 2 || mean > 0.05) t.fail(`frame ${i}: max difference ${maxDiff}, mean ${mean.toFixed(3)} grey levels`);
  }
  const lit = openh264[FRAMES - 1].data.reduce((n, v) => n + (v > 40 ? 1 : 0), 0) / openh264[FRAMES - 1].data.length;
  t.ok(lit > 0.2, `a real picture, not black (${(lit * 100).toFixed(0)} % of samples above 40)`);
});

t.test('openh264 in an idle camera: key frames only while asleep, every frame once the chain is busy', async (t) => {
  // One key frame a second (the server's GOP is its fps), processed at 5 fps as cameras are.
  const server = await withRtspCamera(t, { width: 160, height: 120, fps: 10 });
  let busy = false;
  const cam = openCamera(
    {
      id: 'lean',
      source: { kind: 'rtsp', url: server.url(), codec: 'h264' },
      decoder: 'openh264',
      output: { fps: 5 },
      idleDecode: { mode: 'keyframes', sleepAfterMs: 300, keyframeEveryMs: 500 },
    },
    { demand: { busy: () => busy } },
  );
  const health = new HealthLog(cam);
  const times: number[] = [];
  const sub = cam.frames.subscribe(() => times.push(Date.now()));
  t.teardown(() => {
    sub.unsubscribe();
    cam.close();
  });
  await health.waitFor(isUp, 10_000);
  t.ok(await waitUntil(() => cam.stats().notDecoded >= 10, 8000), `asleep: ${cam.stats().notDecoded} of ${cam.stats().parsed} access units not decoded`);
  const asleepFrom = Date.now();
  await new Promise((r) => setTimeout(r, 2000));
  const asleep = times.filter((x) => x >= asleepFrom).length;
  t.ok(asleep >= 1 && asleep <= 4, `asleep: ${asleep} frames in 2 s (key frames only, from a 10 fps camera)`);

  busy = true;
  t.ok(await waitUntil(() => cam.stats().wokenByDemand >= 1, 3000), 'woken by the chain');
  const awakeFrom = Date.now();
  await new Promise((r) => setTimeout(r, 2000));
  const awake = times.filter((x) => x >= awakeFrom).length;
  t.ok(awake >= 7, `awake: ${awake} frames in 2 s (every frame at the 5 fps cap)`);
  t.equal(cam.stats().missedByPts, 0, `skipped decoding is not counted as lost frames (${JSON.stringify(cam.stats())})`);
});
