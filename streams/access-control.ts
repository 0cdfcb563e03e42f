/**
 * The access-control stream, as one sentence:
 *   camera frames -> faces -> tracks -> identities -> gate decisions -> events -> subscribers.
 * One RxJS chain per camera up to recognition (all cameras share the model sessions), then one
 * gate operator over every camera (anti-passback pairs span cameras), and every event written to
 * the durable log before it is published.
 */
import { Subject, Subscription, timer, type Observable } from 'rxjs';
import { filter, map, switchMap, tap } from 'rxjs/operators';
import { cameraStartDelayMs } from '../src/config/index.ts';
import { detectFaces, type Detector, type DetectStats } from '../src/detect/index.ts';
import { EventThrottle, eventFromActuation, eventFromCameraHealth, eventFromGate, eventFromRecognition, eventFromTrack, type Event, type EventBus, type NewEvent, type SnapshotStore } from '../src/events/index.ts';
import type { Gallery } from '../src/gallery/index.ts';
import { gateDecisions, zonesOfFace, type Zone, type GateEvent, type GateInput, type GatePolicy, type GateStats, type ManualRequest, emptyGateStats, type GateState, type ActuationRecord } from '../src/gates/index.ts';
import { cameraFrames, type CameraConfig, type CameraHealth, type CameraStats } from '../src/ingest/index.ts';
import { errorMessage } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { redactText } from '../src/redact.ts';
import type { Frame } from '../src/types.ts';
import { recognizeTracks, type Embedder, type LivenessModel, type MaskClassifier, type RecognizeOutput, type RecognizeStats } from '../src/recognize/index.ts';
import { trackFaces, type TrackFacesOptions } from '../src/track/index.ts';

