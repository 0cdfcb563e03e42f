/**
 * The access-control stream, as one sentence:
 *   camera frames -> faces -> tracks -> identities -> gate decisions -> events -> subscribers.
 * One chain per camera up to recognition (src/pipeline/camera-chain.ts; all cameras share the
 * model sessions), merged into one stream of PipelineItems, then the gate stage over every camera
 * (anti-passback pairs span cameras) and publishEvents, which writes every event to the durable
 * log before publishing it. Camera health and stage failures ride the same stream as items.
 */
import { BehaviorSubject, EMPTY, timer, type Observable } from 'rxjs';
import { catchError, finalize, mergeMap, switchMap } from 'rxjs/operators';
import { cameraStartDelayMs } from '../src/config/index.ts';
import type { Event, EventBus, SnapshotStore } from '../src/events/index.ts';
import { EMPTY_GATE_STATE, emptyGateStats, zonesOfFace, type AreaInput, type GatePolicy, type GateState, type GateStats, type ManualRequest, type Zone } from '../src/gates/index.ts';
import { keyedSlices, runLatest } from '../src/lib/keyed.ts';
import type { Logger } from '../src/log.ts';
import { cameraChain, decideGates, newCameraCounters, publishEvents, sameCamera, type CameraCounters, type CameraSlot, type PipelineItem, type RecognitionSettings, type SharedModels } from '../src/pipeline/index.ts';
import type { Gallery } from '../src/gallery/index.ts';
import type { Recognition } from '../src/recognize/index.ts';
import type { TrackFacesOptions } from '../src/track/index.ts';
import type { Frame } from '../src/types.ts';

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

/** Read-only view of the counters of every configured camera that has started. */
export interface CameraCounterView {
  get(id: string): CameraCounters | undefined;
  entries(): ReadonlyArray<readonly [string, CameraCounters]>;
}

export interface AccessControl {
  readonly counters: CameraCounterView;
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
  // Every configured camera, once started: its counters, and a token while its source runs (a
  // camera restarted under the same id must not be forgotten when its predecessor's teardown ends).
  const cameras = new Map<string, { counters: CameraCounters; running: object | undefined }>();
  const counters = { get: (id: string) => cameras.get(id)?.counters, entries: () => [...cameras].map(([id, c]) => [id, c.counters] as const) };
  const gateStats = emptyGateStats();
  const gateState$ = new BehaviorSubject<GateState>(EMPTY_GATE_STATE);
  const inFlight = new Set<Promise<void>>();
  const cameraIds = (): string[] => [...cameras].filter(([, c]) => c.running).map(([id]) => id);
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopped = false;

  const cameraStream = ({ camera, detector }: CameraSlot, delayMs: number): Observable<PipelineItem> => {
    const token = {};
    const entry = { counters: newCameraCounters(), running: token as object | undefined };
    cameras.set(camera.id, entry);
    const current = (): boolean => cameras.get(camera.id)?.running === token;
    const chain = cameraChain(camera, detector, o.models, o.gallery, o.settings, { tracker: o.tracker, counters: entry.counters, logger: log, stopping: () => stopped || !current(), onFrame: o.onFrame });
    // A camera waiting for its start slot is already "running": removing it cancels the timer.
    return (delayMs > 0 ? timer(delayMs).pipe(switchMap(() => chain)) : chain).pipe(
      catchError((err: unknown) => {
        log?.error({ err, camera: camera.id }, 'camera chain failed');
        return EMPTY;
      }),
      finalize(() => {
        if (!current()) return;
        entry.running = undefined;
        if (cameraIds().length === 0) resolveDone();
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
          // A changed camera restarts alone (new and changed ones start `stagger` ms apart); a removed one stops.
          runLatest(({ value, order }) => cameraStream(value, cameraStartDelayMs(order, stagger))),
          // Removed from the config: its counters go with it.
          finalize(() => {
            if (!cameras.get(key)?.running) cameras.delete(key);
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
  if (cameras.size === 0) resolveDone();

  return {
    counters,
    gateStats,
    gateState$,
    done,
    cameraIds,
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
