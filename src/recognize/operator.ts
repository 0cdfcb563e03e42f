import { defer, filter, finalize, from, mergeMap, tap, type OperatorFunction } from 'rxjs';
import { releaseFrame } from '../lib/frame-lease.ts';
import { latestWins } from '../lib/latest-wins.ts';
import type { FrameTrackStep, TrackOutput, TrackView } from '../track/index.ts';
import type { Box, Frame } from '../types.ts';
import { alignFace } from './align.ts';
import { addEmbedding, addLivenessObservation, addMaskObservation, DEFAULT_BEST_SHOT, EMPTY_TRACK_STATE, isMatch, recognitionSettled, shouldEmbed, smoothedMask, trackEmbedding, type BestShotOptions, type TrackRecognitionState } from './bestshot.ts';
import { livenessBecameKnown, trackLiveness, wantsLiveness, type LivenessRule } from './liveness-track.ts';
import type { Embedder, LivenessModel, MaskClassifier } from './models.ts';
import { faceQuality } from './quality.ts';

/** What recognition needs of a gallery: per-identity best matches, routed by mask state. */
export interface GallerySearch {
  search(probe: Float32Array, opts: { modelId: string; k?: number; masked?: 'plain' | 'plain+masked' }): readonly { identityId: string; name: string; groups?: readonly string[]; score: number; masked: boolean }[];
  /** A stable id for a stranger who recurs (optional). */
  upsertUnknown?(embedding: Float32Array, modelId: string, timeMs: number, threshold: number): { id: string } | string;
}

export interface RecognizeOptions {
  readonly embedder: Embedder;
  readonly mask?: MaskClassifier;
  readonly liveness?: LivenessModel;
  readonly gallery: GallerySearch;
  readonly thresholds: { readonly unmasked: number; readonly masked: number };
  /** Mask probability (smoothed over the track) at and above which the probe is routed as masked. */
  readonly maskThreshold?: number;
  readonly bestShot?: Partial<BestShotOptions>;
  /** Similarity for two unknown sightings to share an unknown id. */
  readonly unknownThreshold?: number;
  readonly onError?: (error: unknown) => void;
  /**
   * Called once per track when its recognition has settled (bestshot.ts `recognitionSettled`):
   * the camera chain's detection gate may then detect it every interval-th frame only.
   */
  readonly onSettled?: (trackId: string) => void;
}

/** What a track's liveness rests on (see liveness-track.ts). */
export interface LivenessEvidence {
  /** The median of the track's last scores; undefined until minFrames are in (a gate requiring liveness waits). */
  readonly score: number | undefined;
  /** Scores the median is taken over. */
  readonly frames: number;
  /** The calibrated threshold of the liveness models (a gate may set its own). */
  readonly threshold: number;
  readonly rule: LivenessRule;
}

/**
 * One recognition decision for a track, after one of its embedder runs, or once more (unchanged,
 * `changed: false`) on the frame where the track's liveness became known.
 */
export interface Recognition {
  readonly type: 'face.recognized' | 'face.unknown';
  readonly cameraId: string;
  readonly trackId: string;
  readonly timeMs: number;
  readonly frameSeq: number;
  readonly identityId: string | undefined;
  readonly name: string | undefined;
  /** The identity's groups as the search returned them (gates need them; no second lookup). */
  readonly groups: readonly string[] | undefined;
  readonly unknownId: string | undefined;
  readonly score: number | undefined;
  readonly masked: boolean;
  readonly maskProbability: number | undefined;
  /** The track's liveness score (= livenessEvidence.score); undefined without liveness models or before minFrames. */
  readonly liveness: number | undefined;
  /** Undefined when no liveness model runs. */
  readonly livenessEvidence: LivenessEvidence | undefined;
  readonly quality: number;
  /** Embedder runs this track has cost so far (the best-shot budget at work). */
  readonly embedderRuns: number;
  /** True when the decision differs from the previous one for this track (new identity / first). */
  readonly changed: boolean;
  readonly box: readonly [number, number, number, number];
  /**
   * The frame it was read from. Its pixels are readable while the recognition is being emitted;
   * whoever reads them later (a snapshot being written) takes a hold first (holdFrame,
   * src/lib/frame-lease.ts): once recognition is done with a frame, its memory may take a later one.
   */
  readonly frame: Frame;
  /**
   * The boxes of the other faces the tracker follows in this frame (matched now: the detection;
   * lost: the predicted box), so a frame snapshot can blur bystanders (events.snapshots.blurOthers).
   */
  readonly others?: readonly Box[];
}

