/**
 * One camera's chain: camera frames -> faces -> tracks -> identities, as PipelineItems. Its health
 * (values on the camera's own stream) and the failures of its stages (a model run that threw; the
 * chain goes on) join the output as items, each naming its camera and stage. streams/ merges the
 * chains of every camera and adds the gate stage and publishing.
 */
import { Subject, defer, merge, type Observable, type OperatorFunction } from 'rxjs';
import { connect, filter, finalize, map, mergeMap, tap } from 'rxjs/operators';
import { deepEqual } from '../config/index.ts';
import { releaseFrame } from '../lib/frame-lease.ts';
import { detectFaces, type Detector, type DetectStats, type FrameFaces } from '../detect/index.ts';
import type { Gallery } from '../gallery/index.ts';
import { cameraFrames, isFrameOutput, isHealthOutput, type CameraConfig, type CameraHealth, type CameraOutput, type CameraStats } from '../ingest/index.ts';
import type { Logger } from '../log.ts';
import { DetectionGate, observeMotion, reportTracks, UNGATED, type DetectionGateSettings } from '../motion/index.ts';
import { recognizeTracks, type Embedder, type LivenessModel, type MaskClassifier, type Recognition, type RecognizeStats } from '../recognize/index.ts';
import { trackFaces, type TrackFacesOptions, type TrackOutput } from '../track/index.ts';
import type { Frame } from '../types.ts';
import { cameraItem, recognitionItem, stageErrorItem, trackItem, type PipelineItem, type PipelineStage } from './items.ts';

/**
 * A camera's ingest settings plus which frames its detector runs on (`gate`: motion gate and
 * detection interval; absent: every frame, as config's `ingestCameraConfig` always sets it).
 */
export type ChainCameraConfig = CameraConfig & { readonly gate?: DetectionGateSettings | undefined };

/** A camera as the stream runs it: its ingest settings and the detector session it uses. */
export interface CameraSlot {
  readonly camera: ChainCameraConfig;
  /** The camera's detector (callers share one session per tier x size). */
  readonly detector: Detector;
}

export interface SharedModels {
  readonly embedder: Embedder;
  readonly mask?: MaskClassifier | undefined;
  readonly liveness?: LivenessModel | undefined;
}

export interface RecognitionSettings {
  readonly thresholds: { readonly unmasked: number; readonly masked: number };
  readonly maskThreshold: number;
  readonly bestShot: { readonly minQuality?: number; readonly improvement?: number; readonly maxRuns?: number; readonly confirmRuns?: number; readonly minGapFrames?: number };
  readonly unknownThreshold: number;
}

/** Two versions of a camera that would run the same pipeline: the same settings and detector session. */
export const sameCamera = (a: CameraSlot, b: CameraSlot): boolean => a.detector === b.detector && deepEqual(a.camera, b.camera);

/** A running camera's counters: the stages count into them, /metrics and the API read them. */
export interface CameraCounters {
  readonly detect: DetectStats;
  readonly recognize: RecognizeStats;
  health: CameraHealth | undefined;
  /** The ingest counters (frames GStreamer dropped or never delivered), once the camera opened. */
  ingest: (() => CameraStats) | undefined;
  /** The detection gate (decisions by reason, motion cost), once the chain started. */
  gate?: DetectionGate | undefined;
}

/**
 * The tracker's events, passed on as they arrive, alongside what `recognize` makes of the same
 * tracked frames (recognition is latest-wins and slower: track events must never wait or drop).
 */
export function withTrackEvents(recognize: OperatorFunction<TrackOutput<Frame>, Recognition>): OperatorFunction<TrackOutput<Frame>, PipelineItem> {
  return connect((tracked) =>
    merge(
      tracked.pipe(mergeMap((out) => out.events.map(trackItem))),
      // Recognition reads real detections only: predict-only steps (no detector run) carry none,
      // and their frames go no further.
      tracked.pipe(
        filter((out) => {
          if (out.kind !== 'frame' || !out.update.predicted) return true;
          releaseFrame(out.frame);
          return false;
        }),
        recognize,
        map(recognitionItem),
      ),
    ),
  );
}

/**
 * camera -> [motion gate] -> detect -> track -> recognize: one camera's chain. The gate (camera.gate)
 * decides per frame whether the detector runs; frames it skips go to the tracker as predict-only
 * steps and never to recognition. Its health (values on the camera's
 * own stream) and the failures of its stages (a model run that threw; the chain goes on) join
 * the output as items.
 */
export function cameraChain(
  camera: ChainCameraConfig,
  detector: Detector,
  models: SharedModels,
  gallery: Gallery,
  settings: RecognitionSettings,
  opts: {
    tracker?: TrackFacesOptions | undefined;
    counters: CameraCounters;
    logger?: Logger | undefined;
    /** True once the chain is being torn down: runs still in flight fail against closed sessions. */
    stopping?: () => boolean;
    /** Every decoded frame, before detection may drop it (the live view keeps the latest). */
    onFrame?: ((frame: Frame) => void) | undefined;
    /** Every frame out of the detect stage: detected (with its faces) or skipped by the gate (benches, tests). */
    onDetected?: ((faces: FrameFaces) => void) | undefined;
  },
): Observable<PipelineItem> {
  return defer(() => {
    const stageErrors = new Subject<PipelineItem>();
    const gate = new DetectionGate(camera.gate ?? UNGATED);
    opts.counters.gate = gate;
    const fail = (stage: PipelineStage, model: string) => (error: unknown) => {
      if (!opts.stopping?.()) stageErrors.next(stageErrorItem({ cameraId: camera.id, stage, model, error, timeMs: Date.now() }));
    };
    const health = (output: Observable<CameraOutput>): Observable<PipelineItem> =>
      output.pipe(
        filter(isHealthOutput),
        map(({ health: h }) => {
          opts.counters.health = h;
          return cameraItem(h);
        }),
      );
    const faces = (output: Observable<CameraOutput>): Observable<PipelineItem> =>
      output.pipe(
        filter(isFrameOutput),
        map(({ frame }) => frame),
        tap((frame) => opts.onFrame?.(frame)),
        observeMotion(gate),
        detectFaces(detector, { stats: opts.counters.detect, onError: fail('detect', detector.model.name), gate: (frame) => gate.take(frame.capturedAt).detect }),
        tap((ff) => opts.onDetected?.(ff)),
        trackFaces(opts.tracker ?? {}),
        reportTracks(gate),
        withTrackEvents(
          recognizeTracks(
            {
              embedder: models.embedder,
              mask: models.mask,
              liveness: models.liveness,
              gallery,
              thresholds: settings.thresholds,
              maskThreshold: settings.maskThreshold,
              bestShot: settings.bestShot,
              unknownThreshold: settings.unknownThreshold,
              onError: fail('recognize', models.embedder.modelId),
              onSettled: (trackId) => gate.settle(trackId),
            },
            opts.counters.recognize,
          ),
        ),
      );
    const chain$ = cameraFrames(camera, { logger: opts.logger, stats: (read) => (opts.counters.ingest = read), demand: gate }).pipe(
      // Health first: ingest reports camera.starting while it is being subscribed.
      connect((output) => merge(health(output), faces(output))),
      finalize(() => stageErrors.complete()),
    );
    return merge(stageErrors, chain$);
  });
}

/** Fresh counters for a camera that starts. */
export function newCameraCounters(): CameraCounters {
  return { detect: { processed: 0, dropped: 0, errors: 0 }, recognize: { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 }, health: undefined, ingest: undefined };
}
