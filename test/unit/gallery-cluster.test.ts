import t from 'tap';
import { clusterEmbeddings, stableUnknownId, updateCentroid, nextUnknownId, isGalleryError } from '../../src/gallery/index.ts';
import { dot } from '../../src/lib/vectors.ts';
import { near, randomUnit } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** Synthetic unknowns: `perCluster` points around each of K random unit centroids in `dim`-d. */
function synthetic(seed: number, K: number, perCluster: number, sigma: number, dim = 128): { points: Float32Array[]; truth: number[] } {
  const rand = mulberry32(seed);
  const centroids = Array.from({ length: K }, () => randomUnit(dim, rand));
  const points: Float32Array[] = [];
  const truth: number[] = [];
  // Interleave so that cluster membership is not simply index order.
  for (let i = 0; i < perCluster; i++) {
    for (let c = 0; c < K; c++) {
      points.push(near(centroids[c], sigma, rand));
      truth.push(c);
    }
  }
  return { points, truth };
}

/** True when two labelings define the same partition (equal up to renaming labels). */
function samePartition(a: readonly number[], b: readonly number[]): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((ab.get(a[i]) ?? b[i]) !== b[i] || (ba.get(b[i]) ?? a[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

t.test('clusterEmbeddings recovers synthetic clusters in 128-d (both linkages)', async (t) => {
  // sigma 0.05 per element: points ~0.87 similar to their centroid, ~0.75 to each other;
  // random centroids in 128-d are ~0 similar. A threshold of 0.5 separates them.
  for (const seed of [1, 2, 3]) {
    const { points, truth } = synthetic(seed, 6, 15, 0.05);
    for (const linkage of ['average', 'complete'] as const) {
      const labels = clusterEmbeddings(points, { threshold: 0.5, linkage });
      t.equal(new Set(labels).size, 6, `seed ${seed} ${linkage}: 6 clusters`);
      t.ok(samePartition(labels, truth), `seed ${seed} ${linkage}: same partition as the truth`);
    }
  }
});

t.test('labels are numbered by first appearance and deterministic', async (t) => {
  const { points } = synthetic(4, 3, 5, 0.05);
  const a = clusterEmbeddings(points, { threshold: 0.5, linkage: 'average' });
  const b = clusterEmbeddings(points, { threshold: 0.5, linkage: 'average' });
  t.same(a, b);
  t.same(a.slice(0, 3), [0, 1, 2], 'points are interleaved 0,1,2,0,1,2...');
  t.same(a, Array.from({ length: 15 }, (_, i) => i % 3));
});

t.test('threshold extremes: 1.0 keeps singletons, -1 merges everything', async (t) => {
  const { points } = synthetic(5, 3, 4, 0.05);
  t.same(clusterEmbeddings(points, { threshold: 1, linkage: 'average' }), points.map((_, i) => i));
  t.same(clusterEmbeddings(points, { threshold: -1, linkage: 'complete' }), points.map(() => 0));
  t.same(clusterEmbeddings([], { threshold: 0.5, linkage: 'average' }), []);
  t.same(clusterEmbeddings([Float32Array.of(1, 0)], { threshold: 0.5, linkage: 'average' }), [0]);
});

t.test('average and complete linkage differ on a chain (hand-computed)', async (t) => {
  // Unit vectors at 0, 40 and 80 degrees: cos 40 = 0.766, cos 80 = 0.174.
  const at = (deg: number) => Float32Array.of(Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180));
  const points = [at(0), at(40), at(80)];
  // First merge: a tie between (0,1) and (1,2) at 0.766 -> lowest indices (0,1) merge first.
  // Then {0,1} vs 2: average = (0.174 + 0.766) / 2 = 0.470; complete = min = 0.174.
  t.same(clusterEmbeddings(points, { threshold: 0.45, linkage: 'average' }), [0, 0, 0]);
  t.same(clusterEmbeddings(points, { threshold: 0.45, linkage: 'complete' }), [0, 0, 1]);
  t.same(clusterEmbeddings(points, { threshold: 0.48, linkage: 'average' }), [0, 0, 1], 'just above the average link');
});

t.test('cosine, not dot: scale of the inputs does not matter', async (t) => {
  const { points, truth } = synthetic(6, 4, 6, 0.05, 32);
  const scaled = points.map((p, i) => p.map((x) => x * (1 + i)));
  t.ok(samePartition(clusterEmbeddings(scaled, { threshold: 0.5, linkage: 'average' }), truth));
});

t.test('bad inputs are typed errors', async (t) => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return isGalleryError(e) ? e.code : 'not a GalleryError';
    }
    return 'no error';
  };
  t.equal(code(() => clusterEmbeddings([Float32Array.of(1, 0), Float32Array.of(1, 0, 0)], { threshold: 0.5, linkage: 'average' })), 'GALLERY_DIM_MISMATCH');
  t.equal(code(() => clusterEmbeddings([Float32Array.of(0, 0)], { threshold: 0.5, linkage: 'average' })), 'GALLERY_INVALID_EMBEDDING');
  t.equal(code(() => clusterEmbeddings([Float32Array.of(1, 0)], { threshold: 2, linkage: 'average' })), 'GALLERY_BAD_ARGUMENT');
  t.equal(code(() => clusterEmbeddings([Float32Array.of(1, 0)], { threshold: 0.5, linkage: 'single' as 'average' })), 'GALLERY_BAD_ARGUMENT');
  t.equal(code(() => stableUnknownId(Float32Array.of(Number.NaN), [], 0.5)), 'GALLERY_INVALID_EMBEDDING');
});

