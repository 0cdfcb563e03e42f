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

/** One anchor in memory. */
export interface AnchorEntry {
  readonly id: string;
  readonly modelId: string;
  readonly embedding: Float32Array;
}

/** A probe-scored match, as search returns it. */
interface Scored {
  readonly identityId: string;
  readonly score: number;
}

/** The anchors of every identity in memory (a connection keeps it in step like the search index). */
export class NegativeAnchorPool {
  private byIdentity = new Map<string, AnchorEntry[]>();

  reset(): void {
    this.byIdentity = new Map();
  }

  set(identityId: string, anchors: readonly AnchorEntry[]): void {
    if (anchors.length) this.byIdentity.set(identityId, [...anchors]);
    else this.byIdentity.delete(identityId);
  }

  add(identityId: string, anchor: AnchorEntry): void {
    this.byIdentity.set(identityId, [...(this.byIdentity.get(identityId) ?? []), anchor]);
  }

  drop(identityId: string): void {
    this.byIdentity.delete(identityId);
  }

  /** Identities that carry any anchor. */
  get identities(): number {
    return this.byIdentity.size;
  }

  of(identityId: string, modelId: string): Float32Array[] {
    return (this.byIdentity.get(identityId) ?? []).filter((a) => a.modelId === modelId).map((a) => a.embedding);
  }

  /**
   * Drop the matches whose identity's anchors the probe is about as close to as to its templates
   * (lead below the margin); the rest keep their order. No threshold here: search returns
   * candidates and the caller applies its own.
   */
  filter<M extends Scored>(matches: readonly M[], probe: Float32Array, modelId: string, margin: number): M[] {
    if (this.byIdentity.size === 0) return [...matches];
    return matches.filter((m) => {
      const anchors = this.of(m.identityId, modelId);
      return anchors.length === 0 || m.score - bestAnchorScore(probe, anchors) >= margin;
    });
  }
}
