import { Arena, simdModule } from './wasm-simd.ts';

export { simdAvailable } from './wasm-simd.ts';

/**
 * The search hot loop: one dot product per stored row, written to a scores array.
 *
 * Why WebAssembly: plain JS reads a Float32Array one element at a time through f64 arithmetic,
 * several times over the search budget at 100k identities (docs/benchmarks.md). A tiny
 * WebAssembly function with 128-bit SIMD (f32x4, four independent accumulators) does the same
 * scan several times faster, and is then limited by memory bandwidth. So there is a second function over an int8 copy of the rows (a quarter of the
 * bytes) that gives approximate scores with a proven error bound; the caller re-scores the few
 * rows that could still make the top-k exactly (see embedding-index.ts). Both functions are
 * assembled from their opcodes in wasm-simd.ts (no toolchain, no dependency); `scoreRowsJs` is the
 * fallback where WebAssembly SIMD is unavailable and the reference the tests compare against.
 *
 * Rows are stored with a padded stride (a multiple of 16 elements, zero past `dim`) so that every
 * row starts on a 64-byte boundary and the SIMD loops need no remainder; zero padding leaves every
 * dot product unchanged.
 */

/** Elements per stored row for a given embedding dimension: the next multiple of 16. */
export function rowStride(dim: number): number {
  return Math.ceil(dim / 16) * 16;
}

/** scores[r] = dot(index[r*stride .. r*stride+dim], probe) for r < rows. Reference + fallback. */
export function scoreRowsJs(index: Float32Array, stride: number, dim: number, rows: number, probe: Float32Array, scores: Float32Array): void {
  const tail = dim - (dim % 4);
  for (let r = 0, o = 0; r < rows; r++, o += stride) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j < tail; j += 4) {
      s0 += index[o + j] * probe[j];
      s1 += index[o + j + 1] * probe[j + 1];
      s2 += index[o + j + 2] * probe[j + 2];
      s3 += index[o + j + 3] * probe[j + 3];
    }
    for (; j < dim; j++) s0 += index[o + j] * probe[j];
    scores[r] = s0 + s1 + s2 + s3;
  }
}

/** Largest probe magnitude after quantisation: keeps int32 lane sums safe up to 4096 dims. */
export const PROBE_QUANT_MAX = 8191;
/** Largest row magnitude after quantisation (int8). */
export const ROW_QUANT_MAX = 127;
/** Dimensions the int8 path supports without int32 overflow (127 * 8191 * dim/4 < 2^31). */
export const MAX_SCREEN_DIM = 4096;

/** What the int8 scan returns: approximate scores and the most any of them can be off by. */
export interface ApproxScan {
  readonly scores: Float32Array;
  /** |approx - exact| <= errorBound for every row (exact = dot of the stored f32 row and probe). */
  readonly errorBound: number;
}

/**
 * Growable row storage for one embedding space, in WebAssembly memory so the SIMD kernels can
 * read it in place:
 *  - f32 arena: [probe (stride f32)][scores (capacity f32)][rows (capacity x stride f32)]
 *  - int8 arena (SIMD only): [probe (stride i16)][scores][row scales (capacity f32)][rows (capacity x stride i8)]
 * The f32 rows are the truth (exact scores); the int8 rows are a quantised copy for screening.
 */
export class RowStore {
  readonly dim: number;
  readonly stride: number;
  private readonly f32: Arena;
  private readonly i8: Arena | null;
  private capacity = 0;
  private rowCount = 0;
  /** Upper bounds over every row ever stored (removal never lowers them; they stay valid). */
  private maxRowL1 = 0;
  private maxRowScale = 0;

  private probeF32 = new Float32Array(0);
  private scoresF32 = new Float32Array(0);
  private rowsF32 = new Float32Array(0);
  private offF32 = [0, 0, 0];

  private probeI16 = new Int16Array(0);
  private scoresI8 = new Float32Array(0);
  private scalesI8 = new Float32Array(0);
  private rowsI8 = new Int8Array(0);
  private offI8 = [0, 0, 0, 0];