export interface RecognizeStats {
  frames: number;
  /** Frames replaced by a newer one while recognition was busy. */
  dropped: number;
  embedderRuns: number;
  /** Liveness model runs (one per looked-at face and frame until its track settles, then per embedded frame). */
  livenessRuns?: number;
  /** Looked-at frames of settled tracks that liveness did not score (liveness-track.ts wantsLiveness). */
  livenessSkipped?: number;
  facesSeen: number;
  errors: number;
}

/**
 * Best-shot recognition over tracked frames, emitting Recognitions only: track events are read
 * (a track's state ends with it) but not forwarded; the pipeline takes them from the tracker's
 * output itself. Frames are processed latest-wins. Per confirmed, matched track: align on the detection's
 * landmarks, score quality, score liveness on every such frame until the track's recognition has
 * settled and then only on its embedded frames (liveness-track.ts), and only when the best-shot policy says to embed this frame: read the mask
 * attribute, embed, search the gallery with the track's aggregated embedding, routed by the mask
 * attribute smoothed over the embedded frames, and emit a Recognition. When the track's liveness
 * becomes known after its last decision, that decision is emitted once more with the evidence, so
 * a gate waiting for liveness can decide without another embedder run.
 *
 * Every frame's hold (src/lib/frame-lease.ts) ends here: released when the frame has no track to
 * look at, when latest-wins drops it, or once its recognitions have been emitted.
 */
