/**
 * The search hot loop: one dot product per stored row, written to a scores array.
 *
 * Why WebAssembly: plain JS reads a Float32Array one element at a time through f64 arithmetic,
 * ~20 ms for 100k rows x 128 dims on the 2-core box this runs on, four times the 5 ms goal. A tiny
 * WebAssembly function with 128-bit SIMD (f32x4, four independent accumulators) does the same
 * scan ~4x faster, and is then limited by memory bandwidth (~10 GB/s here: 51 MB of f32 rows per
 * 100k x 128 search). So there is a second function over an int8 copy of the rows (a quarter of the
 * bytes) that gives approximate scores with a proven error bound; the caller re-scores the few
 * rows that could still make the top-k exactly (see search.ts). Both modules are assembled here
 * from their opcodes (no toolchain, no dependency); `scoreRowsJs` is the fallback where
 * WebAssembly SIMD is unavailable and the reference the tests compare against.
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

// --- a minimal WebAssembly assembler for the two functions we need --------------------------

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const wasmName = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];

const T_I32 = 0x7f;
const T_F32 = 0x7d;
const T_V128 = 0x7b;
const OP = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  get: (i: number) => [0x20, i],
  set: (i: number) => [0x21, i],
  tee: (i: number) => [0x22, i],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  f32Add: [0x92],
  f32Mul: [0x94],
  f32ConvertI32S: [0xb2],
  f32Load: [0x2a, 2, 0], // align 2^2, offset 0
  f32Store: [0x38, 2, 0],
  v128Load: (offset: number) => [...simd(0x00), 4, ...uleb(offset)], // align 2^4
  v128Zero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  f32x4Add: simd(0xe4),
  f32x4Mul: simd(0xe6),
  f32x4Lane: (lane: number) => [...simd(0x1f), lane],
  i32x4Add: simd(0xae),
  i32x4Lane: (lane: number) => [...simd(0x1b), lane],
  i32x4DotI16x8S: simd(0xba),
  i16x8ExtendLowI8x16S: simd(0x87),
  i16x8ExtendHighI8x16S: simd(0x88),
};

function functionBody(locals: [count: number, type: number][], code: number[]): number[] {
  const fn = [...uleb(locals.length), ...locals.flatMap(([n, t]) => [...uleb(n), t]), ...code, ...OP.end];
  return [...uleb(fn.length), ...fn];
}

/**
 * scoresF32(rowsPtr, probePtr, outPtr, rows, rowBytes): out[r] = dot(row r, probe) in f32.
 * Byte offsets; rowBytes a multiple of 64 (16 floats x 4 accumulators per step).
 */
function scoresF32Body(): number[] {
  const [ROWS_PTR, PROBE, OUT, ROWS, ROW_BYTES, END, J] = [0, 1, 2, 3, 4, 5, 6];
  const ACC = [7, 8, 9, 10];
  const step = (acc: number, offset: number): number[] => [
    ...OP.get(acc),
    ...OP.get(ROWS_PTR), ...OP.get(J), ...OP.i32Add, ...OP.v128Load(offset),
    ...OP.get(PROBE), ...OP.get(J), ...OP.i32Add, ...OP.v128Load(offset),
    ...OP.f32x4Mul, ...OP.f32x4Add, ...OP.set(acc),
  ];
  const [a0, a1, a2, a3] = ACC;
  const code = [
    ...OP.get(ROWS_PTR), ...OP.get(ROWS), ...OP.get(ROW_BYTES), ...OP.i32Mul, ...OP.i32Add, ...OP.set(END),
    ...OP.block, ...OP.loop,
    ...OP.get(ROWS_PTR), ...OP.get(END), ...OP.i32GeU, ...OP.brIf(1),
    ...ACC.flatMap((a) => [...OP.v128Zero, ...OP.set(a)]),
    ...OP.i32Const(0), ...OP.set(J),
    ...OP.loop,
    ...step(a0, 0), ...step(a1, 16), ...step(a2, 32), ...step(a3, 48),
    ...OP.get(J), ...OP.i32Const(64), ...OP.i32Add, ...OP.tee(J), ...OP.get(ROW_BYTES), ...OP.i32LtU, ...OP.brIf(0),
    ...OP.end,
    ...OP.get(OUT),
    ...OP.get(a0), ...OP.get(a1), ...OP.f32x4Add, ...OP.get(a2), ...OP.get(a3), ...OP.f32x4Add, ...OP.f32x4Add, ...OP.tee(a0),
    ...OP.f32x4Lane(0), ...OP.get(a0), ...OP.f32x4Lane(1), ...OP.f32Add, ...OP.get(a0), ...OP.f32x4Lane(2), ...OP.f32Add, ...OP.get(a0), ...OP.f32x4Lane(3), ...OP.f32Add,
    ...OP.f32Store,
    ...OP.get(OUT), ...OP.i32Const(4), ...OP.i32Add, ...OP.set(OUT),
    ...OP.get(ROWS_PTR), ...OP.get(ROW_BYTES), ...OP.i32Add, ...OP.set(ROWS_PTR),
    ...OP.br(0),
    ...OP.end, ...OP.end,
  ];
  return functionBody([[2, T_I32], [4, T_V128]], code);
}

