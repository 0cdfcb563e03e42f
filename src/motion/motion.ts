/**
 * Motion on a tiny grey copy of a frame: pure and synchronous (no clock, no I/O). The gate in the
 * camera chain asks it whether anything moved before it spends a detector run on the frame.
 *
 * Per frame:
 *  1. `greyThumbnail`: block means of a sparse grid of samples (at most 4 x 4 per block), so one
 *     cell averages up to 16 pixels: sensor noise shrinks ~4x before anything is compared;
 *  2. the difference to a running background, minus its median (`offset`): a uniform brightness
 *     step or ramp (auto-exposure, a cloud, compression's global flicker) moves every cell alike and
 *     is removed here;
 *  3. a cell has changed when its residual exceeds `max(minThreshold, k * noise, k * cellNoise)`:
 *     `noise` is an EMA of the residuals' median (MAD), the camera's own noise floor; `cellNoise`
 *     the cell's own mean residual while still (edges ringing under compression flicker more than
 *     flat wall), so the threshold follows the noise where it is;
 *  4. a changed cell moves when it also differs from the previous frame (same offset removal and
 *     threshold): a ghost (where someone stood while the background half learnt them) or a parked
 *     object differs from the background only, and is learnt at the normal rate instead;
 *     motion when the moving cells cover at least `minAreaFraction` of the thumbnail; their
 *     bounding box is the region (normalised 0..1);
 *  5. the background follows each cell slowly (`backgroundAlpha`; a moving cell at a tenth of it,
 *     so a person walking is not learnt into it), so gradual non-uniform light changes never
 *     accumulate into a difference.
 * A frame where more than `globalFraction` of the cells changed even after the offset (a light
 * switched on, the camera moved, a non-uniform flicker) is reported as motion with `global: true`
 * (the detector runs on it: never miss a person behind a scene change) and the background restarts
 * from that frame, so the change triggers once instead of until the EMA catches up.
 */
import type { RgbImage } from '../types.ts';
import type { MovedCells } from './beside.ts';

