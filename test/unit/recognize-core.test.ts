import t from 'tap';
import { alignFace, applyAffine, ARCFACE_TEMPLATE_112, invertAffine, umeyama, warpAffine, type Affine } from '../../src/recognize/align.ts';
import { renderMask, insidePolygon, MASK_SHAPES } from '../../src/recognize/mask-render.ts';
import { equalErrorRate, rank1, tarAtFar } from '../../src/recognize/metrics.ts';
import { laplacianVariance, poseProxies, interOcularDistance } from '../../src/recognize/quality.ts';
import { cosine, l2normalize } from '../../src/lib/vectors.ts';
import { cropToTensor, softmax } from '../../src/recognize/tensor.ts';
import { livenessCropBox } from '../../src/recognize/models.ts';
import type { Landmarks, Point, RgbImage } from '../../src/types.ts';

const close = (a: number, b: number, eps = 1e-6): boolean => Math.abs(a - b) < eps;

t.test('umeyama recovers a known similarity transform exactly', async (t) => {
  const s = 1.7;
  const th = 0.4;
  const known: Affine = [s * Math.cos(th), -s * Math.sin(th), 12, s * Math.sin(th), s * Math.cos(th), -5];
  const src: Point[] = [[10, 20], [40, 22], [25, 35], [14, 50], [38, 49]];
  const dst = src.map((p) => applyAffine(known, p));
  const m = umeyama(src, dst);
  m.forEach((v, i) => t.ok(close(v, known[i], 1e-9), `coefficient ${i}: ${v} vs ${known[i]}`));
  const back = invertAffine(m);
  const p = applyAffine(back, applyAffine(m, [3, 4]));
  t.ok(close(p[0], 3, 1e-9) && close(p[1], 4, 1e-9), 'inverse round-trips');
  t.throws(() => umeyama([[1, 1], [1, 1]], [[0, 0], [1, 1]]), RangeError);
});

t.test('umeyama never reflects: a mirrored point set gets the best rotation, not a flip', async (t) => {
  const src: Point[] = [[0, 0], [10, 0], [0, 10]];
  const mirrored: Point[] = src.map(([x, y]) => [-x, y]);
  const m = umeyama(src, mirrored);
  t.ok(m[0] * m[4] - m[1] * m[3] >= 0, 'determinant is not negative');
});

t.test('alignFace maps the landmarks onto the ArcFace template', async (t) => {
  // Landmarks of a face rotated by 20 degrees and scaled 2.5x in a 400x300 frame.
  const rot: Affine = [2.5 * Math.cos(0.35), -2.5 * Math.sin(0.35), 120, 2.5 * Math.sin(0.35), 2.5 * Math.cos(0.35), 40];
  const lm = ARCFACE_TEMPLATE_112.map((p) => applyAffine(invertAffine(invertAffine(rot)), p)) as unknown as Landmarks;
  const image: RgbImage = { data: new Uint8Array(400 * 300 * 3).fill(90), width: 400, height: 300 };
  const { crop, transform } = alignFace(image, lm);
  t.equal(crop.width, 112);
  lm.forEach((p, i) => {
    const q = applyAffine(transform, p);
    t.ok(close(q[0], ARCFACE_TEMPLATE_112[i][0], 1e-6) && close(q[1], ARCFACE_TEMPLATE_112[i][1], 1e-6), `landmark ${i} lands on the template`);
  });
  t.equal(crop.data[(56 * 112 + 56) * 3], 90, 'pixels come from the frame');
});

t.test('warpAffine: identity copies, a shift moves pixels, outside is black', async (t) => {
  const data = new Uint8Array(4 * 4 * 3);
  for (let i = 0; i < 16; i++) data.set([i * 10, i, 255 - i], i * 3);
  const img: RgbImage = { data, width: 4, height: 4 };
  t.same(warpAffine(img, [1, 0, 0, 0, 1, 0], 4, 4).data, data);
  const shifted = warpAffine(img, [1, 0, 1, 0, 1, 0], 4, 4);
  t.same([...shifted.data.subarray(0, 3)], [0, 0, 0], 'column 0 came from outside: black');
  t.same([...shifted.data.subarray(3, 6)], [0, 0, 255], 'column 1 came from source column 0');
  const half = warpAffine(img, [1, 0, 0.5, 0, 1, 0], 4, 4);
  t.equal(half.data[2 * 3], Math.round((10 + 20) / 2), 'bilinear between neighbours');
});

t.test('pose proxies: frontal template ~0, turned head has yaw of the right sign, roll in degrees', async (t) => {
  const p = poseProxies(ARCFACE_TEMPLATE_112);
  t.ok(Math.abs(p.yaw) < 0.05, `frontal yaw ${p.yaw}`);
  t.ok(Math.abs(p.pitch) < 0.1, `frontal pitch ${p.pitch}`);
  t.ok(Math.abs(p.roll) < 1, `frontal roll ${p.roll}`);
  const turned = ARCFACE_TEMPLATE_112.map(([x, y], i) => (i === 2 ? [x + 15, y] : [x, y])) as unknown as Landmarks;
  t.ok(poseProxies(turned).yaw > 0.3, 'nose towards the right eye: positive yaw');
  const tilted = ARCFACE_TEMPLATE_112.map(([x, y]) => [x, y + 0.5 * x]) as unknown as Landmarks;
  t.ok(close(poseProxies(tilted).roll, (Math.atan2(0.5 * (73.5318 - 38.2946) - 0.1949, 73.5318 - 38.2946) * 180) / Math.PI, 1e-6));
  t.ok(close(interOcularDistance(ARCFACE_TEMPLATE_112), Math.hypot(73.5318 - 38.2946, 51.5014 - 51.6963)));
});

