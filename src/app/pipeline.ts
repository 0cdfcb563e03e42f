/**
 * The access-control stream as the service runs it. Every input follows the config: the cameras
 * its camera list (each on the detector session the models part prepared for it), the gate set its
 * slice (a new set takes over the gates' state); manual commands and fleet area inputs come in as
 * subjects. The dashboard's live tiles get every decoded frame, and detector sessions no camera
 * uses any more are released once the cameras have followed a change.
 */
import { BehaviorSubject, map, Subject } from 'rxjs';
import { deepEqual, ingestCameraConfig, type CameraEntry, type Config } from '../config/index.ts';
import type { Detector } from '../detect/index.ts';
import { parseGates, type AreaInput, type GatePolicy, type ManualRequest } from '../gates/index.ts';
import type { Followers } from '../lib/follow.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import type { RecognitionSettings } from '../pipeline/index.ts';
import { startAccessControl, type AccessControl } from '../../streams/access-control.ts';
import { LiveFrames } from './live-frames.ts';
import type { ServiceModels } from './models.ts';
import type { Storage } from './storage.ts';

export interface ServicePipeline {
  readonly access: AccessControl;
  readonly liveFrames: LiveFrames;
  /** The gate set in force. */
  gates(): readonly GatePolicy[];
  /** Manual open / hold / close requests (API, MQTT commands). */
  readonly manual$: Subject<ManualRequest>;
  /** Fleet mode: other boxes' anti-passback passages and the area state's health. */
  readonly areaInputs$: Subject<AreaInput>;
}

export interface ServicePipelineParts {
  readonly storage: Storage;
  readonly models: ServiceModels;
  readonly recognition: RecognitionSettings;
  readonly log: Logger;
}

/** Camera ids whose entry is gone or different in `next` (their live tile is stale). */
export function camerasLeft(previous: readonly CameraEntry[], next: readonly CameraEntry[]): string[] {
  return previous.filter((p) => !deepEqual(p, next.find((n) => n.id === p.id))).map((p) => p.id);
}

export function startServicePipeline(config$: BehaviorSubject<Config>, p: ServicePipelineParts, follow: Followers<Config>, lifetime: Lifetime): ServicePipeline {
  const { models, log } = p;
  const manual$ = new Subject<ManualRequest>();
  lifetime.add('manual requests', () => manual$.complete());
  const areaInputs$ = new Subject<AreaInput>();
  const gates$ = new BehaviorSubject<readonly GatePolicy[]>(parseGates(config$.value.gates));
  follow.follow(
    'gates',
    (c) => c.gates,
    (g) => {
      gates$.next(parseGates(g));
      log.info({ gates: gates$.value.map((x) => x.id) }, 'gates replaced (state carried over)');
    },
    { equal: deepEqual, skipFirst: true },
  );
  const detectorOf = (id: string): Detector => {
    const det = models.detectorFor(id);
    if (!det) throw new Error(`no detector prepared for camera ${id}`);
    return det;
  };
  const liveFrames = new LiveFrames();
  const access = startAccessControl({
    onFrame: liveFrames.onFrame,
    // Every camera follows its own entry; the models part loads a camera's detector before the config moves on.
    cameras$: config$.pipe(map((c) => c.cameras.map((e) => ({ camera: ingestCameraConfig(e, models.detectorFor(e.id)?.size), detector: detectorOf(e.id) })))),
    models: { embedder: models.embedder, mask: models.mask, liveness: models.liveness },
    gallery: p.storage.gallery,
    gates$,
    bus: p.storage.bus,
    snapshots: p.storage.snapshots,
    settings: p.recognition,
    startStaggerMs: config$.value.limits.cameraStartStaggerMs,
    manual: manual$,
    areaInputs: areaInputs$,
    logger: log,
    // Read per recognition: a hot-reloaded camera's new zones apply at once.
    zonesFor: (id) => config$.value.cameras.find((c) => c.id === id)?.zones ?? [],
  });
  lifetime.add('cameras', async () => {
    access.stop();
    await access.drain();
  });
  // After the cameras followed a change: stale live tiles go, and a detector session no camera
  // uses any more (the last camera of its tier x size went) is released.
  follow.follow(
    'camera sessions',
    (c) => c.cameras,
    async (next, previous) => {
      for (const id of camerasLeft(previous ?? [], next)) liveFrames.forget(id);
      await models.releaseUnused(access.cameraIds());
    },
    { equal: deepEqual, skipFirst: true },
  );
  return { access, liveFrames, gates: () => gates$.value, manual$, areaInputs$ };
}
