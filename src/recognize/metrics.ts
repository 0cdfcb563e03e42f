/**
 * Verification and identification metrics over similarity scores. Pure: scores in, numbers out.
 *
 * Scale: an all-pairs evaluation of 5,000 photos is 12.5 M scores. They live in typed arrays
 * (`ScoreBuffer`, 4 bytes a score), are sorted once, and every metric below is a binary search or
 * one merged sweep over the sorted arrays: O(n log n) overall instead of a filter per threshold.
 */

/** Ascending-sorted scores. Float64Array where exact decimal inputs matter (tests), Float32Array at scale. */
export type SortedScores = Float32Array | Float64Array;

export interface TarAtFar {
  /** The FAR asked for. */
  readonly far: number;
  /** The FAR actually reachable and used: no lower than 1 / impostor count. */
  readonly farUsed: number;
  readonly threshold: number;
  readonly tar: number;
}

/** A growable Float32Array: push scores one by one without a JS number array behind them. */
export class ScoreBuffer {
  private data: Float32Array;
  private n = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Float32Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.n;
  }

  push(v: number): void {
    if (this.n === this.data.length) {
      const next = new Float32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = v;
  }

  /** A sorted (ascending) copy of the scores. */
  sorted(): Float32Array {
    return this.data.slice(0, this.n).sort();
  }

  values(): Float32Array {
    return this.data.subarray(0, this.n);
  }
}

/** Ascending copy of plain numbers, in double precision (keeps 0.35 exactly 0.35). */
export function sortScores(values: readonly number[] | Float32Array | Float64Array): Float64Array {
  return Float64Array.from(values).sort();
}

/** Index of the first element >= v (ascending array). */
export function lowerBound(a: SortedScores, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > v (ascending array). */
export function upperBound(a: SortedScores, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Share of sorted scores strictly above t: the acceptance rule of every threshold in facegate. */
export function rateAbove(sorted: SortedScores, t: number): number {
  return sorted.length ? (sorted.length - upperBound(sorted, t)) / sorted.length : NaN;
}

/** TAR@FAR on ascending-sorted scores; see `tarAtFar`. */
export function tarAtFarSorted(genuine: SortedScores, impostor: SortedScores, far: number): TarAtFar {
  if (impostor.length === 0 || genuine.length === 0) throw new RangeError('tarAtFar needs genuine and impostor scores');
  const farUsed = Math.max(far, 1 / impostor.length);
  const allowed = Math.floor(farUsed * impostor.length + 1e-9);
  // Accept scores strictly above the (allowed+1)-th highest impostor score.
  const threshold = impostor[impostor.length - 1 - Math.min(allowed, impostor.length - 1)];
  return { far, farUsed, threshold, tar: rateAbove(genuine, threshold) };
}

/**
 * Threshold that lets through at most `far` of the impostor scores (strictly greater than the
 * threshold counts as accepted), and the share of genuine scores it accepts. When the pair count
 * cannot resolve `far`, the lowest resolvable FAR (1 / impostors) is used and reported.
 */
export function tarAtFar(genuine: readonly number[], impostor: readonly number[], far: number): TarAtFar {
  return tarAtFarSorted(sortScores(genuine), sortScores(impostor), far);
}

/**
 * Equal error rate on ascending-sorted scores: one merged sweep over every distinct score t, with
 * FRR(t) = genuine < t and FAR(t) = impostor >= t; the first t where they are closest wins.
 */
export function equalErrorRateSorted(genuine: SortedScores, impostor: SortedScores): { eer: number; threshold: number } {
  const n = genuine.length;
  const m = impostor.length;
  let best = { eer: 1, threshold: 0, gap: Infinity };
  let i = 0; // genuine scores < t
  let j = 0; // impostor scores < t
  while (i < n || j < m) {
    const t = j >= m || (i < n && genuine[i] <= impostor[j]) ? genuine[i] : impostor[j];
    const frr = i / n;
    const far = (m - j) / m;
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { eer: (frr + far) / 2, threshold: t, gap };
    while (i < n && genuine[i] === t) i++;
    while (j < m && impostor[j] === t) j++;
  }
  return { eer: best.eer, threshold: best.threshold };
}

/** Equal error rate: where false rejects and false accepts cross, by a sweep over every score. */
export function equalErrorRate(genuine: readonly number[], impostor: readonly number[]): { eer: number; threshold: number } {
  return equalErrorRateSorted(sortScores(genuine), sortScores(impostor));
}

/** Quantile of ascending-sorted scores (nearest rank below, like the original gauge). */
export function quantileSorted(sorted: SortedScores, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

export function medianSorted(s: SortedScores): number {
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface RocPoint {
  readonly far: number;
  readonly tar: number;
  readonly threshold: number;
}

/**
 * ROC points at FARs spaced evenly on a log scale from 1 / impostors to 1 (what a log-FAR plot
 * needs), each a binary search: `points` of them whatever the score count.
 */
export function rocCurve(genuine: SortedScores, impostor: SortedScores, points = 200): RocPoint[] {
  if (!genuine.length || !impostor.length) return [];
  const lo = Math.log10(1 / impostor.length);
  const out: RocPoint[] = [];
  for (let k = 0; k < points; k++) {
    const far = 10 ** (lo + ((0 - lo) * k) / (points - 1));
    const r = tarAtFarSorted(genuine, impostor, far);
    out.push({ far: r.farUsed, tar: r.tar, threshold: r.threshold });
  }
  return out;
}

/** Share of probes whose best-scoring gallery identity is their own. */
export function rank1(probes: readonly { truth: string; scores: ReadonlyMap<string, number> }[]): number {
  if (probes.length === 0) return NaN;
  let hits = 0;
  for (const p of probes) {
    let bestId = '';
    let best = -Infinity;
    for (const [id, s] of p.scores) {
      if (s > best) {
        best = s;
        bestId = id;
      }
    }
    if (bestId === p.truth) hits++;
  }
  return hits / probes.length;
}