t.test('laplacian variance: a sharp checkerboard scores far above its blurred copy, flat is 0', async (t) => {
  const mk = (f: (x: number, y: number) => number): RgbImage => {
    const d = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) d.fill(f(x, y), (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
    return { data: d, width: 32, height: 32 };
  };
  const sharp = laplacianVariance(mk((x, y) => ((x >> 1) + (y >> 1)) % 2 ? 255 : 0));
  const soft = laplacianVariance(mk((x, y) => 128 + 40 * Math.sin(x / 6) * Math.cos(y / 6)));
  t.ok(sharp > 50 * soft, `sharp ${sharp.toFixed(0)} vs soft ${soft.toFixed(1)}`);
  t.equal(laplacianVariance(mk(() => 77)), 0);
});

t.test('tensor helpers: channel order, normalisation, l2, softmax', async (t) => {
  const img: RgbImage = { data: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1 };
  t.same([...cropToTensor(img, { channels: 'RGB', mean: 0, std: 1 })], [10, 40, 20, 50, 30, 60]);
  t.same([...cropToTensor(img, { channels: 'BGR', mean: 0, std: 1 })], [30, 60, 20, 50, 10, 40]);
  t.same([...cropToTensor(img, { channels: 'RGB', mean: 10, std: 10 })], [0, 3, 1, 4, 2, 5]);
  const n = l2normalize(new Float32Array([3, 4]));
  t.ok(close(n[0], 0.6) && close(n[1], 0.8));
  t.ok(close(cosine(n, n), 1));
  t.throws(() => l2normalize(new Float32Array([0, 0])));
  const sm = softmax([1, 2, 3]);
  t.ok(close(sm.reduce((a, b) => a + b, 0), 1));
  t.ok(sm[2] > sm[1] && sm[1] > sm[0]);
});

t.test('synthetic masks cover the lower face only, per shape', async (t) => {
  const img: RgbImage = { data: new Uint8Array(112 * 112 * 3).fill(100), width: 112, height: 112 };
  for (const shape of Object.keys(MASK_SHAPES) as (keyof typeof MASK_SHAPES)[]) {
    const m = renderMask(img, shape, [0, 0, 255]);
    const px = (x: number, y: number): number[] => [...m.data.subarray((y * 112 + x) * 3, (y * 112 + x) * 3 + 3)];
    t.same(px(38, 51), [100, 100, 100], `${shape}: left eye untouched`);
    t.same(px(74, 51), [100, 100, 100], `${shape}: right eye untouched`);
    t.equal(px(56, 92)[0], 0, `${shape}: mouth covered`);
    t.ok(px(56, 92)[2] > 200, `${shape}: in the mask colour`);
    t.equal(img.data[(92 * 112 + 56) * 3], 100, 'source crop not modified');
  }
  t.ok(insidePolygon(1, 1, [[0, 0], [2, 0], [2, 2], [0, 2]]));
  t.notOk(insidePolygon(3, 1, [[0, 0], [2, 0], [2, 2], [0, 2]]));
});

t.test('metrics: TAR@FAR, EER, rank-1 on hand-made scores', async (t) => {
  const genuine = [0.9, 0.8, 0.7, 0.6, 0.3];
  const impostor = [0.1, 0.2, 0.25, 0.35, 0.4, 0.05, 0.15, 0.12, 0.18, 0.22];
  const r = tarAtFar(genuine, impostor, 0.1);
  t.equal(r.threshold, 0.35, 'one impostor of ten (0.4) may pass');
  t.equal(r.tar, 0.8);
  const low = tarAtFar(genuine, impostor, 1e-3);
  t.equal(low.farUsed, 0.1, 'FAR below 1/impostors is reported as the lowest resolvable');
  t.equal(tarAtFar(genuine, impostor, 0.2).threshold, 0.25);
  const e = equalErrorRate([0.9, 0.8, 0.7], [0.1, 0.2, 0.3]);
  t.equal(e.eer, 0);
  t.ok(equalErrorRate([0.5, 0.9], [0.6, 0.1]).eer > 0);
  t.equal(rank1([{ truth: 'a', scores: new Map([['a', 0.9], ['b', 0.2]]) }, { truth: 'b', scores: new Map([['a', 0.9], ['b', 0.2]]) }]), 0.5);
});

t.test('liveness crop box: scaled around the face, shrunk and shifted to stay in the frame', async (t) => {
  t.same(livenessCropBox([100, 100, 200, 200], 1000, 1000, 2.7), [15, 15, 285, 285]);
  const edge = livenessCropBox([0, 0, 100, 100], 1000, 1000, 2.7);
  t.same(edge, [0, 0, 270, 270], 'shifted right/down when it would leave the frame');
  const tight = livenessCropBox([10, 10, 140, 140], 150, 150, 2.7);
  t.ok(tight[2] - tight[0] <= 149 && tight[0] >= 0, 'shrunk to the frame for a tight crop');
});
