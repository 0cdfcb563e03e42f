import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { eventsSchema } from '../../src/config/events-schema.ts';
import { cropRect, obscureOthers, SnapshotStore } from '../../src/events/snapshots.ts';
import type { Box, RgbImage } from '../../src/types.ts';
import { dataPath } from '../helpers/data.ts';

/**
 * events.snapshots.blurOthers on a real group photo (faceapi_bbt4.jpg, six faces) with its
 * reference detector boxes: the subject's box is left byte for byte, every other face loses its
 * detail (the sharpness measure collapses). The check with the product's own detector and embedder (a
 * pixelated face no longer matches itself) is test/integration/snapshots-blur.test.ts.
 */

const label = JSON.parse(readFileSync(dataPath('groups/faceapi_bbt4_boxes.json'), 'utf8')) as { boxes: { x: number; y: number; width: number; height: number }[] };
const boxes: Box[] = label.boxes.map((b) => [b.x, b.y, b.x + b.width, b.y + b.height]);

async function groupPhoto(): Promise<RgbImage> {
  const { data, info } = await sharp(dataPath('groups/faceapi_bbt4.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Variance of the 4-neighbour Laplacian of the grey image over a rectangle (sharpness). */
function laplacianVariance(img: { data: Uint8Array; width: number; height: number }, r: { left: number; top: number; width: number; height: number }): number {
  const g = (x: number, y: number): number => {
    const i = (y * img.width + x) * 3;
    return 0.299 * img.data[i] + 0.587 * img.data[i + 1] + 0.114 * img.data[i + 2];
  };
  const vals: number[] = [];
  for (let y = Math.max(1, r.top); y < Math.min(img.height - 1, r.top + r.height); y++) {
    for (let x = Math.max(1, r.left); x < Math.min(img.width - 1, r.left + r.width); x++) vals.push(g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1) - 4 * g(x, y));
  }
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  return vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
}

t.test('blurOthers: off by default, a boolean under events.snapshots', async (t) => {
  t.equal(eventsSchema.parse({}).snapshots.blurOthers, false);
  t.equal(eventsSchema.parse({ snapshots: { blurOthers: true } }).snapshots.blurOthers, true);
});

t.test('obscureOthers on the group photo: the subject untouched, every other face loses its detail', async (t) => {
  const img = await groupPhoto();
  t.ok(boxes.length >= 5, `${boxes.length} faces`);
  for (let s = 0; s < boxes.length; s++) {
    const subject = boxes[s];
    const others = boxes.filter((_, i) => i !== s);
    const out = obscureOthers(img.data, img.width, img.height, others, subject);
    if (!out) throw new Error('nothing pixelated');
    const outImg = { data: out, width: img.width, height: img.height };
    const rect = cropRect(subject, img.width, img.height, 0) as NonNullable<ReturnType<typeof cropRect>>;
    let changed = 0;
    for (let y = rect.top; y < rect.top + rect.height; y++) {
      for (let x = rect.left; x < rect.left + rect.width; x++) {
        if (x + 1 > subject[0] && x < subject[2] && y + 1 > subject[1] && y < subject[3]) {
          const i = (y * img.width + x) * 3;
          if (out[i] !== img.data[i] || out[i + 1] !== img.data[i + 1] || out[i + 2] !== img.data[i + 2]) changed++;
        }
      }
    }
    t.equal(changed, 0, `face ${s} as subject: its box is unchanged`);
    for (const o of others) {
      const r = cropRect(o, img.width, img.height, 0) as NonNullable<ReturnType<typeof cropRect>>;
      const before = laplacianVariance(img, r);
      const after = laplacianVariance(outImg, r);
      t.ok(after < 0.02 * before, `bystander [${o.map(Math.round).join(',')}]: Laplacian variance ${before.toFixed(0)} -> ${after.toFixed(1)}`);
    }
  }
  // Outside every face region the frame is left alone.
  const out = obscureOthers(img.data, img.width, img.height, boxes.slice(1), boxes[0]) as Uint8Array;
  t.same(Buffer.from(out.subarray(0, img.width * 3 * 5)), Buffer.from(img.data.subarray(0, img.width * 3 * 5)), 'the top rows (no face) are unchanged');
  t.equal(obscureOthers(img.data, img.width, img.height, [[-50, -50, -10, -10]], boxes[0]), undefined, 'no box in the frame: nothing to do');
});

t.test('SnapshotStore.save: the frame JPEG blurs bystanders only with blurOthers; the sharpness of each one collapses', async (t) => {
  const img = await groupPhoto();
  const dir = t.testdir();
  const subject = boxes[0];
  const others = boxes.slice(1);
  let on = false;
  const store = new SnapshotStore(join(dir, 's'), { retentionMs: 86_400_000, maxFiles: 100, frameMaxWidth: 10_000, blurOthers: () => on });
  const decode = async (id: string) => {
    const { data, info } = await sharp(await store.read(id, 'frame')).raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  };
  const plainId = await store.save(img, subject, { timeMs: 1_000_000 });
  const offId = await store.save(img, subject, { timeMs: 1_000_001, others });
  t.same(await store.read(offId, 'frame'), await store.read(plainId, 'frame'), 'blurOthers off: the frame is exactly as before');
  on = true;
  const blurId = await store.save(img, subject, { timeMs: 1_000_002, others });
  const [plain, blurred] = [await decode(plainId), await decode(blurId)];
  t.equal(blurred.width, img.width);
  const sub = cropRect(subject, img.width, img.height, 0) as NonNullable<ReturnType<typeof cropRect>>;
  // The subject's box: only JPEG noise at the edges where a neighbour's blocks begin.
  let diff = 0;
  for (let y = sub.top + 4; y < sub.top + sub.height - 4; y++) for (let x = sub.left + 4; x < sub.left + sub.width - 4; x++) for (let c = 0; c < 3; c++) diff += Math.abs(plain.data[(y * img.width + x) * 3 + c] - blurred.data[(y * img.width + x) * 3 + c]);
  const meanDiff = diff / ((sub.width - 8) * (sub.height - 8) * 3);
  t.ok(meanDiff < 1, `subject region: mean difference ${meanDiff.toFixed(3)} per channel`);
  t.ok(laplacianVariance(blurred, sub) > 0.8 * laplacianVariance(plain, sub), 'the subject keeps its detail');
  for (const o of others) {
    const r = cropRect(o, img.width, img.height, 0) as NonNullable<ReturnType<typeof cropRect>>;
    const before = laplacianVariance(plain, r);
    const after = laplacianVariance(blurred, r);
    t.ok(after < 0.1 * before, `bystander [${o.map(Math.round).join(',')}]: Laplacian variance ${before.toFixed(0)} -> ${after.toFixed(0)}`);
  }
});
