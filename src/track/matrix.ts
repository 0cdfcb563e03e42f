/**
 * Small dense matrices on Float64Array, row-major. Just enough linear algebra for an 8-state
 * Kalman filter and an assignment cost matrix: sizes are tiny (<= a few dozen), so clarity and
 * immutability beat BLAS-style in-place tricks. Every function returns a new matrix.
 */
import { FacegateError } from '../errors.ts';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** rows * cols values, row-major: element (r, c) is data[r * cols + c]. */
  readonly data: Float64Array;
}

function badShape(message: string, context: Record<string, number>): FacegateError {
  return new FacegateError('BAD_ARGUMENT', message, { context });
}

/** A rows x cols matrix, zero-filled or copied from `values` (row-major). */
export function matCreate(rows: number, cols: number, values?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw badShape('matrix dimensions must be non-negative integers', { rows, cols });
  }
  const data = new Float64Array(rows * cols);
  if (values !== undefined) {
    if (values.length !== rows * cols) {
      throw badShape('matrix values do not fit its shape', { rows, cols, values: values.length });
    }
    data.set(values);
  }
  return { rows, cols, data };
}

/** Matrix from nested rows, e.g. matFromRows([[1, 2], [3, 4]]); all rows must have one length. */
export function matFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows.length === 0 ? 0 : rows[0].length;
  const m = matCreate(rows.length, cols);
  rows.forEach((row, r) => {
    if (row.length !== cols) throw badShape('matrix rows differ in length', { row: r, expected: cols, got: row.length });
    m.data.set(row, r * cols);
  });
  return m;
}

export function matToRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.rows; r++) out.push(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
  return out;
}

export function matGet(m: Matrix, r: number, c: number): number {
  return m.data[r * m.cols + c];
}

export function matIdentity(n: number): Matrix {
  const m = matCreate(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/** Square diagonal matrix with `values` on the diagonal. */
export function matDiag(values: ArrayLike<number>): Matrix {
  const n = values.length;
  const m = matCreate(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = values[i];
  return m;
}

export function matTranspose(a: Matrix): Matrix {
  const t = matCreate(a.cols, a.rows);
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) t.data[c * a.rows + r] = a.data[r * a.cols + c];
  }
  return t;
}

export function matMultiply(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw badShape('matrix product shapes do not agree', { aCols: a.cols, bRows: b.rows });
  const out = matCreate(a.rows, b.cols);
  for (let r = 0; r < a.rows; r++) {
    for (let k = 0; k < a.cols; k++) {
      const ark = a.data[r * a.cols + k];
      if (ark === 0) continue; // Kalman matrices are mostly zeros
      for (let c = 0; c < b.cols; c++) out.data[r * b.cols + c] += ark * b.data[k * b.cols + c];
    }
  }
  return out;
}

/** Matrix times column vector (given as a flat array of length a.cols). */
export function matMulVec(a: Matrix, v: ArrayLike<number>): Float64Array {
  if (a.cols !== v.length) throw badShape('matrix-vector shapes do not agree', { aCols: a.cols, vLength: v.length });
  const out = new Float64Array(a.rows);
  for (let r = 0; r < a.rows; r++) {
    let s = 0;
    for (let c = 0; c < a.cols; c++) s += a.data[r * a.cols + c] * v[c];
    out[r] = s;
  }
  return out;
}

function elementwise(a: Matrix, b: Matrix, op: (x: number, y: number) => number): Matrix {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw badShape('matrix shapes differ', { aRows: a.rows, aCols: a.cols, bRows: b.rows, bCols: b.cols });
  }
  const out = matCreate(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = op(a.data[i], b.data[i]);
  return out;
}

export function matAdd(a: Matrix, b: Matrix): Matrix {
  return elementwise(a, b, (x, y) => x + y);
}

export function matSub(a: Matrix, b: Matrix): Matrix {
  return elementwise(a, b, (x, y) => x - y);
}

/**
 * Inverse by Gauss-Jordan elimination with partial pivoting. Used on the 4x4 innovation
 * covariance, which is symmetric positive definite by construction (measurement noise > 0), so a
 * singular input means a caller bug and throws rather than returning garbage.
 */
export function matInverse(a: Matrix): Matrix {
  if (a.rows !== a.cols) throw badShape('only square matrices can be inverted', { rows: a.rows, cols: a.cols });
  const n = a.rows;
  const w = 2 * n;
  // Augmented [A | I], reduced in place to [I | A^-1].
  const aug = new Float64Array(n * w);
  for (let r = 0; r < n; r++) {
    aug.set(a.data.subarray(r * n, (r + 1) * n), r * w);
    aug[r * w + n + r] = 1;
  }
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) scale = Math.max(scale, Math.abs(a.data[i]));
  const eps = (scale || 1) * 1e-14;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(aug[r * w + col]) > Math.abs(aug[pivot * w + col])) pivot = r;
    const p = aug[pivot * w + col];
    if (!(Math.abs(p) > eps)) throw badShape('matrix is singular', { column: col });
    if (pivot !== col) {
      for (let c = 0; c < w; c++) {
        const tmp = aug[col * w + c];
        aug[col * w + c] = aug[pivot * w + c];
        aug[pivot * w + c] = tmp;
      }
    }
    for (let c = 0; c < w; c++) aug[col * w + c] /= p;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = aug[r * w + col];
      if (f === 0) continue;
      for (let c = 0; c < w; c++) aug[r * w + c] -= f * aug[col * w + c];
    }
  }
  const inv = matCreate(n, n);
  for (let r = 0; r < n; r++) inv.data.set(aug.subarray(r * w + n, (r + 1) * w), r * n);
  return inv;
}
