/**
 * The access-control stream, as one sentence:
 *   camera frames -> faces -> tracks -> identities -> gate decisions -> events -> subscribers.
 * One chain per camera up to recognition (all cameras share the model sessions), merged into one
 * stream of PipelineItems, then the gate stage over every camera (anti-passback pairs span
 * cameras) and publishEvents, which writes every event to the durable log before publishing it.
 * Camera health and stage failures ride the same stream as items, never as exceptions.
 */
import { BehaviorSubject, EMPTY, Subject, defer, merge, timer, type Observable, type OperatorFunction } from 'rxjs';
import { catchError, connect, filter, finalize, map, mergeMap, switchMap, tap } from 'rxjs/operators';
import { cameraStartDelayMs, deepEqual } from '../src/config/index.ts';
import { keyedSlices } from '../src/lib/keyed.ts';
import { detectFaces, type Detector, type DetectStats } from '../src/detect/index.ts';
import type { Event, EventBus, SnapshotStore } from '../src/events/index.ts';
import { cameraItem, decideGates, publishEvents, recognitionItem, stageErrorItem, trackItem, type PipelineItem, type PipelineStage } from '../src/pipeline/index.ts';
import type { Gallery } from '../src/gallery/index.ts';
import { EMPTY_GATE_STATE, emptyGateStats, zonesOfFace, type AreaInput, type GatePolicy, type GateState, type GateStats, type ManualRequest, type Zone } from '../src/gates/index.ts';
import { cameraFrames, isFrameOutput, isHealthOutput, type CameraConfig, type CameraHealth, type CameraOutput, type CameraStats } from '../src/ingest/index.ts';
import type { Logger } from '../src/log.ts';
import { recognizeTracks, type Embedder, type LivenessModel, type MaskClassifier, type Recognition, type RecognizeStats } from '../src/recognize/index.ts';
import { trackFaces, type TrackFacesOptions, type TrackOutput } from '../src/track/index.ts';
import type { Frame } from '../src/types.ts';

/** A camera as the stream runs it: its ingest settings and the detector session it uses. */
export interface CameraSlot {
  readonly camera: CameraConfig;
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
const sameCamera = (a: CameraSlot, b: CameraSlot): boolean => a.detector === b.detector && deepEqual(a.camera, b.camera);

export interface CameraCounters {
  readonly detect: DetectStats;
  readonly recognize: RecognizeStats;
  health: CameraHealth | undefined;
  /** The ingest counters (frames GStreamer dropped or never delivered), once the camera opened. */
  ingest: (() => CameraStats) | undefined;
}

/**
 * The tracker's events, passed on as they arrive, alongside what `recognize` makes of the same
 * tracked frames (recognition is latest-wins and slower: track events must never wait or drop).
 */
export function withTrackEvents(recognize: OperatorFunction<TrackOutput<Frame>, Recognition>): OperatorFunction<TrackOutput<Frame>, PipelineItem> {
  return connect((tracked) =>
    merge(
      tracked.pipe(mergeMap((out) => out.events.map(trackItem))),
      tracked.pipe(recognize, map(recognitionItem)),
    ),
  );
}

/**
 * camera -> detect -> track -> recognize: one camera's chain. Its health (values on the camera's
 * own stream) and the failures of its stages (a model run that threw; the chain goes on) join
 * the output as items.
 */
export function cameraChain(
  camera: CameraConfig,
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
  },
): Observable<PipelineItem> {
  return defer(() => {
    const stageErrors = new Subject<PipelineItem>();
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
        detectFaces(detector, { stats: opts.counters.detect, onError: fail('detect', detector.model.name) }),
        trackFaces(opts.tracker ?? {}),
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
            },
            opts.counters.recognize,
          ),
        ),
      );
    const chain$ = cameraFrames(camera, { logger: opts.logger, stats: (read) => (opts.counters.ingest = read) }).pipe(
      // Health first: ingest reports camera.starting while it is being subscribed.
      connect((output) => merge(health(output), faces(output))),
      finalize(() => stageErrors.complete()),
    );
    return merge(stageErrors, chain$);
  });
}

export interface AccessControlOptions {
  /**
   * The cameras, as the config says now and after every change: each camera follows its own entry
   * (started when it appears, restarted alone when its entry changes, stopped when it goes).
   */
  readonly cameras$: Observable<readonly CameraSlot[]>;
  readonly models: SharedModels;
  readonly gallery: Gallery;
  /** The gate set, now and after every change (its state carries over). */
  readonly gates$: Observable<readonly GatePolicy[]>;
  readonly bus: EventBus;
  readonly snapshots?: SnapshotStore | undefined;
  readonly settings: RecognitionSettings;
  readonly tracker?: TrackFacesOptions;
  readonly manual?: Observable<ManualRequest>;
  /** Fleet mode: other boxes' anti-passback passages and the area state's health (hot). */
  readonly areaInputs?: Observable<AreaInput>;
  readonly logger?: Logger;
  /** Every event after it is logged and published (the service counts them, the demo prints them). */
  readonly onPublished?: (event: Event) => void;
  /**
   * Start camera i of `cameras` i x this many ms after the first (config limits.cameraStartStaggerMs):
   * many pipelines spawned at once (decoders, RTSP handshakes, first detector runs) starve the API.
   */
  readonly startStaggerMs?: number;
  /** The zones of a camera (config `cameras[].zones`), read per recognition so hot reload applies. */
  readonly zonesFor?: (cameraId: string) => readonly Zone[];
  /** Every decoded frame of every camera (the dashboard's live view keeps the latest per camera). */
  readonly onFrame?: (frame: Frame) => void;
}

