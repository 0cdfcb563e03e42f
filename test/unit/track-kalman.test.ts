import t from 'tap';
import {
  boxToMeasurement,
  kalmanInitiate,
  kalmanPredict,
  kalmanProject,
  kalmanUpdate,
  matFromRows,
  matGet,
  matIdentity,
  matInverse,
  matMultiply,
  matMulVec,
  matToRows,
  matTranspose,
  measurementToBox,
  type Matrix,
} from '../../src/track/index.ts';

function near(actual: number, expected: number, tol = 1e-9): boolean {
  return Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
}

function rowsNear(actual: Matrix, expected: number[][], tol = 1e-12): boolean {
  return matToRows(actual).every((row, r) => row.every((v, c) => near(v, expected[r][c], tol)));
}

t.test('matrix helpers: product, transpose, matrix-vector', async (t) => {
  const a = matFromRows([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = matFromRows([
    [7, 8],
    [9, 10],
    [11, 12],
  ]);
  t.same(matToRows(matMultiply(a, b)), [
    [58, 64],
    [139, 154],
  ]);
  t.same(matToRows(matTranspose(a)), [
    [1, 4],
    [2, 5],
    [3, 6],
  ]);
  t.same(Array.from(matMulVec(a, [1, 0, -1])), [-2, -2]);
  t.same(matToRows(matMultiply(matIdentity(2), a)), matToRows(a));
  t.throws(() => matMultiply(a, a), { code: 'BAD_ARGUMENT', message: /shapes do not agree/ });
  t.throws(() => matFromRows([[1, 2], [3]]));
});

t.test('matInverse: known inverses, pivoting, singular input', async (t) => {
  t.ok(rowsNear(matInverse(matFromRows([[4, 7], [2, 6]])), [[0.6, -0.7], [-0.2, 0.4]]));
  // Zero on the leading diagonal: only works with row pivoting.
  t.same(matToRows(matInverse(matFromRows([[0, 1], [1, 0]]))), [[0, 1], [1, 0]]);
  const m = matFromRows([
    [2, -1, 0, 0],
    [-1, 2, -1, 0],
    [0, -1, 2, -1],
    [0, 0, -1, 2],
  ]);
  const identity = matToRows(matIdentity(4));
  t.ok(rowsNear(matMultiply(m, matInverse(m)), identity, 1e-12));
  // Hand-computed: the inverse of this tridiagonal matrix is (1/5) * [[4,3,2,1],[3,6,4,2],[2,4,6,3],[1,2,3,4]].
  t.ok(rowsNear(matInverse(m), [[4, 3, 2, 1], [3, 6, 4, 2], [2, 4, 6, 3], [1, 2, 3, 4]].map((r) => r.map((v) => v / 5))));
  t.throws(() => matInverse(matFromRows([[1, 2], [2, 4]])), /singular/);
  t.throws(() => matInverse(matFromRows([[1, 2, 3]])), /square/);
});

t.test('box <-> measurement [cx, cy, a, h] round-trips', async (t) => {
  t.same(Array.from(boxToMeasurement([0, 0, 100, 200])), [50, 100, 0.5, 200]);
  t.same(measurementToBox([50, 100, 0.5, 200]), [0, 0, 100, 200]);
  t.same(measurementToBox(boxToMeasurement([10, 20, 70, 100])), [10, 20, 70, 100]);
});

// Box [0,0,100,200] -> z = [50,100,0.5,200], h = 200. With weights 1/20 and 1/160:
// position std 2*h/20 = 20 (var 400), velocity std 10*h/160 = 12.5 (var 156.25).
t.test('kalmanInitiate: zero velocity, height-scaled covariance', async (t) => {
  const s = kalmanInitiate(boxToMeasurement([0, 0, 100, 200]));
  t.same(Array.from(s.mean), [50, 100, 0.5, 200, 0, 0, 0, 0]);
  const diag = [400, 400, 1e-4, 400, 156.25, 156.25, 1e-10, 156.25];
  diag.forEach((v, i) => t.ok(near(matGet(s.covariance, i, i), v), `P[${i}][${i}] = ${v}`));
  t.equal(matGet(s.covariance, 0, 4), 0);
});

// Q: position std h/20 = 10 (var 100), velocity std h/160 = 1.25 (var 1.5625).
// P' = F P F^T + Q: P'00 = 400 + 156.25 + 100 = 656.25, P'04 = 156.25, P'44 = 156.25 + 1.5625.
t.test('kalmanPredict: constant velocity and hand-computed covariance', async (t) => {
  const s0 = kalmanInitiate(boxToMeasurement([0, 0, 100, 200]));
  const s1 = kalmanPredict(s0);
  t.same(Array.from(s1.mean), [50, 100, 0.5, 200, 0, 0, 0, 0], 'zero velocity: mean stays');
  t.ok(near(matGet(s1.covariance, 0, 0), 656.25));
  t.ok(near(matGet(s1.covariance, 0, 4), 156.25));
  t.ok(near(matGet(s1.covariance, 4, 0), 156.25));
  t.ok(near(matGet(s1.covariance, 4, 4), 157.8125));
  t.ok(near(matGet(s1.covariance, 2, 2), 2e-4 + 1e-10));
  t.ok(near(matGet(s1.covariance, 0, 1), 0), 'axes stay independent');

  const moving = { mean: Float64Array.of(50, 100, 0.5, 200, 1, 2, 0, 3), covariance: s0.covariance };
  t.same(Array.from(kalmanPredict(moving).mean), [51, 102, 0.5, 203, 1, 2, 0, 3]);
  t.same(Array.from(moving.mean), [50, 100, 0.5, 200, 1, 2, 0, 3], 'input state not mutated');
});

// After the predict above, measure z = [60, 100, 0.5, 200]. R std = h/20 = 10 (var 100), so
// S00 = 656.25 + 100 = 756.25, gain K00 = 656.25/756.25 = 105/121, K40 = 156.25/756.25 = 25/121.
t.test('kalmanUpdate: hand-computed gain, mean and covariance', async (t) => {
  const predicted = kalmanPredict(kalmanInitiate(boxToMeasurement([0, 0, 100, 200])));
  const proj = kalmanProject(predicted);
  t.ok(near(matGet(proj.covariance, 0, 0), 756.25));
  t.ok(near(matGet(proj.covariance, 2, 2), 2e-4 + 1e-10 + 1e-2));

  const s = kalmanUpdate(predicted, [60, 100, 0.5, 200]);
  t.ok(near(s.mean[0], 50 + 1050 / 121), `cx ${s.mean[0]}`);
  t.ok(near(s.mean[4], 250 / 121), `vcx ${s.mean[4]}`);
  t.ok(near(s.mean[1], 100) && near(s.mean[5], 0), 'zero innovation in y leaves y alone');
  t.ok(near(s.mean[3], 200));
  t.ok(near(matGet(s.covariance, 0, 0), 10500 / 121), `P00 ${matGet(s.covariance, 0, 0)}`);
  t.ok(near(matGet(s.covariance, 0, 4), 2500 / 121));
  t.ok(near(matGet(s.covariance, 4, 4), 157.8125 - 3906.25 / 121));
  t.ok(near(matGet(s.covariance, 0, 4), matGet(s.covariance, 4, 0)), 'covariance stays symmetric');
});

t.test('filter converges to the true velocity of a linearly moving box', async (t) => {
  const boxAt = (i: number): [number, number, number, number] => [100 + 6 * i, 50 - 2 * i, 180 + 6 * i, 150 - 2 * i];
  let s = kalmanInitiate(boxToMeasurement(boxAt(0)));
  for (let i = 1; i <= 30; i++) s = kalmanUpdate(kalmanPredict(s), boxToMeasurement(boxAt(i)));
  t.ok(near(s.mean[4], 6, 0.02), `vcx ${s.mean[4]}`);
  t.ok(near(s.mean[5], -2, 0.02), `vcy ${s.mean[5]}`);
  const next = measurementToBox(kalmanPredict(s).mean);
  boxAt(31).forEach((v, i) => t.ok(Math.abs(next[i] - v) < 0.5, `predicted coordinate ${i}: ${next[i]} vs ${v}`));
});
