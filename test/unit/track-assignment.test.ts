import t from 'tap';
import { iou, iouCostMatrix, iouMatrix, linearAssignment, matCreate, matFromRows, type Matrix, solveAssignment } from '../../src/track/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

function totalCost(cost: Matrix, rowToCol: Int32Array): number {
  let s = 0;
  rowToCol.forEach((c, r) => {
    if (c >= 0) s += cost.data[r * cost.cols + c];
  });
  return s;
}

/** Exhaustive minimum over all injective row->col maps covering min(rows, cols) pairs. */
function bruteForceMin(cost: Matrix): number {
  const transpose = cost.rows > cost.cols;
  const n = transpose ? cost.cols : cost.rows;
  const m = transpose ? cost.rows : cost.cols;
  const at = (i: number, j: number): number => (transpose ? cost.data[j * cost.cols + i] : cost.data[i * cost.cols + j]);
  const used = new Array<boolean>(m).fill(false);
  let best = Infinity;
  const go = (i: number, acc: number): void => {
    if (i === n) {
      best = Math.min(best, acc);
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = true;
      go(i + 1, acc + at(i, j));
      used[j] = false;
    }
  };
  go(0, 0);
  return best;
}

/** Exhaustive minimum of sum(cost - maxCost) over partial matchings using pairs with cost <= maxCost. */
function bruteForceGated(cost: Matrix, maxCost: number): number {
  const usedCols = new Array<boolean>(cost.cols).fill(false);
  let best = Infinity;
  const go = (r: number, acc: number): void => {
    if (r === cost.rows) {
      best = Math.min(best, acc);
      return;
    }
    go(r + 1, acc); // row r unmatched
    for (let c = 0; c < cost.cols; c++) {
      const v = cost.data[r * cost.cols + c];
      if (usedCols[c] || !(v <= maxCost)) continue;
      usedCols[c] = true;
      go(r + 1, acc + v - maxCost);
      usedCols[c] = false;
    }
  };
  go(0, 0);
  return best;
}

t.test('solveAssignment: known square matrices', async (t) => {
  const a = matFromRows([
    [4, 1, 3],
    [2, 0, 5],
    [3, 2, 2],
  ]);
  t.same(Array.from(solveAssignment(a)), [1, 0, 2]);
  t.equal(totalCost(a, solveAssignment(a)), 5);

  const b = matFromRows([
    [9, 2, 7, 8],
    [6, 4, 3, 7],
    [5, 8, 1, 8],
    [7, 6, 9, 4],
  ]);
  t.same(Array.from(solveAssignment(b)), [1, 0, 2, 3]);
  t.equal(totalCost(b, solveAssignment(b)), 13);
});

t.test('solveAssignment beats greedy where greedy is wrong', async (t) => {
  // Greedy takes the cheapest pair (0,0)=1 and is then forced into (1,1)=100: total 101.
  const trap = matFromRows([
    [1, 2],
    [2, 100],
  ]);
  t.same(Array.from(solveAssignment(trap)), [1, 0]);
  t.equal(totalCost(trap, solveAssignment(trap)), 4);
});

t.test('solveAssignment: rectangular, empty and negative costs', async (t) => {
  const wide = matFromRows([
    [10, 1, 10],
    [10, 2, 3],
  ]);
  t.same(Array.from(solveAssignment(wide)), [1, 2]);
  const tall = matFromRows([
    [10, 10],
    [1, 2],
    [10, 3],
  ]);
  t.same(Array.from(solveAssignment(tall)), [-1, 0, 1]);
  t.same(Array.from(solveAssignment(matCreate(0, 3))), []);
  t.same(Array.from(solveAssignment(matCreate(2, 0))), [-1, -1]);
  const negative = matFromRows([
    [-5, 0],
    [0, -5],
  ]);
  t.same(Array.from(solveAssignment(negative)), [0, 1]);
  t.throws(() => solveAssignment(matFromRows([[1, NaN]])), { code: 'BAD_ARGUMENT' });
});