  constructor(dim: number, opts: { useSimd?: boolean; initialCapacity?: number } = {}) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.stride = rowStride(dim);
    const mod = opts.useSimd === false ? null : simdModule();
    this.f32 = new Arena(mod);
    this.i8 = mod && dim <= MAX_SCREEN_DIM ? new Arena(mod) : null;
    this.reserve(Math.max(16, opts.initialCapacity ?? 16));
  }

  get rows(): number {
    return this.rowCount;
  }

  /** True when scans run in WebAssembly SIMD (false: the JS fallback). */
  get usesSimd(): boolean {
    return this.f32.exports !== null;
  }

  /** True when `scanApprox` is available (SIMD runtime, dim <= MAX_SCREEN_DIM). */
  get canScreen(): boolean {
    return this.i8 !== null;
  }

  /** The stored f32 rows (padded stride), a view valid until the next append. */
  get index(): Float32Array {
    return this.rowsF32.subarray(0, this.rowCount * this.stride);
  }

  /** Append one row (unit length, `dim` elements); returns its row number. */
  append(vector: Float32Array): number {
    if (vector.length !== this.dim) throw new RangeError(`row has ${vector.length} elements, store has ${this.dim}`);
    if (this.rowCount === this.capacity) this.reserve(this.capacity * 2);
    const row = this.rowCount++;
    const o = row * this.stride;
    this.rowsF32.set(vector, o);
    this.rowsF32.fill(0, o + this.dim, o + this.stride);
    let l1 = 0;
    let maxAbs = 0;
    for (let i = 0; i < this.dim; i++) {
      const a = Math.abs(vector[i]);
      l1 += a;
      if (a > maxAbs) maxAbs = a;
    }
    if (l1 > this.maxRowL1) this.maxRowL1 = l1;
    if (this.i8) {
      const scale = Math.fround(maxAbs / ROW_QUANT_MAX);
      if (scale > this.maxRowScale) this.maxRowScale = scale;
      this.scalesI8[row] = scale;
      // |vector[i]| <= maxAbs, so |vector[i] * inv| <= 127 (+ rounding): no clamp needed.
      const inv = maxAbs > 0 ? ROW_QUANT_MAX / maxAbs : 0;
      const q = this.rowsI8;
      for (let i = 0; i < this.dim; i++) q[o + i] = Math.round(vector[i] * inv);
      this.rowsI8.fill(0, o + this.dim, o + this.stride);
    }
    return row;
  }

  /** Remove a row by moving the last row into its place; returns the row number that moved there, or -1. */
  swapRemove(row: number): number {
    const last = this.rowCount - 1;
    if (!Number.isInteger(row) || row < 0 || row > last) throw new RangeError(`row ${row} out of range (rows: ${this.rowCount})`);
    if (row !== last) {
      this.rowsF32.copyWithin(row * this.stride, last * this.stride, (last + 1) * this.stride);
      if (this.i8) {
        this.rowsI8.copyWithin(row * this.stride, last * this.stride, (last + 1) * this.stride);
        this.scalesI8[row] = this.scalesI8[last];
      }
    }
    this.rowCount = last;
    return row !== last ? last : -1;
  }

  /** Copy of one stored row (`dim` elements). */
  row(r: number): Float32Array {
    return this.rowsF32.slice(r * this.stride, r * this.stride + this.dim);
  }

  /** Exact dot of one stored row with a probe (f64 accumulation). */
  rowDot(r: number, probe: Float32Array): number {
    const rows = this.rowsF32;
    const dim = this.dim;
    const o = r * this.stride;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    const tail = dim - (dim % 4);
    for (; j < tail; j += 4) {
      s0 += rows[o + j] * probe[j];
      s1 += rows[o + j + 1] * probe[j + 1];
      s2 += rows[o + j + 2] * probe[j + 2];
      s3 += rows[o + j + 3] * probe[j + 3];
    }
    for (; j < dim; j++) s0 += rows[o + j] * probe[j];
    return s0 + s1 + s2 + s3;
  }

  /** Dot product of the probe with every row; the view is valid until the next scan or append. */
  scan(probe: Float32Array): Float32Array {
    const n = this.rowCount;
    const k = this.f32.exports;
    if (k) {
      this.probeF32.set(probe.subarray(0, this.dim));
      this.probeF32.fill(0, this.dim);
      k.scoresF32(this.offF32[2], this.offF32[0], this.offF32[1], n, this.stride * 4);
    } else {
      scoreRowsJs(this.rowsF32, this.stride, this.dim, n, probe, this.scoresF32);
    }
    return this.scoresF32.subarray(0, n);
  }

  /**
   * Approximate scores from the int8 rows and an int16 copy of the probe, with a bound on the
   * error. For row x (scale sx, int8 xq) and probe p (scale sp, int16 pq), writing X = sx*xq and
   * P = sp*pq: x.p - X.P = x.(p - P) + (x - X).P, so |error| <= |x|_1 * sp/2 + sx/2 * |P|_1.
   * Both |x|_1 and sx are bounded by running maxima over the stored rows. A small absolute slack
   * covers the f32 rounding of the products in the kernel (|scores| <= ~1).
   */
  scanApprox(probe: Float32Array): ApproxScan {
    const arena = this.i8;
    const k = arena?.exports;
    if (!arena || !k) throw new Error('scanApprox needs WebAssembly SIMD and dim <= 4096 (check canScreen)');
    let maxAbs = 0;
    for (let i = 0; i < this.dim; i++) maxAbs = Math.max(maxAbs, Math.abs(probe[i]));
    const probeScale = Math.fround(maxAbs / PROBE_QUANT_MAX);
    const inv = probeScale > 0 ? 1 / probeScale : 0;
    let probeL1 = 0;
    for (let i = 0; i < this.dim; i++) {
      const q = Math.max(-PROBE_QUANT_MAX, Math.min(PROBE_QUANT_MAX, Math.round(probe[i] * inv)));
      this.probeI16[i] = q;
      probeL1 += Math.abs(q) * probeScale;
    }
    this.probeI16.fill(0, this.dim);
    k.scoresI8(this.offI8[3], this.offI8[0], this.offI8[1], this.rowCount, this.stride, this.offI8[2], probeScale);
    // 0.5 * (1 + 1e-3): half a quantisation step, widened for the f32 rounding of the stored scales.
    const half = 0.5 * (1 + 1e-3);
    const errorBound = this.maxRowL1 * probeScale * half + this.maxRowScale * half * probeL1 + 1e-5;
    return { scores: this.scoresI8.subarray(0, this.rowCount), errorBound };
  }

  private reserve(capacity: number): void {
    const stride = this.stride;
    const oldF32 = this.rowCount > 0 ? this.rowsF32.slice(0, this.rowCount * stride) : null;
    const oldI8 = this.i8 && this.rowCount > 0 ? this.rowsI8.slice(0, this.rowCount * stride) : null;
    const oldScales = this.i8 && this.rowCount > 0 ? this.scalesI8.slice(0, this.rowCount) : null;
    this.capacity = capacity;

    this.offF32 = this.f32.layout([stride * 4, capacity * 4, capacity * stride * 4]);
    const fb = this.f32.memory.buffer;
    this.probeF32 = new Float32Array(fb, this.offF32[0], stride);
    this.scoresF32 = new Float32Array(fb, this.offF32[1], capacity);
    this.rowsF32 = new Float32Array(fb, this.offF32[2], capacity * stride);
    if (oldF32) this.rowsF32.set(oldF32);

    if (this.i8) {
      this.offI8 = this.i8.layout([stride * 2, capacity * 4, capacity * 4, capacity * stride]);
      const qb = this.i8.memory.buffer;
      this.probeI16 = new Int16Array(qb, this.offI8[0], stride);
      this.scoresI8 = new Float32Array(qb, this.offI8[1], capacity);
      this.scalesI8 = new Float32Array(qb, this.offI8[2], capacity);
      this.rowsI8 = new Int8Array(qb, this.offI8[3], capacity * stride);
      if (oldI8) this.rowsI8.set(oldI8);
      if (oldScales) this.scalesI8.set(oldScales);
    }
  }
}