/** A grey image of float luma values 0..255, row-major. */
export interface GreyImage {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

export interface MotionParams {
  /** Thumbnail width in cells (height follows the aspect). */
  readonly width: number;
  /** A cell changed when its residual exceeds k x the noise floor (a MAD: k = 6 is ~4 sigma). */
  readonly k: number;
  /** Lowest per-cell threshold in grey levels, for very clean (synthetic, static) streams. */
  readonly minThreshold: number;
  /** Share of cells that must change for motion. */
  readonly minAreaFraction: number;
  /** Per-frame EMA weight of the background for unchanged cells (changed cells: a tenth). */
  readonly backgroundAlpha: number;
  /** Per-frame EMA weight of the noise floor. */
  readonly noiseAlpha: number;
  /** Share of changed cells from which the frame is a scene change (background restarts). */
  readonly globalFraction: number;
}

/**
 * Defaults measured on the demo's door clip and its idle scene (docs/benchmarks.md): the smallest
 * face that clip shows (a third of the frame high) changes ~10 % of the cells; noise, compression
 * and a slow light ramp change none at these values.
 */
export const DEFAULT_MOTION_PARAMS: Readonly<MotionParams> = Object.freeze({
  width: 80,
  k: 6,
  minThreshold: 4,
  minAreaFraction: 0.002,
  backgroundAlpha: 0.05,
  noiseAlpha: 0.05,
  globalFraction: 0.5,
});

export interface MotionResult {
  readonly motion: boolean;
  /** Share of thumbnail cells that moved (unlike the background and the previous frame; 0..1). */
  readonly score: number;
  /** Bounding box of the changed cells, normalised [x1, y1, x2, y2] in 0..1; undefined without change. */
  readonly region: readonly [number, number, number, number] | undefined;
  /** More than globalFraction changed: a scene change, background restarted from this frame. */
  readonly global: boolean;
  /**
   * The first 1/noiseAlpha frames after a (re)start: the noise floors are still being learnt and
   * sensitivity is low, so a gate should treat the frame as if it moved.
   */
  readonly warming: boolean;
  /** The global per-cell threshold used (grey levels; a noisy cell's own can be higher). */
  readonly threshold: number;
  /** The noise floor after this frame (median absolute residual, grey levels). */
  readonly noise: number;
  /** The frame's median difference to the background (uniform brightness change removed). */
  readonly offset: number;
  /** Which cells moved (1) in this frame: the detector's own buffer, valid until its next update. */
  readonly moved: MovedCells;
}

/**
 * A tiny grey copy of `img`: `width` cells across, each the mean of up to 4 x 4 samples spread
 * over its block (luma 0.299 R + 0.587 G + 0.114 B). `out` is reused when its size fits.
 */
export function greyThumbnail(img: RgbImage, width: number = DEFAULT_MOTION_PARAMS.width, out?: GreyImage): GreyImage {
  const tw = Math.max(1, Math.min(width, img.width));
  const th = Math.max(1, Math.round((img.height * tw) / img.width));
  const data = out && out.width === tw && out.height === th ? out.data : new Float32Array(tw * th);
  const plan = samplePlan(img.width, img.height, tw, th);
  const { offsets, perCell } = plan;
  const src = img.data;
  const inv = 1 / perCell;
  for (let c = 0, o = 0; c < data.length; c++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (const end = o + perCell; o < end; o++) {
      const p = offsets[o];
      r += src[p];
      g += src[p + 1];
      b += src[p + 2];
    }
    data[c] = (0.299 * r + 0.587 * g + 0.114 * b) * inv;
  }
  return { data, width: tw, height: th };
}

/** Byte offsets of every cell's samples for one image and thumbnail size (the last one is kept). */
let lastPlan: { key: string; offsets: Int32Array; perCell: number } | undefined;
function samplePlan(w: number, h: number, tw: number, th: number): { offsets: Int32Array; perCell: number } {
  const key = `${w}x${h}>${tw}x${th}`;
  if (lastPlan?.key === key) return lastPlan;
  const bx = w / tw;
  const by = h / th;
  const sx = Math.max(1, Math.min(4, Math.floor(bx)));
  const sy = Math.max(1, Math.min(4, Math.floor(by)));
  const offsets = new Int32Array(tw * th * sx * sy);
  let o = 0;
  for (let cy = 0; cy < th; cy++) {
    for (let cx = 0; cx < tw; cx++) {
      for (let j = 0; j < sy; j++) {
        const y = Math.floor(cy * by + ((j + 0.5) * by) / sy);
        for (let i = 0; i < sx; i++) offsets[o++] = (y * w + Math.floor(cx * bx + ((i + 0.5) * bx) / sx)) * 3;
      }
    }
  }
  lastPlan = { key, offsets, perCell: sx * sy };
  return lastPlan;
}

/** Median of the first `n` values of `a` by quickselect; reorders `a`. */
export function medianInPlace(a: Float32Array, n: number = a.length): number {
  if (n === 0) return NaN;
  const select = (k: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const pivot = a[(lo + hi) >> 1];
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) {
          const t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      if (k <= j) hi = j;
      else if (k >= i) lo = i;
      else return a[k];
    }
    return a[k];
  };
  if (n % 2 === 1) return select(n >> 1);
  const hiMid = select(n >> 1);
  // After the select, everything before n/2 is <= a[n/2]: the lower middle is their maximum.
  let loMid = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i] > loMid) loMid = a[i];
  return (loMid + hiMid) / 2;
}

export interface MotionDetector {
  readonly params: Readonly<MotionParams>;
  /** Compare one thumbnail with the background and update it. Thumbnails of another size restart it. */
  update(grey: GreyImage): MotionResult;
  /** Forget the background (the next frame starts it again, reported as no motion). */
  reset(): void;
}

/**
 * Residuals of `grey` against `background` after removing the median offset, written to `residual`:
 * the per-cell evidence motion is judged on. Returns the offset.
 */
export function residuals(grey: Float32Array, background: Float32Array, residual: Float32Array, scratch: Float32Array): number {
  const n = grey.length;
  for (let i = 0; i < n; i++) scratch[i] = grey[i] - background[i];
  const offset = medianInPlace(scratch, n);
  for (let i = 0; i < n; i++) residual[i] = Math.abs(grey[i] - background[i] - offset);
  return offset;
}

/** Initial noise floor (grey levels, MAD of block means) before a camera's own is measured. */
const INITIAL_NOISE = 1;

