/**
 * Verification and identification metrics over similarity scores. Pure: scores in, numbers out.
 */

export interface TarAtFar {
  /** The FAR asked for. */
  readonly far: number;
  /** The FAR actually reachable and used: no lower than 1 / impostor count. */
  readonly farUsed: number;
  readonly threshold: number;
  readonly tar: number;
}

/**
 * Threshold that lets through at most `far` of the impostor scores (strictly greater than the
 * threshold counts as accepted), and the share of genuine scores it accepts. When the pair count
 * cannot resolve `far`, the lowest resolvable FAR (1 / impostors) is used and reported.
 */
export function tarAtFar(genuine: readonly number[], impostor: readonly number[], far: number): TarAtFar {
  if (impostor.length === 0 || genuine.length === 0) throw new RangeError('tarAtFar needs genuine and impostor scores');
  const imp = [...impostor].sort((a, b) => b - a);
  const farUsed = Math.max(far, 1 / imp.length);
  const allowed = Math.floor(farUsed * imp.length + 1e-9);
  // Accept scores strictly above the (allowed+1)-th highest impostor score.
  const threshold = imp[Math.min(allowed, imp.length - 1)];
  const tar = genuine.filter((g) => g > threshold).length / genuine.length;
  return { far, farUsed, threshold, tar };
}

/** Equal error rate: where false rejects and false accepts cross, by a sweep over every score. */
export function equalErrorRate(genuine: readonly number[], impostor: readonly number[]): { eer: number; threshold: number } {
  const thresholds = [...new Set([...genuine, ...impostor])].sort((a, b) => a - b);
  let best = { eer: 1, threshold: 0, gap: Infinity };
  for (const t of thresholds) {
    const frr = genuine.filter((g) => g < t).length / genuine.length;
    const far = impostor.filter((i) => i >= t).length / impostor.length;
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { eer: (frr + far) / 2, threshold: t, gap };
  }
  return { eer: best.eer, threshold: best.threshold };
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
