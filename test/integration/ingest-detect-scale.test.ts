/**
 * The detector copy for real: real H.264 over real RTSP (loopback gst-rtsp-server), real
 * GStreamer scaling into fd 3, real SCRFD on the copies against the full frames.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createDetector, iou } from '../../src/detect/index.ts';
import { openCamera, ownedChildPids } from '../../src/ingest/index.ts';
import type { Face, Frame, RgbImage } from '../../src/types.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { waitUntil } from '../helpers/ingest-wait.ts';

/** 2x2 box average of the full frame: what a half-size copy should look like. */
function meanAbsDiffHalf(full: RgbImage, half: RgbImage): number {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < half.height; y += 3) {
    for (let x = 0; x < half.width; x += 3) {
      for (let c = 0; c < 3; c++) {
        const a = (((2 * y) * full.width + 2 * x) * 3) + c;
        const b = a + 3;
        const d = a + full.width * 3;
        const avg = (full.data[a] + full.data[b] + full.data[d] + full.data[d + 3]) / 4;
        sum += Math.abs(avg - half.data[(y * half.width + x) * 3 + c]);
        n++;
      }
    }
  }
  return sum / n;
}

t.test('RTSP 1280x720 with detectSize 640: every frame full resolution with a 640x360 GStreamer copy', async (t) => {
  const server = await withRtspCamera(t, { width: 1280, height: 720, fps: 10, clip: true });
  const cam = openCamera({ id: 'door', source: { kind: 'rtsp', url: server.url('/clip') }, output: { detectSize: 640 } });
  const frames: Frame[] = await firstValueFrom(cam.frames.pipe(take(12), toArray()));
  const stats = cam.stats();
  cam.close();
  t.ok(frames.every((f) => f.width === 1280 && f.height === 720 && f.data.length === 1280 * 720 * 3), 'frames stay 1280x720');
  t.ok(frames.every((f) => f.detectView?.width === 640 && f.detectView.height === 360 && f.detectView.data.length === 640 * 360 * 3), 'each carries a 640x360 copy');
  t.same(frames.map((f) => f.seq), frames.map((_, i) => i), 'seq without gaps');
  t.ok(stats.unpaired <= 2, `few unpaired (${stats.unpaired})`);
  t.equal(stats.delivered, 12);
  // The copy is the same picture (this frame's, not a neighbour's): close to a 2x2 average of it,
  // and further from the frames before and after (the clip moves).
  const mid = frames[6];
  const own = meanAbsDiffHalf(mid, mid.detectView as RgbImage);
  t.ok(own < 3, `copy matches its frame (mean |diff| ${own.toFixed(2)} levels)`);
  const other = meanAbsDiffHalf(frames[1], mid.detectView as RgbImage);
  t.ok(other > own, `and not another frame (${other.toFixed(2)} vs ${own.toFixed(2)})`);
  await waitUntil(() => ownedChildPids().length === 0, 3000);
  t.same(ownedChildPids(), [], 'pipeline gone');

  t.test('SCRFD on the copies finds the same faces as on the full frames (mapped back)', async (t) => {
    const det = await createDetector({ tier: '500m', size: 640 });
    t.teardown(() => det.close());
    let compared = 0;
    let matched = 0;
    const ious: number[] = [];
    const lmErr: number[] = [];
    for (const f of frames.filter((_, i) => i % 2 === 0)) {
      const viaCopy = await det.detect(f);
      const viaFull = await det.detect({ data: f.data, width: f.width, height: f.height });
      // Faces confidently found on the full frame (not borderline at the threshold).
      const sure = viaFull.filter((x) => x.score >= 0.6);
      for (const a of sure) {
        compared++;
        const best = viaCopy.reduce<{ f: Face | undefined; iou: number }>((acc, b) => {
          const v = iou(a.box, b.box);
          return v > acc.iou ? { f: b, iou: v } : acc;
        }, { f: undefined, iou: 0 });
        if (best.f && best.iou >= 0.6) {
          matched++;
          ious.push(best.iou);
          const side = Math.max(a.box[2] - a.box[0], a.box[3] - a.box[1]);
          const found = best.f;
          lmErr.push(Math.max(...a.landmarks.map((p, k) => Math.hypot(p[0] - found.landmarks[k][0], p[1] - found.landmarks[k][1]))) / side);
        }
      }
      t.ok(viaCopy.every((x) => x.box[2] <= 1280 && x.box[3] <= 720), 'boxes in full-frame coordinates');
    }
    t.ok(compared >= 6, `faces to compare (${compared})`);
    t.ok(matched >= compared * 0.9, `${matched}/${compared} confident full-frame faces found on the copy too`);
    const meanIou = ious.reduce((a, b) => a + b, 0) / ious.length;
    t.ok(meanIou > 0.9, `same boxes (mean IoU ${meanIou.toFixed(3)})`);
    const meanLm = lmErr.reduce((a, b) => a + b, 0) / lmErr.length;
    t.ok(meanLm < 0.03, `same landmarks (mean worst landmark error ${(meanLm * 100).toFixed(1)}% of the face size)`);
    t.comment(`compared ${compared}, matched ${matched}, mean IoU ${meanIou.toFixed(3)}, landmark error ${(meanLm * 100).toFixed(2)}%`);
  });
});

t.test('a camera with credentials (stdin launcher) still gets its copy through fd 3', async (t) => {
  const server = await withRtspCamera(t, { width: 640, height: 480, fps: 10, auth: 'admin:Sc4leSecret' });
  const cam = openCamera({ id: 'locked', source: { kind: 'rtsp', url: server.url('/test', 'admin:Sc4leSecret') }, output: { detectSize: 320 } });
  let cmdline = '';
  cam.health.subscribe((h) => {
    if (h.type === 'camera.up' && h.pid) cmdline = readFileSync(`/proc/${h.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  });
  const frames = await firstValueFrom(cam.frames.pipe(take(8), toArray()));
  cam.close();
  t.match(cmdline, /gst-launch-stdin\.py/, 'the launcher runs the pipeline');
  t.notMatch(cmdline, /Sc4leSecret/, 'no password on its command line');
  t.ok(frames.every((f) => f.width === 640 && f.height === 480), 'full frames 640x480');
  t.ok(frames.every((f) => f.detectView?.width === 320 && f.detectView.height === 240), 'copies 320x240');
  t.notMatch(cam.pipeline ?? '', /Sc4leSecret/);
});