export function createMotionDetector(overrides: Partial<MotionParams> = {}): MotionDetector {
  const params: Readonly<MotionParams> = Object.freeze({ ...DEFAULT_MOTION_PARAMS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) });
  let background: Float32Array | undefined;
  let residual = new Float32Array(0);
  let previous = new Float32Array(0);
  let prevResidual = new Float32Array(0);
  let scratch = new Float32Array(0);
  /** Per-cell EMA of the absolute residual, updated while the cell is still. */
  let cellNoise = new Float32Array(0);
  let moved = new Uint8Array(0);
  let noise = INITIAL_NOISE;
  let compared = 0;
  let size = '';

  const restart = (grey: GreyImage): MotionResult => {
    background = Float32Array.from(grey.data);
    residual = new Float32Array(grey.data.length);
    previous = Float32Array.from(grey.data);
    prevResidual = new Float32Array(grey.data.length);
    scratch = new Float32Array(grey.data.length);
    cellNoise = new Float32Array(grey.data.length);
    moved = new Uint8Array(grey.data.length);
    size = `${grey.width}x${grey.height}`;
    compared = 0;
    return { motion: false, score: 0, region: undefined, global: false, warming: true, threshold: Math.max(params.minThreshold, params.k * noise), noise, offset: 0, moved: { cells: moved, width: grey.width, height: grey.height } };
  };

  const update = (grey: GreyImage): MotionResult => {
    if (background === undefined || size !== `${grey.width}x${grey.height}`) return restart(grey);
    const g = grey.data;
    const n = g.length;
    residuals(g, previous, prevResidual, scratch);
    const offset = residuals(g, background, residual, scratch);
    // The median residual is the noise floor as long as fewer than half the cells moved. It counts
    // in this frame's own threshold, and while the camera is new (the first 1/noiseAlpha frames)
    // the floor is the plain mean of the frames so far, so a guess never triggers.
    scratch.set(residual);
    const mad = medianInPlace(scratch, n);
    compared++;
    const noiseBefore = noise;
    noise += Math.max(params.noiseAlpha, 1 / compared) * (mad - noise);
    const threshold = Math.max(params.minThreshold, params.k * noise);
    const cellAlpha = Math.max(params.noiseAlpha, 1 / compared);
    const warming = compared < 1 / params.noiseAlpha;
    let changed = 0;
    let x1 = grey.width;
    let y1 = grey.height;
    let x2 = -1;
    let y2 = -1;
    for (let i = 0; i < n; i++) {
      // A cell's own floor (compression ringing on an edge, a flickering screen) can be above the
      // global one: the larger of the two decides.
      // While warming up, each cell's floor includes this frame (it has too few frames to judge by).
      if (warming) cellNoise[i] += cellAlpha * (residual[i] - cellNoise[i]);
      const cellThreshold = Math.max(threshold, params.k * cellNoise[i]);
      if (residual[i] <= cellThreshold) {
        moved[i] = 0;
        if (!warming) cellNoise[i] += cellAlpha * (residual[i] - cellNoise[i]);
      } else if (prevResidual[i] <= cellThreshold) {
        // Unlike the background but like the previous frame: a ghost (where someone stood while the
        // background half learnt them) or something parked. Not motion; learnt at the normal rate.
        moved[i] = 0;
      } else {
        changed++;
        moved[i] = 1;
        const x = i % grey.width;
        const y = (i - x) / grey.width;
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        if (y > y2) y2 = y;
      }
    }
    previous.set(g);
    const score = changed / n;
    const global = score > params.globalFraction;
    if (global) {
      // A scene change says nothing about the noise: keep the floor, restart the background.
      noise = noiseBefore;
      background.set(g);
      previous.set(g);
    } else {
      const a = params.backgroundAlpha;
      const slow = a / 10;
      for (let i = 0; i < n; i++) background[i] += (moved[i] ? slow : a) * (g[i] - background[i]);
    }
    const region = changed > 0 ? ([x1 / grey.width, y1 / grey.height, (x2 + 1) / grey.width, (y2 + 1) / grey.height] as const) : undefined;
    return { motion: global || score >= params.minAreaFraction, score, region, global, warming, threshold, noise, offset, moved: { cells: moved, width: grey.width, height: grey.height } };
  };

  return {
    params,
    update,
    reset: () => {
      background = undefined;
    },
  };
}
