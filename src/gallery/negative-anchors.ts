/**
 * 'Not this person' anchors: embeddings of faces that were wrongly matched to an identity. A probe
 * keeps its match to the identity only when it is closer to the identity's templates than to any
 * of its negative anchors by a margin, so the impostor who was matched (and faces like theirs)
 * stop matching while the person's own photos, far closer to their templates, still do.
 */
import { dot } from '../lib/vectors.ts';

/** Default margin: measured on ../shared/data (docs/benchmarks.md, negative anchors). */
export const DEFAULT_NEGATIVE_MARGIN = 0.05;

/** Most anchors kept per identity and model: the oldest go first (each press adds one). */
export const MAX_NEGATIVE_ANCHORS = 64;

export interface NegativeAnchorVerdict {
  /** The probe's best similarity to the identity's anchors (-Infinity without anchors). */
  readonly anchorScore: number;
  /** templateScore - anchorScore. */
  readonly lead: number;
  readonly matches: boolean;
}

/**
 * Whether a probe that scored `templateScore` on an identity's templates (and reached `threshold`)
 * still matches it given its best score `anchorScore` on the identity's negative anchors.
 */
export function negativeAnchorVerdict(templateScore: number, anchorScore: number, threshold: number, margin: number): NegativeAnchorVerdict {
  const lead = templateScore - anchorScore;
  return { anchorScore, lead, matches: templateScore >= threshold && lead >= margin };
}

/** The best similarity of a probe to a set of unit embeddings (-Infinity for none). */
export function bestAnchorScore(probe: Float32Array, anchors: readonly Float32Array[]): number {
  let best = -Infinity;
  for (const a of anchors) {
    if (a.length !== probe.length) continue;
    const s = dot(probe, a);
    if (s > best) best = s;
  }
  return best;
}
