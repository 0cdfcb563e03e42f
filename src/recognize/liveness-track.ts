/**
 * A track's liveness, pure. A door camera sees a person for seconds: every frame the recognizer
 * looks at (not only the few it embeds) gets a presentation-attack score, the track keeps the last
 * `window` of them, and its liveness is their median once `minFrames` are in. The median over the
 * whole track was measured the most robust rule (docs/liveness.md): one bad frame cannot decide,
 * and it does not depend on which frames best shot happened to embed.
 */
import { median } from '../lib/stats.ts';

/** How the per-frame scores become the track's liveness (the only rule the pipeline uses). */
export const LIVENESS_RULE = 'median' as const;
export type LivenessRule = typeof LIVENESS_RULE;

export interface LivenessTrackOptions {
  /** Scores kept per track (the last N): the median's basis, and a bound on memory. */
  readonly window: number;
  /**
   * Scores needed before the track's liveness is known. Until then a gate that requires liveness
   * waits (no decision) instead of deciding on one or two frames.
   */
  readonly minFrames: number;
}

export const DEFAULT_LIVENESS_TRACK: LivenessTrackOptions = { window: 30, minFrames: 5 };

/** What decided a track's liveness: the median score (undefined until minFrames), its basis and rule. */
export interface TrackLiveness {
  readonly score: number | undefined;
  /** Scores the median is taken over (at most `window`). */
  readonly frames: number;
  readonly rule: LivenessRule;
}

/** The sample with one more score, the oldest dropped beyond `window`. A non-finite score is not evidence: ignored. */
export function addLivenessScore(scores: readonly number[], score: number, window: number): readonly number[] {
  if (!Number.isFinite(score)) return scores;
  const keep = Math.max(1, Math.floor(window));
  const next = [...scores, score];
  return next.length > keep ? next.slice(next.length - keep) : next;
}

export function trackLiveness(scores: readonly number[], opts: LivenessTrackOptions = DEFAULT_LIVENESS_TRACK): TrackLiveness {
  const frames = scores.length;
  return { score: frames > 0 && frames >= opts.minFrames ? median(scores) : undefined, frames, rule: LIVENESS_RULE };
}

/** True on the frame whose score made the track's liveness known (a recognizer re-announces its decision then). */
export function livenessBecameKnown(before: readonly number[], after: readonly number[], opts: LivenessTrackOptions = DEFAULT_LIVENESS_TRACK): boolean {
  return trackLiveness(before, opts).score === undefined && trackLiveness(after, opts).score !== undefined;
}

/**
 * Whether to score this frame. Liveness costs two model runs per face and frame, so it runs only
 * where it can change a decision. Until the track's recognition has settled (its confirming looks
 * in and its liveness known: bestshot.ts recognitionSettled) every looked-at frame is scored: a
 * gate decides on those scores. After it, a gate acts on the track again only for another vote,
 * and only an embedder run can bring one: that frame is scored too, so the recognition it emits
 * carries fresh evidence. The frames in between would change nothing anyone decides on.
 */
export function wantsLiveness(settled: boolean, embedsThisFrame: boolean): boolean {
  return !settled || embedsThisFrame;
}