export interface AccessControl {
  readonly counters: ReadonlyMap<string, CameraCounters>;
  readonly gateStats: GateStats;
  /** The one state of every gate (cooldowns, anti-passback, manual holds), as it changes. */
  readonly gateState$: BehaviorSubject<GateState>;
  /** Ids of the running cameras. */
  cameraIds(): string[];
  /** Stop every camera pipeline and the gate operator. */
  stop(): void;
  /** Resolves when events still being prepared (snapshots being written) are published. */
  drain(): Promise<void>;
  /** Resolves when every camera's source has ended (files played once) or on stop(). */
  readonly done: Promise<void>;
}

/**
 * Start the whole chain. Errors travel as items (camera.down, stage.error) and log lines, never as
 * exceptions across stages: a failing camera, model run or client never stops the others.
 * Each camera is a keyed slice of `cameras$` (src/lib/keyed.ts): hot reload adds, removes or
 * restarts one camera without touching the rest.
 */
export function startAccessControl(o: AccessControlOptions): AccessControl {
  const log = o.logger;
  const counters = new Map<string, CameraCounters>();
  const gateStats = emptyGateStats();
  const gateState$ = new BehaviorSubject<GateState>(EMPTY_GATE_STATE);
  const inFlight = new Set<Promise<void>>();
  // The running cameras, each with a token: a camera restarted under the same id must not be
  // forgotten when its predecessor's teardown completes.
  const running = new Map<string, object>();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopped = false;
  const maybeDone = (): void => {
    if (running.size === 0) resolveDone();
  };

  const cameraStream = ({ camera, detector }: CameraSlot, delayMs: number): Observable<PipelineItem> => {
    const token = {};
    running.set(camera.id, token);
    const c: CameraCounters = { detect: { processed: 0, dropped: 0, errors: 0 }, recognize: { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 }, health: undefined, ingest: undefined };
    counters.set(camera.id, c);
    const chain = cameraChain(camera, detector, o.models, o.gallery, o.settings, {
      tracker: o.tracker,
      counters: c,
      logger: log,
      stopping: () => stopped || running.get(camera.id) !== token,
      onFrame: o.onFrame,
    });
    // A camera waiting for its start slot is already "running": removing it cancels the timer.
    return (delayMs > 0 ? timer(delayMs).pipe(switchMap(() => chain)) : chain).pipe(
      catchError((err: unknown) => {
        log?.error({ err, camera: camera.id }, 'camera chain failed');
        return EMPTY;
      }),
      finalize(() => {
        if (running.get(camera.id) !== token) return;
        running.delete(camera.id);
        maybeDone();
      }),
    );
  };

  // Recognitions only change the zones a gate sees when the camera has zones (read per
  // recognition, so hot-reloaded zones apply at once).
  const zonesOf = (r: Recognition): readonly string[] | undefined => {
    const zones = o.zonesFor?.(r.cameraId) ?? [];
    return zones.length ? zonesOfFace(r.box, r.frame.width, r.frame.height, zones) : undefined;
  };

  const stagger = o.startStaggerMs ?? 0;
  const pipeline = keyedSlices(o.cameras$, (c) => c.camera.id, sameCamera)
    .pipe(
      mergeMap(({ key, changes$ }) =>
        changes$.pipe(
          // A changed camera restarts alone; new and changed ones start `stagger` ms apart.
          switchMap(({ value, order }) => cameraStream(value, cameraStartDelayMs(order, stagger))),
          // Removed from the config: its counters go with it.
          finalize(() => {
            if (!running.has(key)) counters.delete(key);
          }),
        ),
      ),
      decideGates(o.gates$, { manual: o.manual, areaInputs: o.areaInputs, stats: gateStats, zonesOf, onState: (s) => gateState$.next(s), log }),
      publishEvents(o.bus, { snapshots: o.snapshots, inFlight, logger: log }),
    )
    .subscribe({
      next: (event) => o.onPublished?.(event),
      error: (err: unknown) => log?.error({ err }, 'access-control pipeline failed'),
    });

  maybeDone();

  return {
    counters,
    gateStats,
    gateState$,
    done,
    cameraIds: () => [...running.keys()],
    drain: async () => {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    stop: () => {
      stopped = true;
      pipeline.unsubscribe();
      resolveDone();
    },
  };
}