export interface SharedModels {
  /** The detector of a camera (callers share one session per tier x size). */
  readonly detectorFor: (camera: CameraConfig) => Detector;
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

export interface CameraCounters {
  readonly detect: DetectStats;
  readonly recognize: RecognizeStats;
  health: CameraHealth | undefined;
  /** The ingest counters (frames GStreamer dropped or never delivered), once the camera opened. */
  ingest: (() => CameraStats) | undefined;
}

/** camera -> detect -> track -> recognize: one camera's chain, health reported on the side. */
export function cameraChain(
  camera: CameraConfig,
  models: SharedModels,
  gallery: Gallery,
  settings: RecognitionSettings,
  opts: {
    tracker?: TrackFacesOptions;
    counters: CameraCounters;
    onHealth: (h: CameraHealth) => void;
    logger?: Logger;
    stopping?: () => boolean;
    /** A stage failed on a frame (the chain goes on); default: logged. */
    onStageError?: (stage: 'detect' | 'recognize', model: string, error: unknown) => void;
    /** Every decoded frame, before detection may drop it (the live view keeps the latest). */
    onFrame?: (frame: Frame) => void;
  },
): Observable<RecognizeOutput> {
  // A run still in flight when the chain is torn down fails against closed sessions/gallery: expected, not reported.
  const fail = (stage: 'detect' | 'recognize', model: string) => (e: unknown) => {
    if (opts.stopping?.()) return;
    if (opts.onStageError) opts.onStageError(stage, model, e);
    else opts.logger?.error({ err: e, camera: camera.id, stage }, `${stage} failed`);
  };
  const detector = models.detectorFor(camera);
  return cameraFrames(camera, { health: opts.onHealth, logger: opts.logger, stats: (read) => (opts.counters.ingest = read) }).pipe(
    tap((frame) => opts.onFrame?.(frame)),
    detectFaces(detector, { stats: opts.counters.detect, onError: fail('detect', detector.model.name) }),
    trackFaces(opts.tracker ?? {}),
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
  );
}

export interface AccessControlOptions {
  readonly cameras: readonly CameraConfig[];
  readonly models: SharedModels;
  readonly gallery: Gallery;
  readonly gates: readonly GatePolicy[];
  readonly bus: EventBus;
  readonly snapshots?: SnapshotStore | undefined;
  readonly settings: RecognitionSettings;
  readonly tracker?: TrackFacesOptions;
  readonly manual?: Observable<ManualRequest>;
  readonly logger?: Logger;
  readonly onPublished?: (event: Event) => void;
  readonly onGateState?: (state: GateState) => void;
  readonly onActuation?: (record: ActuationRecord) => void;
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
  /** Ids of the running cameras. */
  cameraIds(): string[];
  /** Start one more camera (after `delayMs`, default at once); the others keep running. */
  addCamera(camera: CameraConfig, delayMs?: number): void;
  /** Stop one camera (its live tracks end with it); the others keep running. */
  removeCamera(id: string): void;
  /** Replace the gate set; gate state (cooldowns, anti-passback) carries over. */
  setGates(gates: readonly GatePolicy[]): void;
  /** Stop every camera pipeline and the gate operator. */
  stop(): void;
  /** Resolves when events still being prepared (snapshots being written) are published. */
  drain(): Promise<void>;
  /** Resolves when every camera's source has ended (files played once) or on stop(). */
  readonly done: Promise<void>;
}

/**
 * Start the whole chain. Errors travel as events (camera.down) and log lines, never as
 * exceptions across stages: a failing camera, model run or client never stops the others.
 * Cameras are subscribed one by one into a shared stream, so hot reload can add, remove or
 * restart one camera without touching the rest.
 */
export function startAccessControl(o: AccessControlOptions): AccessControl {
  const log = o.logger;
  const counters = new Map<string, CameraCounters>();
  const gateStats = emptyGateStats();
  const root = new Subscription();
  const publish = (e: NewEvent | undefined): void => {
    if (!e) return;
    try {
      o.onPublished?.(o.bus.publish(e));
    } catch (err) {
      log?.error({ err, type: e.type }, 'event could not be logged; not published');
    }
  };

  // Stage failures are events (the operator sees a broken model), one per camera and stage per 10 s.
  const stageErrors = new EventThrottle(10_000);
  const onStageError = (cameraId: string) => (stage: 'detect' | 'recognize', model: string, err: unknown): void => {
    const suppressed = stageErrors.admit(`${cameraId}\u0000${stage}`, Date.now());
    if (suppressed === undefined) return;
    log?.error({ err, camera: cameraId, stage, model, suppressed }, `${stage} failed`);
    publish({ type: 'stage.error', timeMs: Date.now(), cameraId, data: { stage, model, message: redactText(errorMessage(err)).slice(0, 1000), suppressed } });
  };

  const all$ = new Subject<RecognizeOutput>();
  const pending = new Set<Promise<void>>();
  const cameraSubs = new Map<string, Subscription>();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopped = false;
  const maybeDone = (): void => {
    if (cameraSubs.size === 0) resolveDone();
  };

  const addCamera = (camera: CameraConfig, delayMs = 0): void => {
    if (stopped) return;
    if (cameraSubs.has(camera.id)) throw new Error(`camera ${camera.id} is already running`);
    const c: CameraCounters = { detect: { processed: 0, dropped: 0, errors: 0 }, recognize: { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 }, health: undefined, ingest: undefined };
    counters.set(camera.id, c);
    const chain = cameraChain(camera, o.models, o.gallery, o.settings, {
      tracker: o.tracker,
      counters: c,
      logger: log,
      stopping: () => stopped || !cameraSubs.has(camera.id),
      onStageError: onStageError(camera.id),
      onFrame: o.onFrame,
      onHealth: (h) => {
        c.health = h;
        publish(eventFromCameraHealth(h));
      },
    });
    // A camera waiting for its start slot is already "running": removing it cancels the timer.
    const started = delayMs > 0 ? timer(delayMs).pipe(switchMap(() => chain)) : chain;
    const sub = started.subscribe({
      next: (out) => all$.next(out),
      error: (err: unknown) => {
        log?.error({ err, camera: camera.id }, 'camera chain failed');
        cameraSubs.delete(camera.id);
        maybeDone();
      },
      complete: () => {
        cameraSubs.delete(camera.id);
        maybeDone();
      },
    });
    if (!sub.closed) cameraSubs.set(camera.id, sub);
  };
  const removeCamera = (id: string): void => {
    const sub = cameraSubs.get(id);
    if (!sub) return;
    cameraSubs.delete(id);
    sub.unsubscribe();
    counters.delete(id);
  };

  // Recognitions and track events to the log (a recognition only when its decision changed:
  // one face.recognized per person per track, not one per embedder run).
  root.add(
    all$.subscribe((out) => {
      if (out.kind === 'track') return publish(eventFromTrack(out.event));
      const r = out.recognition;
      if (!r.changed) return;
      const snapshot = o.snapshots;
      if (!snapshot) return publish(eventFromRecognition(r));
      // The snapshot is written first so the event can name it; a failed write never drops the event.
      const saving = snapshot.save(r.frame, r.box, { timeMs: r.timeMs }).then(
        (snapshotId) => publish(eventFromRecognition(r, { snapshotId })),
        (err: unknown) => {
          log?.warn({ err }, 'snapshot failed');
          publish(eventFromRecognition(r));
        },
      );
      // stop() then drain() lets these land in the log before the caller closes it.
      pending.add(saving);
      void saving.finally(() => pending.delete(saving));
    }),
  );

  // Gates see every recognition (confirmation counts N of M runs) and the ends of tracks.
  const gateInput$: Observable<GateInput> = all$.pipe(
    map((out): GateInput | undefined => {
      if (out.kind === 'track') return out.event.type === 'track.ended' ? out.event : undefined;
      const r = out.recognition;
      const zones = o.zonesFor?.(r.cameraId) ?? [];
      const inZones = zones.length ? zonesOfFace(r.box, r.frame.width, r.frame.height, zones) : undefined;
      return { type: r.type, cameraId: r.cameraId, trackId: r.trackId, identityId: r.identityId, name: r.name, groups: r.groups, score: r.score, masked: r.masked, liveness: r.liveness, zones: inZones, timeMs: r.timeMs };
    }),
    filter((x): x is GateInput => x !== undefined),
  );
  let gateState: GateState | undefined;
  let gateSub: Subscription | undefined;
  const setGates = (gates: readonly GatePolicy[]): void => {
    gateSub?.unsubscribe();
    gateSub = gateInput$
      .pipe(
        gateDecisions(gates, {
          manual: o.manual,
          stats: gateStats,
          initialState: gateState,
          onState: (s) => {
            gateState = s;
            o.onGateState?.(s);
          },
          // Every actuation outcome is an event: a grant the door never executed must reach the
          // operator and the audit log, not only a log line.
          onActuation: (record) => {
            publish(eventFromActuation(record, Date.now()));
            o.onActuation?.(record);
          },
          log,
          onError: (e) => log?.warn({ err: e }, 'gate input rejected'),
        }),
      )
      .subscribe({
        next: (g: GateEvent) => publish(eventFromGate(g)),
        error: (err: unknown) => log?.error({ err }, 'gate operator failed'),
      });
  };
  setGates(o.gates);
  o.cameras.forEach((camera, i) => addCamera(camera, cameraStartDelayMs(i, o.startStaggerMs ?? 0)));
  maybeDone();

  return {
    counters,
    gateStats,
    done,
    cameraIds: () => [...cameraSubs.keys()],
    addCamera,
    removeCamera,
    setGates,
    drain: async () => {
      while (pending.size) await Promise.allSettled([...pending]);
    },
    stop: () => {
      stopped = true;
      for (const id of [...cameraSubs.keys()]) removeCamera(id);
      gateSub?.unsubscribe();
      root.unsubscribe();
      all$.complete();
      resolveDone();
    },
  };
}
