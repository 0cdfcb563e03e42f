import t from 'tap';
import { dot, l2norm, l2normalize, embeddingProblem } from '../../src/lib/vectors.ts';
import { GroupTopK, topK, topKByGroup, RowStore, rowStride, scoreRowsJs, simdAvailable, EmbeddingIndex, searchIndexes, type SearchTrace } from '../../src/gallery/index.ts';
import { near, randomUnit } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

t.test('dot: hand-computed, including the non-multiple-of-4 tail and offsets', async (t) => {
  t.equal(dot(Float32Array.of(1, 2, 3, 4, 5), Float32Array.of(5, 4, 3, 2, 1)), 35);
  t.equal(dot(Float32Array.of(1, 2, 3), Float32Array.of(4, 5, 6)), 32);
  t.equal(dot(Float32Array.of(9, 9, 1, 2), Float32Array.of(3, 4), 2, 2, 0), 11, 'aOffset 2: [1,2].[3,4]');
  t.equal(dot(new Float32Array(0), new Float32Array(0)), 0);
});

t.test('l2normalize: hand-computed; rejects zero, empty and non-finite vectors', async (t) => {
  const n = l2normalize(Float32Array.of(3, 4));
  t.same(Array.from(n), [Math.fround(0.6), Math.fround(0.8)]);
  t.equal(l2norm(Float32Array.of(3, 4)), 5);
  t.throws(() => l2normalize(new Float32Array(3)), /all zeros/);
  t.throws(() => l2normalize(new Float32Array(0)), /empty/);
  t.throws(() => l2normalize(Float32Array.of(1, Number.NaN)), /element 1 is NaN/);
  t.throws(() => l2normalize(Float32Array.of(Number.POSITIVE_INFINITY, 1)), /element 0 is Infinity/);
  t.equal(embeddingProblem(Float32Array.of(1e-30, 0)), undefined, 'tiny but non-zero is usable');
});

t.test('topK: rows by dot product, best first, hand-computed', async (t) => {
  const index = Float32Array.of(1, 0, 0, 1, 0.6, 0.8);
  const hits = topK(index, 2, Float32Array.of(0.6, 0.8), 2);
  t.same(hits.map((h) => h.row), [2, 1]);
  t.equal(hits[0].score, Math.fround(0.6) * Math.fround(0.6) + Math.fround(0.8) * Math.fround(0.8));
  t.equal(hits[1].score, Math.fround(0.8));
  t.same(topK(index, 2, Float32Array.of(1, 0), 10).map((h) => h.row), [0, 2, 1], 'k larger than rows returns all rows');
  t.same(topK(Float32Array.of(1, 0, 7, 0, 1, 7), 2, Float32Array.of(0, 1), 1, 3).map((h) => h.row), [1], 'stride > dim skips padding');
});

t.test('topKByGroup: per-group best, hand-computed', async (t) => {
  const scores = [0.9, 0.95, 0.5, 0.7, 0.8];
  const groups = [0, 0, 1, 2, 2];
  t.same(topKByGroup(scores, groups, 2), [
    { group: 0, score: 0.95, ref: 1 },
    { group: 2, score: 0.8, ref: 4 },
  ]);
  t.same(topKByGroup(scores, groups, 5).map((h) => h.group), [0, 2, 1], 'only 3 groups exist');
});

t.test('GroupTopK: an evicted group comes back with a better score; a held one is updated in place', async (t) => {
  const sel = new GroupTopK(2);
  sel.offer(1, 0.5, 10);
  sel.offer(2, 0.6, 20);
  t.equal(sel.floor, 0.5);
  sel.offer(3, 0.7, 30); // evicts group 1
  t.equal(sel.floor, 0.6);
  sel.offer(1, 0.55, 11); // below the floor: ignored
  sel.offer(1, 0.65, 12); // re-enters, evicting group 2
  sel.offer(3, 0.9, 31); // held: updated
  sel.offer(3, 0.1, 32); // held, worse: ignored
  t.same(sel.results(), [
    { group: 3, score: 0.9, ref: 31 },
    { group: 1, score: 0.65, ref: 12 },
  ]);
  t.throws(() => new GroupTopK(0), RangeError);
});

t.test('GroupTopK equals sort-and-dedupe on random data', async (t) => {
  const rand = mulberry32(7);
  for (let trial = 0; trial < 50; trial++) {
    const n = 1 + Math.floor(rand() * 300);
    const k = 1 + Math.floor(rand() * 12);
    const scores = Array.from({ length: n }, () => rand());
    const groups = Array.from({ length: n }, () => Math.floor(rand() * 40));
    const best = new Map<number, number>();
    scores.forEach((s, r) => best.set(groups[r], Math.max(best.get(groups[r]) ?? -1, s)));
    const expected = [...best].sort((a, b) => b[1] - a[1]).slice(0, k);
    const got = topKByGroup(scores, groups, k);
    t.same(got.map((h) => [h.group, h.score]), expected, `trial ${trial}`);
  }
});

