import { GalleryError } from './errors.ts';
import { dot, embeddingProblem, l2normalize } from '../lib/vectors.ts';

/** Pure clustering of unknown faces: agglomerative clustering and stable unknown ids. */

export type Linkage = 'average' | 'complete';

export interface ClusterOptions {
  /** Merge while the best pair of clusters has linkage cosine similarity >= threshold. */
  readonly threshold: number;
  readonly linkage: Linkage;
}

/** Inputs above this need an n x n similarity matrix too large for an edge box (64 MiB at 4096). */
export const MAX_CLUSTER_INPUTS = 4096;

function checkedUnitVectors(embeddings: readonly Float32Array[], what: string): Float32Array[] {
  const dim = embeddings[0]?.length ?? 0;
  return embeddings.map((e, i) => {
    if (!(e instanceof Float32Array)) throw new GalleryError('GALLERY_INVALID_EMBEDDING', `${what} ${i} is not a Float32Array`);
    if (e.length !== dim) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `${what} ${i} has ${e.length} dimensions, ${what} 0 has ${dim}`, { context: { index: i }, hint: 'cluster embeddings of one model at a time' });
    }
    const problem = embeddingProblem(e);
    if (problem) throw new GalleryError('GALLERY_INVALID_EMBEDDING', `${what} ${i} is not a usable embedding: ${problem}`, { context: { index: i } });
    return l2normalize(e);
  });
}

/**
 * Agglomerative clustering on cosine similarity. Starts with one cluster per input and merges the
 * most similar pair (by the linkage: average = mean pairwise similarity, complete = the least
 * similar pair) while that similarity is >= threshold. Returns a label per input: 0 for the
 * cluster of input 0, then numbered in order of each cluster's first input. Deterministic: ties
 * merge the pair with the lowest indices first.
 *
 * Each cluster caches its most similar partner, so a step costs O(n) plus O(n) per cluster whose
 * cached partner was one of the merged two: O(n^2) memory, about O(n^2) time in practice.
 */
export function clusterEmbeddings(embeddings: readonly Float32Array[], opts: ClusterOptions): number[] {
  const n = embeddings.length;
  if (!Number.isFinite(opts.threshold) || opts.threshold < -1 || opts.threshold > 1) {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `cluster threshold must be a cosine similarity in [-1, 1], got ${opts.threshold}`);
  }
  if (opts.linkage !== 'average' && opts.linkage !== 'complete') {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `linkage must be "average" or "complete", got "${String(opts.linkage)}"`);
  }
  if (n > MAX_CLUSTER_INPUTS) {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `too many embeddings to cluster at once: ${n} (at most ${MAX_CLUSTER_INPUTS})`, { hint: 'cluster a recent window or per camera' });
  }
  if (n === 0) return [];
  const unit = checkedUnitVectors(embeddings, 'embedding');
  const dim = unit[0].length;

  const sim = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = dot(unit[i], unit[j], dim);
      sim[i * n + j] = s;
      sim[j * n + i] = s;
    }
  }
  const size = new Int32Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const owner = Int32Array.from({ length: n }, (_, i) => i);
  const members: number[][] = Array.from({ length: n }, (_, i) => [i]);
  const best = new Float64Array(n);
  const bestJ = new Int32Array(n);

  const refreshBest = (i: number): void => {
    let b = Number.NEGATIVE_INFINITY;
    let bj = -1;
    const row = i * n;
    for (let j = 0; j < n; j++) {
      if (j === i || active[j] === 0) continue;
      if (sim[row + j] > b) {
        b = sim[row + j];
        bj = j;
      }
    }
    best[i] = b;
    bestJ[i] = bj;
  };
  for (let i = 0; i < n; i++) refreshBest(i);

  for (;;) {
    let i = -1;
    for (let c = 0; c < n; c++) if (active[c] === 1 && bestJ[c] >= 0 && (i < 0 || best[c] > best[i])) i = c;
    if (i < 0 || best[i] < opts.threshold) break;
    const a = Math.min(i, bestJ[i]);
    const b = Math.max(i, bestJ[i]);
    for (let c = 0; c < n; c++) {
      if (active[c] === 0 || c === a || c === b) continue;
      const sa = sim[a * n + c];
      const sb = sim[b * n + c];
      const merged = opts.linkage === 'average' ? (size[a] * sa + size[b] * sb) / (size[a] + size[b]) : Math.min(sa, sb);
      sim[a * n + c] = merged;
      sim[c * n + a] = merged;
    }
    size[a] += size[b];
    active[b] = 0;
    for (const m of members[b]) owner[m] = a;
    members[a].push(...members[b]);
    members[b] = [];
    refreshBest(a);
    for (let c = 0; c < n; c++) {
      if (active[c] === 0 || c === a) continue;
      if (bestJ[c] === a || bestJ[c] === b) refreshBest(c);
      else if (sim[c * n + a] > best[c] || (sim[c * n + a] === best[c] && a < bestJ[c])) {
        best[c] = sim[c * n + a];
        bestJ[c] = a;
      }
    }
  }

  const labelOf = new Map<number, number>();
  return Array.from(owner, (o) => {
    let label = labelOf.get(o);
    if (label === undefined) {
      label = labelOf.size;
      labelOf.set(o, label);
    }
    return label;
  });
}

