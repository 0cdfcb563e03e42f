/**
 * Sample statistics with one convention everywhere (stage timings, benches, health): the quantile
 * by linear interpolation between the two nearest ranks, so "p95" means the same in every report.
 */

/** Quantile of a sample by linear interpolation (q in [0, 1]). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);
