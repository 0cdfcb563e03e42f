import t from 'tap';
import { chooseTier, decodeScrfd, groupScrfdOutputs, inputSizeFor, iou, letterboxGeometry, Letterboxer, nms, parseProfile, type DetectProfile, type RawTensor } from '../../src/detect/index.ts';
import { quantile } from '../../src/lib/stats.ts';
import { FacegateError } from '../../src/errors.ts';

t.test('inputSizeFor: square and fit shapes, multiples of 32', async (t) => {
  t.same(inputSizeFor(1280, 720, 640, 'square'), { width: 640, height: 640 });
  t.same(inputSizeFor(1280, 720, 640, 'fit'), { width: 640, height: 384 });
  t.same(inputSizeFor(720, 1280, 640, 'fit'), { width: 384, height: 640 });
  t.same(inputSizeFor(100, 100, 320, 'fit'), { width: 320, height: 320 });
  t.same(inputSizeFor(4000, 10, 320, 'fit'), { width: 320, height: 32 });
  t.throws(() => inputSizeFor(10, 10, 100, 'fit'), RangeError);
});

t.test('letterboxGeometry: top-left placement, and centred shrink for the retry', async (t) => {
  const g = letterboxGeometry(1280, 720, 640, 640);
  t.equal(g.scale, 0.5);
  t.equal(g.resizedWidth, 640);
  t.equal(g.resizedHeight, 360);
  t.equal(g.offsetX, 0);
  t.equal(g.offsetY, 0);
  const s = letterboxGeometry(100, 100, 640, 640, 2);
  t.equal(s.scale, 3.2);
  t.equal(s.resizedWidth, 320);
  t.equal(s.offsetX, 160);
  t.equal(s.offsetY, 160);
});

t.test('Letterboxer: normalises, de-interleaves to CHW and pads with the normalised zero', async (t) => {
  // 2x2 image, exact copy into a 4x4 canvas (scale 1): every value checkable by hand.
  const data = new Uint8Array([0, 64, 128, 255, 255, 255, 10, 20, 30, 127.5, 128, 129].map(Math.floor));
  const img = { data, width: 2, height: 2 };
  const g = letterboxGeometry(2, 2, 4, 4);
  t.equal(g.scale, 2, 'upscales to fill the canvas');
  const same = letterboxGeometry(2, 2, 2, 2);
  const out = new Letterboxer({ mean: 127.5, std: 128 }).fill(img, same);
  t.equal(out.length, 12);
  const n = (v: number): number => (v - 127.5) / 128;
  t.ok(Math.abs(out[0] - n(0)) < 1e-6, 'R of pixel (0,0)');
  t.ok(Math.abs(out[4] - n(64)) < 1e-6, 'G of pixel (0,0) in plane 1');
  t.ok(Math.abs(out[8 + 1] - n(255)) < 1e-6, 'B of pixel (1,0) in plane 2');
  t.ok(Math.abs(out[3] - n(127)) < 1e-6, 'R of pixel (1,1)');
  // Upscaled with padding: 2x1 image into 4x4 -> resized 4x2, rows 2..3 are padding.
  const wide = { data: new Uint8Array([0, 0, 0, 200, 200, 200]), width: 2, height: 1 };
  const gw = letterboxGeometry(2, 1, 4, 4);
  const o2 = new Letterboxer({ mean: 127.5, std: 128 }).fill(wide, gw);
  t.equal(gw.resizedHeight, 2);
  t.ok(Math.abs(o2[0] - n(0)) < 1e-6, 'left edge clamps to the first pixel');
  t.ok(Math.abs(o2[3] - n(200)) < 1e-6, 'right edge clamps to the last pixel');
  t.ok(Math.abs(o2[1] - n(50)) < 1e-5, 'bilinear at x=0.25 between 0 and 200 with half-pixel centres');
  t.ok(Math.abs(o2[2] - n(150)) < 1e-5);
  t.ok(Math.abs(o2[3 * 4 + 1] - n(0)) < 1e-6, 'padding row holds the normalised zero');
});

