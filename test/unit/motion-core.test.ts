import t from 'tap';
import sharp from 'sharp';
import { createMotionDetector, DEFAULT_MOTION_PARAMS, greyThumbnail, medianInPlace, type MotionResult } from '../../src/motion/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import type { RgbImage } from '../../src/types.ts';

const W = 240;
const H = 135;

const POOL = 1 << 20;

/**
 * Gaussian noise from a seeded PRNG: a pool of 2^20 Box-Muller draws read in sequence. A frame
 * takes ~100k draws and the tests play about a thousand frames; drawing each by Box-Muller made
 * this the unit tier's slowest file. Frames never repeat a pattern (the pool length shares no
 * period with a frame's size), so frame differences are noise as a sensor gives it.
 */
function gauss(rand: () => number): () => number {
  const pool = new Float32Array(POOL);
  for (let i = 0; i < POOL; i++) pool[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  let i = Math.floor(rand() * POOL);
  return () => pool[i++ & (POOL - 1)];
}

/** A wall with a darker door frame and a lighter door, like the demo's door background. */
function scene(brightness = 0, gain = (_x: number) => 1): Float32Array {
  const s = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 140;
      if (x >= W * 0.2 && x < W * 0.8 && y >= H * 0.05) v = 95;
      if (x >= W * 0.23 && x < W * 0.77 && y >= H * 0.09) v = 185;
      s[y * W + x] = v * gain(x) + brightness;
    }
  }
  return s;
}

/** Grey scene -> RGB with per-pixel sensor noise (sigma in grey levels), plus optional dark blobs. */
function frame(base: Float32Array, noise: () => number, sigma: number, blobs: readonly { x: number; y: number; size: number }[] = []): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = base[y * W + x];
      for (const b of blobs) if (x >= b.x && x < b.x + b.size && y >= b.y && y < b.y + b.size) v = 40;
      const p = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) data[p + c] = Math.max(0, Math.min(255, Math.round(v + sigma * noise())));
    }
  }
  return { data, width: W, height: H };
}

function run(frames: Iterable<RgbImage>, params = {}): MotionResult[] {
  const m = createMotionDetector(params);
  const out: MotionResult[] = [];
  for (const f of frames) out.push(m.update(greyThumbnail(f)));
  return out;
}

function* repeat(n: number, make: (i: number) => RgbImage): Generator<RgbImage> {
  for (let i = 0; i < n; i++) yield make(i);
}

t.test('greyThumbnail: 80 cells across, luma of the block, aspect kept, buffer reused', async (t) => {
  const img: RgbImage = { data: new Uint8Array(1280 * 720 * 3).fill(0).map((_, i) => [200, 100, 50][i % 3]), width: 1280, height: 720 };
  const g = greyThumbnail(img);
  t.equal(g.width, 80);
  t.equal(g.height, 45);
  t.ok(Math.abs(g.data[0] - (0.299 * 200 + 0.587 * 100 + 0.114 * 50)) < 1e-3, 'luma of a uniform colour');
  const again = greyThumbnail(img, 80, g);
  t.equal(again.data, g.data, 'the same buffer when the size fits');
  // A half-black, half-white image: the cells on each side keep their value (no bleeding across blocks).
  const half = new Uint8Array(160 * 90 * 3);
  for (let y = 0; y < 90; y++) for (let x = 80; x < 160; x++) half.fill(255, (y * 160 + x) * 3, (y * 160 + x) * 3 + 3);
  const h = greyThumbnail({ data: half, width: 160, height: 90 });
  t.equal(h.data[0], 0);
  t.ok(Math.abs(h.data[79] - 255) < 1e-3);
  t.equal(h.data[39], 0);
  t.ok(Math.abs(h.data[40] - 255) < 1e-3);
});