export function recognizeTracks(opts: RecognizeOptions, stats: RecognizeStats = { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 }): OperatorFunction<TrackOutput<Frame>, Recognition> {
  const bestShot: BestShotOptions = { ...DEFAULT_BEST_SHOT, ...opts.bestShot };
  const maskThreshold = opts.maskThreshold ?? 0.5;
  return (source) =>
    defer(() => {
      // Per subscription: a track's recognition state, and its last decision (for `changed`).
      const states = new Map<string, TrackRecognitionState>();
      const lastDecision = new Map<string, string>();
      // The last search outcome per track: re-announced when the track's liveness becomes known.
      type Outcome = Omit<Recognition, 'timeMs' | 'frameSeq' | 'liveness' | 'livenessEvidence' | 'quality' | 'embedderRuns' | 'changed' | 'box' | 'frame' | 'others'>;
      const lastOutcome = new Map<string, Outcome>();
      // Tracks already reported settled (onSettled fires once per track).
      const settled = new Set<string>();
      const isSettled = (state: TrackRecognitionState): boolean =>
        recognitionSettled(state, opts.liveness ? trackLiveness(state.liveness, opts.liveness.track).score !== undefined : undefined, bestShot);
      const noteSettled = (trackId: string, state: TrackRecognitionState): void => {
        if (!opts.onSettled || settled.has(trackId)) return;
        if (!isSettled(state)) return;
        settled.add(trackId);
        opts.onSettled(trackId);
      };
      const evidenceOf = (state: TrackRecognitionState): LivenessEvidence | undefined => {
        if (!opts.liveness) return undefined;
        const l = trackLiveness(state.liveness, opts.liveness.track);
        return { score: l.score, frames: l.frames, threshold: opts.liveness.threshold.value, rule: l.rule };
      };

      const processTrack = async (frame: Frame, track: TrackView, all: readonly TrackView[]): Promise<Recognition | undefined> => {
        const others = all.filter((o) => o.trackId !== track.trackId).map((o) => (o.lostFrames === 0 ? o.face.box : o.box));
        const { crop } = alignFace(frame, track.face.landmarks);
        const quality = faceQuality(track.face, crop).value;
        let state = states.get(track.trackId) ?? EMPTY_TRACK_STATE;
        if (quality < bestShot.minQuality) return undefined;
        stats.facesSeen++;
        state = { ...state, framesSeen: state.framesSeen + 1, framesSinceRun: state.framesSinceRun + 1 };
        // Whether this frame is a best shot does not depend on its liveness score: decided first,
        // so liveness can skip the frames of a settled track that no decision will read.
        const embedNow = shouldEmbed(state, quality, bestShot);
        // Liveness on every looked-at frame of the track (not only embedded ones) while it matters.
        let becameKnown = false;
        if (opts.liveness && wantsLiveness(isSettled(state), embedNow)) {
          const before = state.liveness;
          state = addLivenessObservation(state, await opts.liveness.realProbability(frame, track.face.box), opts.liveness.track.window);
          stats.livenessRuns = (stats.livenessRuns ?? 0) + 1;
          becameKnown = livenessBecameKnown(before, state.liveness, opts.liveness.track);
        } else if (opts.liveness) {
          stats.livenessSkipped = (stats.livenessSkipped ?? 0) + 1;
        }
        if (!embedNow) {
          states.set(track.trackId, state);
          noteSettled(track.trackId, state);
          const outcome = lastOutcome.get(track.trackId);
          if (!becameKnown || !outcome) return undefined;
          const evidence = evidenceOf(state);
          return { ...outcome, timeMs: frame.capturedAt, frameSeq: frame.seq, liveness: evidence?.score, livenessEvidence: evidence, quality, embedderRuns: state.runs, changed: false, box: track.face.box, frame, others };
        }
        // The mask attribute is read only where a decision follows: on the frames that are
        // embedded. Its only consumers are this track's Recognitions (the gallery route, the
        // threshold, and through them gates' maskPolicy / minScoreMasked and the events), all made
        // right below; it is averaged over the track's embedded frames (its best shots).
        // Measured: 0.68 -> ~0.1 mask runs per processed frame on the door clip.
        if (opts.mask) state = addMaskObservation(state, await opts.mask.maskProbability(crop));
        const embedding = await opts.embedder.embed(crop);
        stats.embedderRuns++;
        state = addEmbedding(state, embedding, quality);
        states.set(track.trackId, state);
        noteSettled(track.trackId, state);
        const probe = trackEmbedding(state) as Float32Array;
        const maskP = smoothedMask(state);
        const masked = maskP !== undefined && maskP >= maskThreshold;
        const [best] = opts.gallery.search(probe, { modelId: opts.embedder.modelId, k: 1, masked: masked ? 'plain+masked' : 'plain' });
        const matched = best !== undefined && isMatch({ bestScore: best.score, masked, thresholds: opts.thresholds });
        let unknownId: string | undefined;
        if (!matched && opts.gallery.upsertUnknown) {
          const u = opts.gallery.upsertUnknown(probe, opts.embedder.modelId, frame.capturedAt, opts.unknownThreshold ?? opts.thresholds.unmasked);
          unknownId = typeof u === 'string' ? u : u.id;
        }
        const decision = matched ? `id:${best.identityId}` : `unknown:${unknownId ?? ''}`;
        const changed = lastDecision.get(track.trackId) !== decision;
        lastDecision.set(track.trackId, decision);
        const outcome: Outcome = {
          type: matched ? 'face.recognized' : 'face.unknown',
          cameraId: frame.cameraId,
          trackId: track.trackId,
          identityId: matched ? best.identityId : undefined,
          name: matched ? best.name : undefined,
          groups: matched ? best.groups : undefined,
          unknownId,
          score: best?.score,
          masked,
          maskProbability: maskP,
        };
        lastOutcome.set(track.trackId, outcome);
        const evidence = evidenceOf(state);
        return { ...outcome, timeMs: frame.capturedAt, frameSeq: frame.seq, liveness: evidence?.score, livenessEvidence: evidence, quality, embedderRuns: state.runs, changed, box: track.face.box, frame, others };
      };

      /** One tracked frame: every live track in turn; a failed track is counted and skipped. */
      const processStep = async (step: FrameTrackStep<Frame>): Promise<Recognition[]> => {
        stats.frames++;
        const out: Recognition[] = [];
        for (const track of step.update.tracks) {
          if (track.lostFrames !== 0) continue;
          try {
            const r = await processTrack(step.frame, track, step.update.tracks);
            if (r) out.push(r);
          } catch (e) {
            stats.errors++;
            opts.onError?.(e);
          }
        }
        return out;
      };

      return source.pipe(
        // A track's state ends with it, as soon as the tracker says so (even while a step runs).
        tap((out) => {
          for (const event of out.events) {
            if (event.type !== 'track.ended') continue;
            states.delete(event.trackId);
            lastDecision.delete(event.trackId);
            lastOutcome.delete(event.trackId);
            settled.delete(event.trackId);
          }
        }),
        filter((out): out is FrameTrackStep<Frame> => {
          if (out.kind !== 'frame') return false;
          if (out.update.tracks.length > 0) return true;
          releaseFrame(out.frame);
          return false;
        }),
        latestWins(async (step: FrameTrackStep<Frame>) => ({ frame: step.frame, recognitions: await processStep(step) }), {
          onDrop: (step) => {
            stats.dropped++;
            releaseFrame(step.frame);
          },
        }),
        // Emitted one by one (synchronously), then the frame is released: whoever reads its
        // pixels later took a hold of its own while it was emitted.
        mergeMap(({ frame, recognitions }) => from(recognitions).pipe(finalize(() => releaseFrame(frame)))),
      );
    });
}