/** Build SCRFD tensors for a WxH input with one hot anchor. */
function scrfdTensors(W: number, H: number, hot: { stride: number; x: number; y: number; anchor: number; score: number; d: number[]; k: number[] }, batchDim: boolean): RawTensor[] {
  const levels = [8, 16, 32].map((s) => {
    const rows = Math.ceil(H / s) * Math.ceil(W / s) * 2;
    const scores = new Float32Array(rows);
    const bbox = new Float32Array(rows * 4);
    const kps = new Float32Array(rows * 10);
    if (s === hot.stride) {
      const r = (hot.y * Math.ceil(W / s) + hot.x) * 2 + hot.anchor;
      scores[r] = hot.score;
      bbox.set(hot.d, r * 4);
      kps.set(hot.k, r * 10);
    }
    return { s, rows, scores, bbox, kps };
  });
  const dims = (rows: number, c: number): number[] => (batchDim ? [1, rows, c] : [rows, c]);
  // Deliberately shuffled, with meaningless names: grouping must not depend on either.
  return [
    { name: '9', dims: dims(levels[2].rows, 10), data: levels[2].kps },
    { name: '1', dims: dims(levels[0].rows, 1), data: levels[0].scores },
    { name: '5', dims: dims(levels[1].rows, 4), data: levels[1].bbox },
    { name: '3', dims: dims(levels[2].rows, 1), data: levels[2].scores },
    { name: '4', dims: dims(levels[0].rows, 4), data: levels[0].bbox },
    { name: '7', dims: dims(levels[0].rows, 10), data: levels[0].kps },
    { name: '2', dims: dims(levels[1].rows, 1), data: levels[1].scores },
    { name: '6', dims: dims(levels[2].rows, 4), data: levels[2].bbox },
    { name: '8', dims: dims(levels[1].rows, 10), data: levels[1].kps },
  ];
}

t.test('groupScrfdOutputs: by last dim and row count, with and without batch dim', async (t) => {
  for (const batchDim of [false, true]) {
    const levels = groupScrfdOutputs(scrfdTensors(640, 384, { stride: 16, x: 3, y: 2, anchor: 1, score: 0.9, d: [1, 1, 1, 1], k: new Array(10).fill(0) }, batchDim), 640, 384);
    t.same(levels.map((l) => l.stride), [8, 16, 32], `strides inferred (batchDim=${batchDim})`);
    t.same(levels.map((l) => l.rows), [80 * 48 * 2, 40 * 24 * 2, 20 * 12 * 2]);
    t.equal(levels[1].scores[(2 * 40 + 3) * 2 + 1], Math.fround(0.9), 'the hot score landed in the stride-16 level');
  }
  t.throws(() => groupScrfdOutputs(scrfdTensors(640, 640, { stride: 8, x: 0, y: 0, anchor: 0, score: 1, d: [0, 0, 0, 0], k: [] }, false).slice(0, 6), 640, 640), { code: 'DETECTOR_OUTPUT_INVALID' });
  t.throws(() => groupScrfdOutputs(scrfdTensors(640, 640, { stride: 8, x: 0, y: 0, anchor: 0, score: 1, d: [0, 0, 0, 0], k: [] }, false), 320, 320), { code: 'DETECTOR_OUTPUT_INVALID' }, 'row counts that match no stride are refused');
});

t.test('decodeScrfd: anchor centre without offset, stride units, mapped back through the letterbox', async (t) => {
  // Anchor at cell (3, 2) of stride 16 -> centre (48, 32). Distances 1,2,3,4 strides.
  const k = [0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1];
  const tensors = scrfdTensors(640, 384, { stride: 16, x: 3, y: 2, anchor: 1, score: 0.9, d: [1, 2, 3, 4], k }, true);
  const g = letterboxGeometry(1280, 720, 640, 384); // scale 0.5
  const faces = decodeScrfd(groupScrfdOutputs(tensors, 640, 384), g, { scoreThreshold: 0.5, nmsThreshold: 0.4 });
  t.equal(faces.length, 1);
  const f = faces[0];
  t.same(f.box, [(48 - 16) * 2, (32 - 32) * 2, (48 + 48) * 2, (32 + 64) * 2]);
  t.same(f.landmarks, [[96, 64], [128, 64], [112, 80], [96, 96], [128, 96]]);
  t.ok(Math.abs(f.score - 0.9) < 1e-6);
  const none = decodeScrfd(groupScrfdOutputs(tensors, 640, 384), g, { scoreThreshold: 0.95, nmsThreshold: 0.4 });
  t.equal(none.length, 0, 'score threshold applies');
});