t.test('medianInPlace agrees with a sort (odd and even lengths, ties)', async (t) => {
  const rand = mulberry32(7);
  for (const n of [1, 2, 3, 10, 11, 100, 3601]) {
    const a = Float32Array.from({ length: n }, () => Math.round(rand() * 20));
    const s = [...a].sort((x, y) => x - y);
    const want = n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
    t.equal(medianInPlace(a), want, `n = ${n}`);
  }
  t.ok(Number.isNaN(medianInPlace(new Float32Array(0))));
});

t.test('sensor noise alone is never motion, and the noise floor follows the camera', async (t) => {
  const base = scene();
  for (const sigma of [2, 6, 12]) {
    const noise = gauss(mulberry32(sigma));
    const r = run(repeat(80, () => frame(base, noise, sigma)));
    t.equal(r.filter((x) => x.motion).length, 0, `sigma ${sigma}: no motion in 80 frames`);
    t.ok(r.every((x) => !x.global));
    t.ok(r[0].warming && r[10].warming && !r[20].warming, 'warming for the first 1/noiseAlpha frames only');
  }
  const quietNoise = gauss(mulberry32(1));
  const loudNoise = gauss(mulberry32(2));
  const quiet = run(repeat(60, () => frame(base, quietNoise, 2))).at(-1)!;
  const loud = run(repeat(60, () => frame(base, loudNoise, 12))).at(-1)!;
  t.ok(loud.noise > quiet.noise * 3, `noise floor ${quiet.noise.toFixed(2)} -> ${loud.noise.toFixed(2)}`);
  t.ok(loud.threshold > quiet.threshold, 'the threshold rises with the noise');
});

t.test('JPEG-compressed noisy frames (compression flicker) are not motion', async (t) => {
  const base = scene();
  const noise = gauss(mulberry32(11));
  const m = createMotionDetector();
  let moving = 0;
  for (let i = 0; i < 60; i++) {
    const f = frame(base, noise, 4);
    // Alternate quality like an encoder between key and predicted frames.
    const jpeg = await sharp(Buffer.from(f.data), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: i % 10 === 0 ? 90 : 40 }).toBuffer();
    const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    if (m.update(greyThumbnail({ data, width: W, height: H })).motion) moving++;
  }
  t.equal(moving, 0);
});

t.test('a moving blob is motion on every frame it moves, with its region', async (t) => {
  const base = scene();
  const noise = gauss(mulberry32(3));
  const frames = [...repeat(30, () => frame(base, noise, 4)), ...repeat(20, (i) => frame(base, noise, 4, [{ x: 30 + i * 6, y: 45, size: 23 }]))];
  const r = run(frames);
  t.equal(r.slice(0, 30).filter((x) => x.motion).length, 0, 'still before');
  const moving = r.slice(30);
  t.equal(moving.filter((x) => x.motion).length, 20, 'motion on every frame with the blob moving');
  const first = moving[0];
  t.ok(first.region, 'a region');
  const [x1, y1, x2, y2] = first.region!;
  t.ok(x1 <= 30 / W + 0.02 && x2 >= 53 / W - 0.02 && y1 <= 45 / H + 0.03 && y2 >= 68 / H - 0.03, `region ${first.region!.map((v) => v.toFixed(2))} covers the blob`);
  t.ok(moving.every((x) => !x.global), 'a blob is not a scene change');
});

t.test('a small face-sized change (1.8% of the frame) is motion; one noisy cell is not', async (t) => {
  const base = scene();
  const noise = gauss(mulberry32(4));
  const r = run([...repeat(20, () => frame(base, noise, 4)), frame(base, noise, 4, [{ x: 110, y: 60, size: 24 }])]);
  t.ok(r.at(-1)!.motion, `score ${r.at(-1)!.score.toFixed(4)}`);
  const tiny = run([...repeat(20, () => frame(base, noise, 4)), frame(base, noise, 4, [{ x: 110, y: 60, size: 3 }])]);
  t.notOk(tiny.at(-1)!.motion, 'a 4 px speck (one cell) is below minArea');
});

