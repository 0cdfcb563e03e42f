/**
 * Minimum-cost bipartite assignment (Hungarian method, shortest augmenting paths with dual
 * potentials, O(n^2 m)) plus the gated form trackers need: pairs costing more than a limit stay
 * unmatched. Greedy matching is not enough: it can take a cheap pair that forces an expensive one
 * elsewhere, which in tracking is exactly an ID switch between two close faces.
 */
import { FacegateError } from '../errors.ts';
import { type Matrix, matTranspose } from './matrix.ts';

export interface AssignmentResult {
  /** [row, col] pairs, sorted by row. */
  readonly matches: readonly (readonly [row: number, col: number])[];
  /** Rows left unmatched, ascending. */
  readonly unmatchedRows: readonly number[];
  /** Columns left unmatched, ascending. */
  readonly unmatchedCols: readonly number[];
}

/**
 * Optimal assignment for rows <= cols: every row gets a distinct column, total cost minimal.
 * Returns rowToCol. Costs must be finite.
 */
function hungarianWide(cost: Matrix): Int32Array {
  const n = cost.rows;
  const m = cost.cols;
  const a = cost.data;
  // 1-based arrays with a virtual column 0 as the root of each augmenting search (e-maxx layout).
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const colOwner = new Int32Array(m + 1); // row (1-based) assigned to column j, 0 = free
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    colOwner[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = colOwner[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = a[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (reduced < minv[j]) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[colOwner[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (colOwner[j0] !== 0);
    // Flip the augmenting path back to the root.
    do {
      const j1 = way[j0];
      colOwner[j0] = colOwner[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowToCol = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (colOwner[j] !== 0) rowToCol[colOwner[j] - 1] = j - 1;
  return rowToCol;
}

/**
 * Full minimum-cost assignment of a rectangular matrix: min(rows, cols) pairs with the lowest
 * total cost. Returns rowToCol (-1 for rows left over when rows > cols). All costs must be finite.
 */
export function solveAssignment(cost: Matrix): Int32Array {
  for (let i = 0; i < cost.data.length; i++) {
    if (!Number.isFinite(cost.data[i])) {
      throw new FacegateError('BAD_ARGUMENT', 'assignment costs must be finite', {
        context: { row: Math.floor(i / Math.max(cost.cols, 1)), col: i % Math.max(cost.cols, 1) },
      });
    }
  }
  if (cost.rows === 0 || cost.cols === 0) return new Int32Array(cost.rows).fill(-1);
  if (cost.rows <= cost.cols) return hungarianWide(cost);
  const colToRow = hungarianWide(matTranspose(cost));
  const rowToCol = new Int32Array(cost.rows).fill(-1);
  colToRow.forEach((row, col) => {
    if (row >= 0) rowToCol[row] = col;
  });
  return rowToCol;
}

/**
 * Gated assignment: the set of pairs, each costing at most `maxCost`, that minimises
 * sum(cost - maxCost) — i.e. what lap.lapjv(extend_cost=True, cost_limit=maxCost) gives ByteTrack.
 * Implemented by clamping every cost to maxCost and solving the full rectangular problem: a
 * clamped pair contributes exactly what leaving both sides unmatched would, so dropping those
 * pairs afterwards loses nothing. Non-finite costs (NaN, Infinity) mean "never match".
 */
export function linearAssignment(cost: Matrix, maxCost: number): AssignmentResult {
  if (!Number.isFinite(maxCost)) {
    throw new FacegateError('BAD_ARGUMENT', 'assignment maxCost must be finite', { context: { maxCost } });
  }
  const clamped: Matrix = { rows: cost.rows, cols: cost.cols, data: new Float64Array(cost.data.length) };
  for (let i = 0; i < cost.data.length; i++) {
    const c = cost.data[i];
    clamped.data[i] = Number.isFinite(c) ? Math.min(c, maxCost) : maxCost;
  }
  const rowToCol = solveAssignment(clamped);
  const matches: [number, number][] = [];
  const colTaken = new Uint8Array(cost.cols);
  rowToCol.forEach((col, row) => {
    if (col < 0) return;
    const c = cost.data[row * cost.cols + col];
    if (Number.isFinite(c) && c <= maxCost) {
      matches.push([row, col]);
      colTaken[col] = 1;
    }
  });
  const matchedRows = new Set(matches.map(([r]) => r));
  const unmatchedRows: number[] = [];
  for (let r = 0; r < cost.rows; r++) if (!matchedRows.has(r)) unmatchedRows.push(r);
  const unmatchedCols: number[] = [];
  for (let c = 0; c < cost.cols; c++) if (!colTaken[c]) unmatchedCols.push(c);
  return { matches, unmatchedRows, unmatchedCols };
}