t.test('stableUnknownId: a recurring stranger keeps one id; a new face gets the next id', async (t) => {
  const rand = mulberry32(8);
  const a = randomUnit(128, rand);
  const b = randomUnit(128, rand);
  const existing = [
    { id: 'unk_3', centroid: a },
    { id: 'unk_7', centroid: b },
  ];
  const again = stableUnknownId(near(a, 0.05, rand), existing, 0.5);
  t.equal(again.id, 'unk_3');
  t.equal(again.isNew, false);
  t.ok(again.score > 0.8);
  const stranger = stableUnknownId(randomUnit(128, rand), existing, 0.5);
  t.equal(stranger.id, 'unk_8', 'next after the largest n');
  t.equal(stranger.isNew, true);
  t.ok(stranger.score < 0.5);
  t.equal(stableUnknownId(a, existing, 0.5, 'unk_42').id, 'unk_3', 'newId only applies to new unknowns');
  t.equal(stableUnknownId(randomUnit(128, rand), existing, 0.5, 'unk_42').id, 'unk_42');
  t.same(stableUnknownId(a, [], 0.5), { id: 'unk_1', isNew: true, score: Number.NEGATIVE_INFINITY });
  t.equal(nextUnknownId(['unk_2', 'x_99', 'unk_10']), 'unk_11');
});

t.test('updateCentroid moves towards new sightings, weighted by count (capped)', async (t) => {
  const c = updateCentroid(Float32Array.of(1, 0), 1, Float32Array.of(0, 1));
  t.ok(Math.abs(c[0] - Math.SQRT1_2) < 1e-6 && Math.abs(c[1] - Math.SQRT1_2) < 1e-6, 'equal weights: halfway (45 degrees)');
  const heavy = updateCentroid(Float32Array.of(1, 0), 3, Float32Array.of(0, 1));
  t.ok(Math.abs(heavy[1] / heavy[0] - 1 / 3) < 1e-6, 'count 3: 3:1 mix');
  const capped = updateCentroid(Float32Array.of(1, 0), 1000, Float32Array.of(0, 1), 50);
  t.ok(Math.abs(capped[1] / capped[0] - 1 / 50) < 1e-6, 'weight capped at 50');
  t.ok(Math.abs(dot(capped, capped) - 1) < 1e-6, 'unit length');
});