t.test('solveAssignment matches brute force on 300 random matrices up to 6x6', async (t) => {
  const rand = mulberry32(12345);
  let mismatches = 0;
  for (let k = 0; k < 300; k++) {
    const rows = 1 + Math.floor(rand() * 6);
    const cols = 1 + Math.floor(rand() * 6);
    const m = matCreate(rows, cols);
    // Integers make ties common, which is where augmenting-path bookkeeping goes wrong.
    for (let i = 0; i < m.data.length; i++) m.data[i] = Math.floor(rand() * 10);
    const rowToCol = solveAssignment(m);
    const cols_ = Array.from(rowToCol).filter((c) => c >= 0);
    if (cols_.length !== Math.min(rows, cols) || new Set(cols_).size !== cols_.length) mismatches++;
    else if (totalCost(m, rowToCol) !== bruteForceMin(m)) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('linearAssignment: gating leaves expensive pairs unmatched', async (t) => {
  const a = matFromRows([
    [0.1, 0.85],
    [0.85, 2],
  ]);
  // Full optimum would be (0,1)+(1,0)=1.7 vs (0,0)+(1,1)=2.1; gated at 0.9, (0,0) alone is best.
  const r = linearAssignment(a, 0.9);
  t.same(r.matches, [[0, 0]]);
  t.same(r.unmatchedRows, [1]);
  t.same(r.unmatchedCols, [1]);

  const b = matFromRows([
    [0.1, 0.5],
    [0.2, 0.95],
  ]);
  // (1,1) is forbidden; two cheap-enough pairs beat one very cheap pair.
  t.same(linearAssignment(b, 0.9).matches, [
    [0, 1],
    [1, 0],
  ]);

  const none = linearAssignment(matFromRows([[1, 1]]), 0.5);
  t.same(none, { matches: [], unmatchedRows: [0], unmatchedCols: [0, 1] });
  const forbidden = linearAssignment(matFromRows([[Infinity, 0.2], [NaN, 0.1]]), 0.8);
  t.same(forbidden.matches, [[1, 1]]);
  t.same(linearAssignment(matCreate(0, 2), 0.5), { matches: [], unmatchedRows: [], unmatchedCols: [0, 1] });
  t.throws(() => linearAssignment(a, Infinity), { code: 'BAD_ARGUMENT' });
});

t.test('linearAssignment matches brute force on 300 random gated problems', async (t) => {
  const rand = mulberry32(777);
  let mismatches = 0;
  for (let k = 0; k < 300; k++) {
    const rows = Math.floor(rand() * 6);
    const cols = Math.floor(rand() * 6);
    const m = matCreate(rows, cols);
    for (let i = 0; i < m.data.length; i++) m.data[i] = rand();
    const maxCost = 0.3 + rand() * 0.5;
    const r = linearAssignment(m, maxCost);
    const objective = r.matches.reduce((s, [row, col]) => s + m.data[row * cols + col] - maxCost, 0);
    const consistent =
      r.matches.length + r.unmatchedRows.length === rows &&
      r.matches.length + r.unmatchedCols.length === cols &&
      r.matches.every(([row, col]) => m.data[row * cols + col] <= maxCost);
    if (!consistent || Math.abs(objective - bruteForceGated(m, maxCost)) > 1e-12) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('iou on hand-computed boxes', async (t) => {
  t.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  t.equal(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  t.equal(iou([0, 0, 10, 10], [5, 5, 15, 15]), 25 / 175);
  t.equal(iou([0, 0, 10, 10], [10, 0, 20, 10]), 0, 'touching edges do not overlap');
  t.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  t.equal(iou([0, 0, 10, 10], [2, 2, 4, 4]), 4 / 100, 'contained box');
  t.equal(iou([5, 5, 5, 5], [0, 0, 10, 10]), 0, 'empty box');
  t.equal(iou([10, 10, 0, 0], [0, 0, 10, 10]), 0, 'inverted box');
});

t.test('iouMatrix and iouCostMatrix shapes and values', async (t) => {
  const rows = [
    [0, 0, 10, 10],
    [5, 0, 15, 10],
  ] as const;
  const cols = [
    [0, 0, 10, 10],
    [100, 100, 110, 110],
    [5, 0, 15, 10],
  ] as const;
  const m = iouMatrix(rows, cols);
  t.equal(m.rows, 2);
  t.equal(m.cols, 3);
  t.same(Array.from(m.data), [1, 0, 1 / 3, 1 / 3, 0, 1]);
  t.same(Array.from(iouCostMatrix(rows, cols).data), [0, 1, 1 - 1 / 3, 1 - 1 / 3, 1, 0]);
});