t.test('a slow brightness ramp (+60 grey levels over 30 s at 5 fps) and a slow non-uniform light change are not motion', async (t) => {
  const noise = gauss(mulberry32(5));
  const ramp = run(repeat(150, (i) => frame(scene(i * 0.4), noise, 4)));
  t.equal(ramp.filter((x) => x.motion).length, 0, 'uniform ramp');
  // The background trails a ramp by rate / backgroundAlpha (0.4 / 0.05 = 8 levels); the offset takes that out.
  t.ok(Math.abs(ramp.at(-1)!.offset) < 10, `the background followed the ramp (offset ${ramp.at(-1)!.offset.toFixed(1)})`);
  // Light from the left growing stronger: +30 % on the left edge, nothing on the right, over 150 frames.
  const side = run(repeat(150, (i) => frame(scene(0, (x) => 1 + (0.3 * (i / 150) * (W - x)) / W), noise, 4)));
  t.equal(side.filter((x) => x.motion).length, 0, 'non-uniform slow change');
});

t.test('a sudden uniform brightness step is not motion; a non-uniform light change is one global frame', async (t) => {
  const noise = gauss(mulberry32(6));
  const base = scene();
  const step = run([...repeat(20, () => frame(base, noise, 4)), ...repeat(10, () => frame(scene(40), noise, 4))]);
  t.equal(step.filter((x) => x.motion).length, 0, 'uniform +40 step removed by the offset');
  t.ok(Math.abs(step[20].offset - 40) < 3, `offset ${step[20].offset.toFixed(1)}`);
  // A lamp switched on over the left 70 % of the scene.
  const lamp = scene(0, (x) => (x < W * 0.7 ? 1.4 : 1));
  const flick = run([...repeat(20, () => frame(base, noise, 4)), ...repeat(10, () => frame(lamp, noise, 4))]);
  t.ok(flick[20].motion && flick[20].global, 'the switch frame is motion, flagged global');
  t.equal(flick.slice(21).filter((x) => x.motion).length, 0, 'the background restarted: the new light is not motion afterwards');
  // A single bright frame (a flash) and back: reported as motion twice (flash, then back), then quiet.
  const flash = run([...repeat(20, () => frame(base, noise, 4)), frame(lamp, noise, 4), ...repeat(10, () => frame(base, noise, 4))]);
  t.same(flash.slice(20).map((x) => x.motion), [true, true, ...Array(9).fill(false)], 'a flash costs two detections at most');
});

t.test('parameters: a higher minArea ignores a blob, the thumbnail width is honoured, a new size restarts', async (t) => {
  const base = scene();
  const noise = gauss(mulberry32(8));
  const frames = [...repeat(10, () => frame(base, noise, 4)), frame(base, noise, 4, [{ x: 150, y: 80, size: 24 }])];
  t.notOk(run(frames, { minAreaFraction: 0.5 }).at(-1)!.motion);
  t.equal(greyThumbnail(frames[0], 40).width, 40);
  const m = createMotionDetector();
  m.update(greyThumbnail(frames[0]));
  const other = m.update(greyThumbnail(frames[1], 40));
  t.notOk(other.motion, 'another thumbnail size starts a new background');
  t.equal(DEFAULT_MOTION_PARAMS.width, 80);
});

t.test('a blob that appears, stands still and leaves: motion when it comes and goes, never from its ghost', async (t) => {
  const base = scene();
  const noise = gauss(mulberry32(9));
  const blob = [{ x: 110, y: 45, size: 30 }];
  const r = run([...repeat(25, () => frame(base, noise, 4)), ...repeat(30, () => frame(base, noise, 4, blob)), ...repeat(40, () => frame(base, noise, 4))]);
  t.ok(r[25].motion, 'it arrives: motion');
  t.equal(r.slice(27, 55).filter((x) => x.motion).length, 0, 'standing still: no motion (the tracker and keep-alive cover it)');
  t.ok(r[55].motion, 'it leaves: motion');
  t.equal(r.slice(56).filter((x) => x.motion).length, 0, 'its ghost in the background is no motion');
});
