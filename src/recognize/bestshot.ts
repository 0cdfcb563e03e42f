/**
 * Best-shot selection per track, pure. A door terminal needs one decision per person, not per
 * frame: embed a track's first good frame, then only frames whose quality clearly beats the best
 * embedded so far, at most `maxRuns` times, and decide on the quality-weighted mean embedding.
 */
import { addLivenessScore } from './liveness-track.ts';

export interface BestShotOptions {
  /** Frames below this quality are never embedded. */
  readonly minQuality: number;
  /** A new run needs quality >= best embedded quality x (1 + improvement). */
  readonly improvement: number;
  /** Embedder runs per track at most. */
  readonly maxRuns: number;
  /**
   * Runs a track gets even without a quality gain (frames at least `minGapFrames` apart and within
   * 80% of the best quality): gates confirm an identity on N of the last M recognitions, which
   * needs several independent looks, and a face that reaches full quality at once would get one.
   */
  readonly confirmRuns?: number;
  readonly minGapFrames?: number;
}

export const DEFAULT_BEST_SHOT: BestShotOptions = { minQuality: 0.15, improvement: 0.2, maxRuns: 4, confirmRuns: 3, minGapFrames: 3 };

export interface TrackRecognitionState {
  readonly runs: number;
  readonly bestQuality: number;
  /** Sum of quality-weighted embeddings (not normalised). */
  readonly sum: Float32Array | undefined;
  readonly weight: number;
  /** Mask probabilities of the embedded frames (the recognizer reads the mask only there), for smoothing. */
  readonly maskSum: number;
  readonly maskFrames: number;
  /** Presentation-attack scores of the track's last frames (liveness-track.ts: window, median). */
  readonly liveness: readonly number[];
  /** Frames that passed the quality gate and were looked at (aligned + quality). */
  readonly framesSeen: number;
  /** Looked-at frames since the last embedder run. */
  readonly framesSinceRun: number;
}

export const EMPTY_TRACK_STATE: TrackRecognitionState = { runs: 0, bestQuality: 0, sum: undefined, weight: 0, maskSum: 0, maskFrames: 0, liveness: [], framesSeen: 0, framesSinceRun: 0 };

export function shouldEmbed(state: TrackRecognitionState, quality: number, opts: BestShotOptions = DEFAULT_BEST_SHOT): boolean {
  if (!(quality >= opts.minQuality) || state.runs >= opts.maxRuns) return false;
  if (state.runs === 0 || quality >= state.bestQuality * (1 + opts.improvement)) return true;
  return state.runs < (opts.confirmRuns ?? 0) && state.framesSinceRun >= (opts.minGapFrames ?? 1) && quality >= 0.8 * state.bestQuality;
}

/**
 * Whether a track has what a gate's decision rests on: its confirming looks (`confirmRuns`
 * embedder runs, at least one) and, with liveness models, a known liveness. Until then every frame
 * of it is worth detecting; after it, a detection gate may detect it less often (its interval):
 * a better shot may still come, but the decision no longer waits for it.
 */
export function recognitionSettled(state: TrackRecognitionState, livenessKnown: boolean | undefined, opts: BestShotOptions = DEFAULT_BEST_SHOT): boolean {
  return state.runs >= confirmingLooks(opts) && livenessKnown !== false;
}

/** Embedder runs a track's decision rests on: `confirmRuns` within the budget, at least one. */
export const confirmingLooks = (opts: BestShotOptions): number => Math.max(1, Math.min(opts.confirmRuns ?? 1, opts.maxRuns));

/** Fold one embedding (weighted by its frame's quality) into the track. */
export function addEmbedding(state: TrackRecognitionState, embedding: Float32Array, quality: number): TrackRecognitionState {
  const w = Math.max(quality, 1e-3);
  const sum = state.sum ? new Float32Array(state.sum) : new Float32Array(embedding.length);
  if (sum.length !== embedding.length) throw new RangeError(`embedding dim changed within a track (${sum.length} -> ${embedding.length})`);
  for (let i = 0; i < sum.length; i++) sum[i] += embedding[i] * w;
  return { ...state, runs: state.runs + 1, bestQuality: Math.max(state.bestQuality, quality), sum, weight: state.weight + w, framesSinceRun: 0 };
}

export function addMaskObservation(state: TrackRecognitionState, maskProbability: number): TrackRecognitionState {
  return { ...state, maskSum: state.maskSum + maskProbability, maskFrames: state.maskFrames + 1 };
}

export function addLivenessObservation(state: TrackRecognitionState, realProbability: number, window: number): TrackRecognitionState {
  return { ...state, liveness: addLivenessScore(state.liveness, realProbability, window) };
}

/** The track's identity vector: quality-weighted mean of its embeddings, L2-normalised. */
export function trackEmbedding(state: TrackRecognitionState): Float32Array | undefined {
  if (!state.sum) return undefined;
  let n = 0;
  for (let i = 0; i < state.sum.length; i++) n += state.sum[i] * state.sum[i];
  n = Math.sqrt(n);
  if (!(n > 0)) return undefined;
  return state.sum.map((v) => v / n);
}

export const smoothedMask = (s: TrackRecognitionState): number | undefined => (s.maskFrames ? s.maskSum / s.maskFrames : undefined);

export interface MatchDecisionInput {
  readonly bestScore: number | undefined;
  readonly masked: boolean;
  readonly thresholds: { readonly unmasked: number; readonly masked: number };
}

/** Recognised when the best gallery score clears the threshold of the probe's mask state. */
export function isMatch(d: MatchDecisionInput): boolean {
  if (d.bestScore === undefined) return false;
  return d.bestScore >= (d.masked ? d.thresholds.masked : d.thresholds.unmasked);
}