t.test('decodeScrfd: clips boxes to the image and undoes a centred shrink', async (t) => {
  const tensors = scrfdTensors(64, 64, { stride: 8, x: 0, y: 0, anchor: 0, score: 0.8, d: [2, 2, 2, 2], k: new Array(10).fill(0) }, false);
  const g = letterboxGeometry(32, 32, 64, 64, 2); // scale 1, offset 16
  const [f] = decodeScrfd(groupScrfdOutputs(tensors, 64, 64), g, { scoreThreshold: 0.5, nmsThreshold: 0.4 });
  t.same(f.box, [0, 0, 0, 0], 'a box entirely left of / above the image collapses onto its corner');
  t.same(f.landmarks[0], [-16, -16], 'landmarks are mapped, not clipped');
});

t.test('nms keeps the best of overlapping boxes and all disjoint ones', async (t) => {
  const boxes = [
    [0, 0, 10, 10],
    [1, 1, 11, 11],
    [20, 20, 30, 30],
    [0, 0, 10, 10],
  ] as const;
  t.same(nms(boxes, [0.6, 0.9, 0.5, 0.1], 0.4), [1, 2]);
  t.same(nms(boxes, [0.6, 0.9, 0.5, 0.1], 0.99), [1, 0, 2], 'only identical boxes exceed 0.99');
  t.equal(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  t.equal(iou([0, 0, 10, 10], [10, 10, 20, 20]), 0);
});

const profile: DetectProfile = {
  version: 1,
  createdAt: '2026-01-01T00:00:00Z',
  machine: 'synthetic',
  threads: 2,
  frameWidth: 1280,
  frameHeight: 720,
  entries: [
    { tier: '500m', model: 'scrfd_500m', size: 320, medianMs: 4, p95Ms: 6, apHard: 68.5 },
    { tier: '500m', model: 'scrfd_500m', size: 640, medianMs: 12, p95Ms: 18, apHard: 68.5 },
    { tier: '2.5g', model: 'det_2.5g', size: 320, medianMs: 15, p95Ms: 20, apHard: 77.9 },
    { tier: '2.5g', model: 'det_2.5g', size: 640, medianMs: 50, p95Ms: 70, apHard: 77.9 },
    { tier: '10g', model: 'det_10g', size: 640, medianMs: 150, p95Ms: 190, apHard: 83.1 },
  ],
};

t.test('chooseTier: the most accurate tier x size whose p95 fits the budget', async (t) => {
  t.equal(chooseTier(profile, 1000).entry.tier, '10g');
  t.same([chooseTier(profile, 100).entry.tier, chooseTier(profile, 100).entry.size], ['2.5g', 640]);
  t.same([chooseTier(profile, 50).entry.tier, chooseTier(profile, 50).entry.size], ['500m', 640], 'a larger input beats a larger model at a smaller input');
  t.same([chooseTier(profile, 19).entry.tier, chooseTier(profile, 19).entry.size], ['500m', 640]);
  t.same([chooseTier(profile, 15).entry.tier, chooseTier(profile, 15).entry.size], ['500m', 320], 'budget is checked against p95 (18), not the median (12)');
  t.same([chooseTier(profile, 10).entry.tier, chooseTier(profile, 10).entry.size], ['500m', 320]);
  t.equal(chooseTier(profile, 1000, ['500m', '2.5g']).entry.tier, '2.5g', 'allowed tiers restrict the pool');
  const err = t.throws(() => chooseTier(profile, 5)) as FacegateError;
  t.equal(err.code, 'NO_TIER_FITS');
  t.match(err.message, /500m@320 at p95 6\.0 ms/);
  t.throws(() => chooseTier(profile, 0), { code: 'BAD_ARGUMENT' });
  t.throws(() => chooseTier(profile, 100, ['34g']), { code: 'PROFILE_INVALID' });
});

t.test('parseProfile rejects malformed profiles with a path to fix', async (t) => {
  t.equal(parseProfile(JSON.parse(JSON.stringify(profile)), 'p.json').entries.length, 5);
  t.throws(() => parseProfile({ version: 2, entries: [] }, 'p.json'), { code: 'PROFILE_INVALID' });
  t.throws(() => parseProfile({ version: 1, entries: [{ tier: '500m' }] }, 'p.json'), /entries\[0\]/);
});

t.test('quantile interpolates', async (t) => {
  t.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  t.equal(quantile([5, 1, 3], 1), 5);
  t.ok(Number.isNaN(quantile([], 0.5)));
});