t.test('kernels: SIMD f32 scan equals the JS reference; int8 scan stays within its error bound', async (t) => {
  t.ok(simdAvailable(), 'Node 20 has WebAssembly SIMD: the fast path is what runs here');
  const rand = mulberry32(11);
  for (const dim of [3, 16, 100, 128, 512]) {
    const simd = new RowStore(dim, { useSimd: true });
    const js = new RowStore(dim, { useSimd: false });
    t.equal(simd.usesSimd, true);
    t.equal(js.usesSimd, false);
    t.equal(js.canScreen, false);
    for (let r = 0; r < 700; r++) {
      const v = randomUnit(dim, rand);
      simd.append(v);
      js.append(v);
    }
    t.equal(simd.stride, rowStride(dim));
    const probe = randomUnit(dim, rand);
    const a = simd.scan(probe).slice();
    const b = js.scan(probe).slice();
    let worstF32 = 0;
    let worstApprox = 0;
    const approx = simd.scanApprox(probe);
    for (let r = 0; r < 700; r++) {
      const exact = simd.rowDot(r, probe);
      worstF32 = Math.max(worstF32, Math.abs(a[r] - exact), Math.abs(b[r] - exact));
      worstApprox = Math.max(worstApprox, Math.abs(approx.scores[r] - exact));
    }
    t.ok(worstF32 < 1e-5, `dim ${dim}: f32 scans agree with the f64 dot (worst ${worstF32.toExponential(2)})`);
    t.ok(worstApprox <= approx.errorBound, `dim ${dim}: int8 error ${worstApprox.toFixed(5)} <= bound ${approx.errorBound.toFixed(5)}`);
    t.ok(approx.errorBound < 0.05, `dim ${dim}: bound is tight enough to screen (${approx.errorBound.toFixed(4)})`);
    t.ok(worstApprox > 0, 'the int8 scores really are approximations (the check above is not vacuous)');
  }
});

t.test('kernels: hand-computed rows, padding and growth', async (t) => {
  const s = new RowStore(3, { initialCapacity: 16 });
  for (let i = 0; i < 40; i++) s.append(Float32Array.of(i, 1, 0)); // forces two reallocations
  t.equal(s.rows, 40);
  t.same(Array.from(s.row(39)), [39, 1, 0], 'rows survive growth');
  const scores = s.scan(Float32Array.of(1, 2, 3));
  t.equal(scores[0], 2);
  t.equal(scores[39], 41);
  const ref = new Float32Array(40);
  scoreRowsJs(s.index, s.stride, 3, 40, Float32Array.of(1, 2, 3), ref);
  t.same(Array.from(scores), Array.from(ref));
});

t.test('RowStore.swapRemove moves the last row into the hole', async (t) => {
  const s = new RowStore(2);
  for (let i = 0; i < 4; i++) s.append(Float32Array.of(i, 0));
  t.equal(s.swapRemove(1), 3, 'row 3 moved to row 1');
  t.same(Array.from(s.row(1)), [3, 0]);
  t.equal(s.swapRemove(2), -1, 'removing the last row moves nothing');
  t.equal(s.rows, 2);
  t.same(Array.from(s.scan(Float32Array.of(1, 0))), [0, 3]);
  t.throws(() => s.swapRemove(5), RangeError);
});

t.test('searchIndexes: screened (int8 + exact re-score) and unscreened paths give identical answers', async (t) => {
  const rand = mulberry32(99);
  const dim = 64;
  const plain = new EmbeddingIndex('m', false, dim);
  const masked = new EmbeddingIndex('m', true, dim);
  // 3000 identities, some with several templates, plus near-duplicates to crowd the top.
  const centres = Array.from({ length: 3000 }, () => randomUnit(dim, rand));
  let tid = 0;
  centres.forEach((c, g) => {
    plain.add(`t${tid++}`, g, c);
    if (g % 3 === 0) masked.add(`t${tid++}`, g, randomUnit(dim, rand));
    // Look-alikes: another identity's templates close to this one's, so top-k groups compete.
    if (g % 10 === 1) plain.add(`t${tid++}`, g, near(centres[g - 1], 0.03, rand));
  });
  const trace: SearchTrace = { screened: false, rescored: 0, exactScans: 0 };
  for (let i = 0; i < 200; i++) {
    const probe = i % 2 === 0 ? centres[Math.floor(rand() * centres.length)] : randomUnit(dim, rand);
    for (const k of [1, 5, 20]) {
      const exact = searchIndexes([plain, masked], probe, k, { screenMinRows: Number.POSITIVE_INFINITY });
      const screened = searchIndexes([plain, masked], probe, k, { screenMinRows: 0 }, trace);
      if (exact.map((h) => h.group).join() !== screened.map((h) => h.group).join()) {
        t.fail(`probe ${i} k ${k}: ${exact.map((h) => h.group)} vs ${screened.map((h) => h.group)}`);
        return;
      }
      for (let j = 0; j < exact.length; j++) {
        if (Math.abs(exact[j].score - screened[j].score) > 1e-5) t.fail(`score ${exact[j].score} vs ${screened[j].score}`);
      }
    }
  }
  t.pass('600 searches agree');
  t.equal(trace.screened, true);
  t.equal(trace.exactScans, 0, 'screening never fell back to a full exact scan on this data');
  t.ok(trace.rescored > 0 && trace.rescored < 600 * 200, `re-scored ${trace.rescored} rows over 600 searches of ${plain.size + masked.size} rows`);
  t.same(searchIndexes([new EmbeddingIndex('m', false, dim)], centres[0], 5), [], 'empty index: no hits');
});

t.test('searchIndexes: screening falls back to an exact scan when scores are too close to screen', async (t) => {
  const rand = mulberry32(5);
  const dim = 128;
  const ix = new EmbeddingIndex('m', false, dim);
  const centre = randomUnit(dim, rand);
  for (let g = 0; g < 2000; g++) ix.add(`t${g}`, g, near(centre, 0.002, rand));
  const trace: SearchTrace = { screened: false, rescored: 0, exactScans: 0 };
  const hits = searchIndexes([ix], centre, 3, { screenMinRows: 0 }, trace);
  const exact = searchIndexes([ix], centre, 3, { screenMinRows: Number.POSITIVE_INFINITY });
  t.equal(trace.exactScans, 1);
  t.same(hits.map((h) => h.group), exact.map((h) => h.group));
});
