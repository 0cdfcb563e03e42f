/**
 * The access-control stream, as one sentence:
 *   camera frames -> faces -> tracks -> identities -> gate decisions -> events -> subscribers.
 * One RxJS chain per camera up to recognition (all cameras share the model sessions), then one
 * gate operator over every camera (anti-passback pairs span cameras), and every event written to
 * the durable log before it is published.
 */
import { merge, Subject, Subscription, type Observable } from 'rxjs';
import { filter, map, share } from 'rxjs/operators';
import { detectFaces, type Detector, type DetectStats } from '../src/detect/index.ts';
import { eventFromCameraHealth, eventFromGate, eventFromRecognition, eventFromTrack, type Event, type EventBus, type NewEvent, type SnapshotStore } from '../src/events/index.ts';
import type { Gallery } from '../src/gallery/index.ts';
import { gateDecisions, type GateEvent, type GateInput, type GatePolicy, type GateStats, type ManualRequest, emptyGateStats, type GateState, type ActuationRecord } from '../src/gates/index.ts';
import { cameraFrames, type CameraConfig, type CameraHealth } from '../src/ingest/index.ts';
import type { Logger } from '../src/log.ts';
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
}

/** camera -> detect -> track -> recognize: one camera's chain, health reported on the side. */
export function cameraChain(
  camera: CameraConfig,
  models: SharedModels,
  gallery: Gallery,
  settings: RecognitionSettings,
  opts: { tracker?: TrackFacesOptions; counters: CameraCounters; onHealth: (h: CameraHealth) => void; logger?: Logger },
): Observable<RecognizeOutput> {
  return cameraFrames(camera, { health: opts.onHealth, logger: opts.logger }).pipe(
    detectFaces(models.detectorFor(camera), { stats: opts.counters.detect, onError: (e) => opts.logger?.error({ err: e, camera: camera.id }, 'detection failed') }),
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
        onError: (e) => opts.logger?.error({ err: e, camera: camera.id }, 'recognition failed'),
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
}

export interface AccessControl {
  readonly counters: ReadonlyMap<string, CameraCounters>;
  readonly gateStats: GateStats;
  /** Stop every camera pipeline and the gate operator; resolves when all is torn down. */
  stop(): void;
  /** Completes when every camera's source has ended (files played once). */
  readonly done: Promise<void>;
}

/**
 * Start the whole chain. Errors travel as events (camera.down) and log lines, never as
 * exceptions across stages: a failing camera, model run or client never stops the others.
 */
export function startAccessControl(o: AccessControlOptions): AccessControl {
  const log = o.logger;
  const counters = new Map<string, CameraCounters>();
  const gateStats = emptyGateStats();
  const subscription = new Subscription();
  const publish = (e: NewEvent | undefined): void => {
    if (!e) return;
    try {
      o.onPublished?.(o.bus.publish(e));
    } catch (err) {
      log?.error({ err, type: e.type }, 'event could not be logged; not published');
    }
  };

  const health$ = new Subject<CameraHealth>();
  subscription.add(health$.subscribe((h) => publish(eventFromCameraHealth(h))));

  const chains = o.cameras.map((camera) => {
    const c: CameraCounters = { detect: { processed: 0, dropped: 0, errors: 0 }, recognize: { frames: 0, dropped: 0, embedderRuns: 0, facesSeen: 0, errors: 0 }, health: undefined };
    counters.set(camera.id, c);
    return cameraChain(camera, o.models, o.gallery, o.settings, {
      tracker: o.tracker,
      counters: c,
      logger: log,
      onHealth: (h) => {
        c.health = h;
        health$.next(h);
      },
    });
  });
  const all$ = merge(...chains).pipe(share());

  // Recognitions and track events to the log (a recognition only when its decision changed:
  // one face.recognized per person per track, not one per embedder run).
  subscription.add(
    all$.subscribe((out) => {
      if (out.kind === 'track') return publish(eventFromTrack(out.event));
      const r = out.recognition;
      if (!r.changed) return;
      const snapshot = o.snapshots;
      if (!snapshot) return publish(eventFromRecognition(r));
      // The snapshot is written first so the event can name it; a failed write never drops the event.
      snapshot
        .save(r.frame, r.box, { timeMs: r.timeMs })
        .then(
          (snapshotId) => publish(eventFromRecognition(r, { snapshotId })),
          (err: unknown) => {
            log?.warn({ err }, 'snapshot failed');
            publish(eventFromRecognition(r));
          },
        );
    }),
  );

  // Gates see every recognition (confirmation counts N of M runs) and the ends of tracks.
  const gateInput$: Observable<GateInput> = all$.pipe(
    map((out): GateInput | undefined => {
      if (out.kind === 'track') return out.event.type === 'track.ended' ? out.event : undefined;
      const r = out.recognition;
      const groups = r.identityId ? o.gallery.getIdentity(r.identityId)?.groups : undefined;
      return { type: r.type, cameraId: r.cameraId, trackId: r.trackId, identityId: r.identityId, name: r.name, groups, score: r.score, masked: r.masked, liveness: r.liveness, timeMs: r.timeMs };
    }),
    filter((x): x is GateInput => x !== undefined),
  );
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  subscription.add(
    gateInput$.pipe(gateDecisions(o.gates, { manual: o.manual, stats: gateStats, onState: o.onGateState, onActuation: o.onActuation, log, onError: (e) => log?.warn({ err: e }, 'gate input rejected') })).subscribe({
      next: (g: GateEvent) => publish(eventFromGate(g)),
      error: (err: unknown) => {
        log?.error({ err }, 'gate operator failed');
        resolveDone();
      },
      complete: () => resolveDone(),
    }),
  );
  return {
    counters,
    gateStats,
    done,
    stop: () => {
      subscription.unsubscribe();
      health$.complete();
      resolveDone();
    },
  };
}
