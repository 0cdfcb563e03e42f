/**
 * The two SIMD kernels of kernel.ts as WebAssembly, assembled here from their opcodes (no
 * toolchain, no dependency): scoresF32 (exact f32 dot products) and scoresI8 (the int8 screen),
 * and the memory arenas they read rows from in place. Where the runtime has no WebAssembly SIMD,
 * `simdModule()` is null and the callers use the JS kernel.
 */

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
export interface WasmModule {
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
export function simdModule(): WasmModule | null {
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
export class Arena {
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