export interface UnknownCentroid {
  readonly id: string;
  /** Unit-length mean of the unknown's sightings. */
  readonly centroid: Float32Array;
}

export interface UnknownMatch {
  readonly id: string;
  /** True when no existing centroid matched and `id` is a new one. */
  readonly isNew: boolean;
  /** Cosine similarity to the best existing centroid (-Infinity when there was none). */
  readonly score: number;
}

/** The next `unk_<n>` after the largest n among the given ids. */
export function nextUnknownId(existingIds: Iterable<string>): string {
  let max = 0;
  for (const id of existingIds) {
    const m = /^unk_(\d+)$/.exec(id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `unk_${max + 1}`;
}

/**
 * The id a sighting of an unrecognised face should carry: the most similar existing unknown when
 * its centroid is at least `threshold` cosine-similar (first listed wins ties), otherwise a new id
 * (`newId`, or the next `unk_<n>` after the existing ones). A stranger who keeps coming back keeps
 * one id.
 */
export function stableUnknownId(embedding: Float32Array, existing: readonly UnknownCentroid[], threshold: number, newId?: string): UnknownMatch {
  const problem = embeddingProblem(embedding);
  if (problem) throw new GalleryError('GALLERY_INVALID_EMBEDDING', `the unknown's embedding is not usable: ${problem}`);
  if (!Number.isFinite(threshold) || threshold < -1 || threshold > 1) {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `unknown threshold must be a cosine similarity in [-1, 1], got ${threshold}`);
  }
  const probe = l2normalize(embedding);
  let bestScore = Number.NEGATIVE_INFINITY;
  let bestId: string | undefined;
  for (const u of existing) {
    if (u.centroid.length !== probe.length) continue;
    const s = dot(probe, u.centroid);
    if (s > bestScore) {
      bestScore = s;
      bestId = u.id;
    }
  }
  if (bestId !== undefined && bestScore >= threshold) return { id: bestId, isNew: false, score: bestScore };
  return { id: newId ?? nextUnknownId(existing.map((u) => u.id)), isNew: true, score: bestScore };
}

/**
 * The centroid after one more sighting: the normalised weighted mean, with the old centroid
 * weighing at most `maxWeight` sightings so that a long-lived unknown still follows slow changes
 * (beard, glasses, lighting) instead of freezing.
 */
export function updateCentroid(centroid: Float32Array, count: number, embedding: Float32Array, maxWeight = 50): Float32Array {
  const unit = l2normalize(embedding);
  const w = Math.min(Math.max(count, 0), maxWeight);
  const sum = new Float32Array(centroid.length);
  for (let i = 0; i < sum.length; i++) sum[i] = centroid[i] * w + unit[i];
  return l2normalize(sum);
}