/**
 * scoresI8(rowsPtr, probePtr, outPtr, rows, rowBytes, scalesPtr, probeScale):
 * out[r] = f32(sum_i rowI8[i] * probeI16[i]) * scales[r] * probeScale.
 * Rows are int8 (rowBytes a multiple of 16), the probe int16 (2 bytes per element).
 */
function scoresI8Body(): number[] {
  const [ROWS_PTR, PROBE, OUT, ROWS, ROW_BYTES, SCALES, PROBE_SCALE, END, J, Q] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [X, A0, A1] = [10, 11, 12];
  const code = [
    ...OP.get(ROWS_PTR), ...OP.get(ROWS), ...OP.get(ROW_BYTES), ...OP.i32Mul, ...OP.i32Add, ...OP.set(END),
    ...OP.block, ...OP.loop,
    ...OP.get(ROWS_PTR), ...OP.get(END), ...OP.i32GeU, ...OP.brIf(1),
    ...OP.v128Zero, ...OP.set(A0), ...OP.v128Zero, ...OP.set(A1),
    ...OP.i32Const(0), ...OP.set(J),
    ...OP.get(PROBE), ...OP.set(Q),
    ...OP.loop,
    ...OP.get(ROWS_PTR), ...OP.get(J), ...OP.i32Add, ...OP.v128Load(0), ...OP.set(X),
    ...OP.get(A0), ...OP.get(X), ...OP.i16x8ExtendLowI8x16S, ...OP.get(Q), ...OP.v128Load(0), ...OP.i32x4DotI16x8S, ...OP.i32x4Add, ...OP.set(A0),
    ...OP.get(A1), ...OP.get(X), ...OP.i16x8ExtendHighI8x16S, ...OP.get(Q), ...OP.v128Load(16), ...OP.i32x4DotI16x8S, ...OP.i32x4Add, ...OP.set(A1),
    ...OP.get(Q), ...OP.i32Const(32), ...OP.i32Add, ...OP.set(Q),
    ...OP.get(J), ...OP.i32Const(16), ...OP.i32Add, ...OP.tee(J), ...OP.get(ROW_BYTES), ...OP.i32LtU, ...OP.brIf(0),
    ...OP.end,
    ...OP.get(OUT),
    ...OP.get(A0), ...OP.get(A1), ...OP.i32x4Add, ...OP.tee(A0),
    ...OP.i32x4Lane(0), ...OP.get(A0), ...OP.i32x4Lane(1), ...OP.i32Add, ...OP.get(A0), ...OP.i32x4Lane(2), ...OP.i32Add, ...OP.get(A0), ...OP.i32x4Lane(3), ...OP.i32Add,
    ...OP.f32ConvertI32S,
    ...OP.get(SCALES), ...OP.f32Load, ...OP.f32Mul, ...OP.get(PROBE_SCALE), ...OP.f32Mul,
    ...OP.f32Store,
    ...OP.get(OUT), ...OP.i32Const(4), ...OP.i32Add, ...OP.set(OUT),
    ...OP.get(SCALES), ...OP.i32Const(4), ...OP.i32Add, ...OP.set(SCALES),
    ...OP.get(ROWS_PTR), ...OP.get(ROW_BYTES), ...OP.i32Add, ...OP.set(ROWS_PTR),
    ...OP.br(0),
    ...OP.end, ...OP.end,
  ];
  return functionBody([[3, T_I32], [3, T_V128]], code);
}

function moduleBytes(): Uint8Array {
  const i32x5 = [T_I32, T_I32, T_I32, T_I32, T_I32];
  const types = [
    [0x60, ...uleb(5), ...i32x5, ...uleb(0)],
    [0x60, ...uleb(7), ...i32x5, T_I32, T_F32, ...uleb(0)],
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(types.length), ...types.flat()]),
    ...section(2, [...uleb(1), ...wasmName('env'), ...wasmName('memory'), 0x02, 0x00, ...uleb(1)]), // import memory, min 1 page
    ...section(3, [...uleb(2), ...uleb(0), ...uleb(1)]),
    ...section(7, [...uleb(2), ...wasmName('scoresF32'), 0x00, ...uleb(0), ...wasmName('scoresI8'), 0x00, ...uleb(1)]),
    ...section(10, [...uleb(2), ...scoresF32Body(), ...scoresI8Body()]),
  ];
  return Uint8Array.from(bytes);
}

/**
 * The slice of the WebAssembly JS API used here, typed locally: the project's lib settings
 * (ES2023, @types/node 20) do not declare the WebAssembly global, and a global declaration from
 * one stage could clash with another's.
 */
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
  readonly Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

type ScoresF32 = (rowsPtr: number, probePtr: number, outPtr: number, rows: number, rowBytes: number) => void;
type ScoresI8 = (rowsPtr: number, probePtr: number, outPtr: number, rows: number, rowBytes: number, scalesPtr: number, probeScale: number) => void;

let compiled: WasmModule | null | undefined;

/** The compiled SIMD module, or null where this runtime has no WebAssembly SIMD. */
function simdModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(moduleBytes()) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export function simdAvailable(): boolean {
  return simdModule() !== null;
}

const PAGE = 65536;
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** Stand-in for a WebAssembly memory where there is no WebAssembly at all (JS kernels only). */
class GrowableBuffer {
  buffer = new ArrayBuffer(PAGE);

  grow(pages: number): number {
    const old = this.buffer;
    this.buffer = new ArrayBuffer(old.byteLength + pages * PAGE);
    new Uint8Array(this.buffer).set(new Uint8Array(old));
    return old.byteLength / PAGE;
  }
}

/** One WebAssembly memory with its instance, laid out as aligned regions resized together. */
class Arena {
  readonly memory: WasmMemory;
  readonly exports: { scoresF32: ScoresF32; scoresI8: ScoresI8 } | null;

  constructor(module: WasmModule | null) {
    this.memory = wasm ? new wasm.Memory({ initial: 1 }) : new GrowableBuffer();
    this.exports = module && wasm ? (new wasm.Instance(module, { env: { memory: this.memory } }).exports as unknown as { scoresF32: ScoresF32; scoresI8: ScoresI8 }) : null;
  }

  /** Byte offsets of regions of the given sizes, growing the memory to fit them. */
  layout(sizes: readonly number[]): number[] {
    const offsets: number[] = [];
    let at = 0;
    for (const s of sizes) {
      offsets.push(at);
      at += align64(s);
    }
    const have = this.memory.buffer.byteLength;
    if (at > have) this.memory.grow(Math.ceil((at - have) / PAGE));
    return offsets;
  }
}

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
