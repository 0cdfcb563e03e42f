/**
 * The running facegate service: one config in, everything started from it — gallery, event log +
 * bus, snapshots, shared model sessions, the access-control stream (streams/access-control.ts)
 * and the HTTP/WebSocket API — and a reload(next, diff) that applies a hot-reloaded config by
 * restarting only what changed (cameras one by one, the gate set with its state carried over,
 * tokens and log level in place). Sections that need new model sessions or another port are
 * reported as needing a restart rather than half-applied.
 */
import { readFile } from 'node:fs/promises';
import { BehaviorSubject, distinctUntilChanged, map, skip, Subject } from 'rxjs';
import { startApiServer, type ApiServer } from '../api/server.ts';
import { createMetrics, type Metrics } from '../api/metrics.ts';
import { deepEqual, diffConfig, ingestCameraConfig, type CameraEntry, type Config, type ConfigDiff } from '../config/index.ts';
import type { Event, EventBus, EventLog } from '../events/index.ts';
import { snapshotFile, startFleetEdge, type FleetEdge } from '../fleet/edge.ts';
import type { Gallery } from '../gallery/index.ts';
import { parseGates, type AreaInput, type GatePolicy, type ManualRequest } from '../gates/index.ts';
import type { Detector } from '../detect/index.ts';
import { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import type { SinkRunner } from '../outputs/index.ts';
import { ensureTemplatesFor } from '../recognize/index.ts';
import { startAccessControl, type AccessControl, type RecognitionSettings } from '../../streams/access-control.ts';
import { apiServerOptions } from './api-options.ts';
import { boxApiDeps } from './box-api.ts';
import { createGateApi, gateView } from './gate-api.ts';
import { createUploadEnrollment } from './identities.ts';
import { LiveFrames } from './live-frames.ts';
import { loadServiceModels, recognitionSettings } from './models.ts';
import { startServiceOutputs } from './outputs.ts';
import { assertPortFree, portError } from './port.ts';
import { openStorage } from './storage.ts';
import { startTelemetry } from './telemetry.ts';

export interface ServiceOptions {
  readonly logger: Logger;
  /** Called for every event after it is logged and published (the demo prints them). */
  readonly onPublished?: (event: Event) => void;
  /** Override the configured port (tests use 0). */
  readonly port?: number;
  readonly metrics?: Metrics;
  /** How often a system.health event is published (default 30 s). */
  readonly healthIntervalMs?: number;
  /** Aborting it during start-up stops what already started and rejects (SIGTERM while loading models). */
  readonly signal?: AbortSignal;
}

export interface Service {
  readonly config: () => Config;
  readonly api: ApiServer;
  readonly access: AccessControl;
  readonly gallery: Gallery;
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly metrics: Metrics;
  /** The event sinks (MQTT) and their health; undefined when none is enabled. */
  readonly sinks: SinkRunner | undefined;
  /** Fleet mode (edge): the forwarder and gallery follower; undefined without `fleet:`. */
  readonly fleet: FleetEdge | undefined;
  /** What recognition runs with: thresholds resolved from config or the embedder's calibration. */
  readonly recognition: RecognitionSettings & { readonly source: string };
  /** Apply a new valid config; returns the sections that need a restart to take effect. */
  update(next: Config): Promise<string[]>;
  /** Resolves when every camera source has ended (file sources played once). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export { recognitionSettings } from './models.ts';

/** Sections whose new values only a restart applies (new model sessions, another port, other stores). */
function restartNeeded(previous: Config, next: Config, diff: ConfigDiff): string[] {
  const restart: string[] = [];
  for (const s of ['server', 'models', 'recognition', 'events', 'gallery', 'fleet'] as const) if (diff[s]) restart.push(s);
  if (diff.auth && next.auth.enabled !== previous.auth.enabled) restart.push('auth.enabled');
  return restart;
}

/**
 * Start everything, or nothing: a part that fails to start (a busy port, a broken model, an
 * unreadable store) stops every part started before it, and the error is rethrown for the caller
 * to report once. The API port is checked before anything else, so a second facegate on the same
 * port fails in milliseconds instead of after its models load.
 */
export async function startService(initial: Config, opts: ServiceOptions): Promise<Service> {
  const lifetime = new Lifetime();
  try {
    await assertPortFree(apiServerOptions(initial, opts.port));
    return await startParts(initial, opts, lifetime);
  } catch (e) {
    for (const f of await lifetime.close()) opts.logger.warn({ part: f.name, err: f.error }, 'stopping a part after a failed start failed');
    throw e;
  }
}

async function startParts(initial: Config, opts: ServiceOptions, lifetime: Lifetime): Promise<Service> {
  const log = opts.logger;
  const metrics = opts.metrics ?? createMetrics();
  const started = (): void => opts.signal?.throwIfAborted();
  // The config in force: every camera, the gate set and the API follow it (update() pushes a new one).
  const config$ = new BehaviorSubject<Config>(initial);
  const config = (): Config => config$.value;
  // Storage first: a bad path fails here, before any model is loaded.
  const storage = openStorage(initial, log, lifetime);
  const { gallery, eventLog, bus, snapshots } = storage;

  // Shared model sessions (src/app/models.ts): one per detector tier x size, one embedder, mask and liveness.
  const models = await loadServiceModels(initial.models, metrics, log);
  lifetime.add('models', () => models.close());
  started();
  const { embedderRaw, embedder, mask, liveness } = models;
  // A model change needs nobody re-enrolled: templates for the configured embedder are built from
  // the stored enrollment crops (once; later starts find nothing missing). It warns, by name,
  // about identities enrolled before crops were kept: they must be enrolled again.
  await ensureTemplatesFor(gallery, embedderRaw, log);
  const recognition = recognitionSettings(initial.recognition, embedder.modelId);
  log.info({ embedder: embedder.modelId, thresholds: recognition.thresholds, source: recognition.source }, 'recognition thresholds');
  for (const c of initial.cameras) await models.ensureDetector(c);
  started();

  const manual$ = new Subject<ManualRequest>();
  lifetime.add('manual requests', () => manual$.complete());
  // Fleet mode: the passage follower (started below with the fleet edge) feeds the gates' areas.
  const areaInputs$ = new Subject<AreaInput>();
  // The gate set follows its slice of the config (a new set takes over the gates' state).
  const gates$ = new BehaviorSubject<readonly GatePolicy[]>(parseGates(initial.gates));
  const gatesFollow = config$.pipe(map((c) => c.gates), distinctUntilChanged(deepEqual), skip(1)).subscribe((g) => {
    gates$.next(parseGates(g));
    log.info({ gates: gates$.value.map((x) => x.id) }, 'gates replaced (state carried over)');
  });
  lifetime.add('gates', () => gatesFollow.unsubscribe());
  const gates = (): readonly GatePolicy[] => gates$.value;
  const cameraEntry = (id: string): CameraEntry | undefined => config().cameras.find((c) => c.id === id);
  const detectorOf = (id: string): Detector => {
    const det = models.detectorFor(id);
    if (!det) throw new Error(`no detector prepared for camera ${id}`);
    return det;
  };
  // The dashboard's live tiles: the newest frame per camera, encoded only when someone watches.
  const liveFrames = new LiveFrames();
  const access = startAccessControl({
    onFrame: liveFrames.onFrame,
    // Every camera follows its own entry; update() loads a new camera's detector before the config changes.
    cameras$: config$.pipe(map((c) => c.cameras.map((e) => ({ camera: ingestCameraConfig(e, models.detectorFor(e.id)?.size), detector: detectorOf(e.id) })))),
    models: {
      embedder,
      mask,
      liveness,
    },
    gallery,
    gates$,
    bus,
    snapshots,
    settings: recognition,
    startStaggerMs: initial.limits.cameraStartStaggerMs,
    manual: manual$,
    areaInputs: areaInputs$,
    logger: log,
    // Read per recognition: a hot-reloaded camera's new zones apply at once.
    zonesFor: (id) => cameraEntry(id)?.zones ?? [],
  });
  lifetime.add('cameras', async () => {
    access.stop();
    await access.drain();
  });

  const enrollment = createUploadEnrollment({ detectorOptions: models.detectorOptions, embedder: embedderRaw });
  lifetime.add('enrollment', () => enrollment.close());
  const gateApi = createGateApi(gates, () => access.gateState$.value, manual$);

  // Output sinks (src/app/outputs.ts): each fed from the log after its own cursor, so a broker
  // that is down or slow never reaches the pipeline; a changed events.outputs applies on reload.
  const cameraStatus = (id: string): 'up' | 'down' | undefined => {
    const h = access.counters.get(id)?.health?.type;
    return h === undefined || h === 'camera.starting' ? undefined : h === 'camera.up' ? 'up' : 'down';
  };
  const outputs = startServiceOutputs(initial.events.outputs, {
    bus,
    eventsDb: initial.events.db,
    logger: log,
    metrics,
    cameras: () => config().cameras.map((c) => ({ id: c.id, name: c.name ?? c.id, status: cameraStatus(c.id) })),
    gates: () => gates().map((g) => ({ id: g.id, name: g.name ?? g.id, heldOpen: gateView(g, access.gateState$.value).manual !== null })),
    snapshot: async (id) => readFile(snapshots.path(id, 'face')).catch(() => undefined),
    manual: (gateId, action, by, reason) => gateApi.manual(gateId, action, by, reason),
  });
  lifetime.add('outputs', () => outputs.close());

  // Fleet mode (src/fleet): the log forwarded to the hub after its own cursor, the gallery
  // following the hub's; gates keep deciding here whatever the network does.
  const hasAreaGates = (): boolean => gates().some((g) => g.antiPassback?.area !== undefined);
  const fleet: FleetEdge | undefined =
    initial.fleet?.role === 'edge'
      ? startFleetEdge({ fleet: initial.fleet, gallery, bus, eventsDb: initial.events.db, logger: log, metrics, snapshotPath: (id, kind) => snapshotFile(snapshots, id, kind), hasAreaGates })
      : undefined;
  if (fleet) lifetime.add('fleet', () => fleet.close());
  const areaFeed = fleet?.passages.inputs$.subscribe(areaInputs$);
  if (areaFeed) lifetime.add('area feed', () => areaFeed.unsubscribe());

  const { startedMs } = startTelemetry(
    {
      metrics,
      bus,
      eventLog,
      log,
      access,
      cameraIds: () => config().cameras.map((c) => c.id),
      sinks: () => [
        ...(outputs.sinks?.health() ?? []),
        ...(fleet?.health() ?? []),
        // Area gates name the area state (stale: the box decides from local state).
        ...(fleet && hasAreaGates() ? [{ name: 'fleet-areas', connected: fleet.passages.status().mode === 'fresh', lag: 0, lastError: fleet.passages.status().reason }] : []),
      ],
      healthIntervalMs: opts.healthIntervalMs,
      onPublished: opts.onPublished,
    },
    lifetime,
  );

  started();
  const apiOptions = apiServerOptions(initial, opts.port);
  const deps = boxApiDeps({
    ...storage,
    config,
    cameraEntries: () => config().cameras,
    metrics,
    log,
    access,
    models,
    enrollment,
    gates: gateApi,
    liveFrames,
    fleetEdge: fleet !== undefined,
    unmaskedThreshold: () => recognition.thresholds.unmasked,
    startedMs,
  });
  const api = await startApiServer(deps, apiOptions).catch((e: unknown) => {
    throw portError(e, apiOptions) ?? e;
  });
  lifetime.add('api', () => api.close());
  started();
  log.info({ url: api.url, cameras: initial.cameras.map((c) => c.id), gates: gates().map((g) => g.id), identities: gallery.stats().identities }, 'facegate running');

  /**
   * Apply a new valid config: the detectors new or changed cameras need are loaded first, then the
   * config moves on and every camera, the gate set and the API follow their own slice of it (an
   * unchanged camera is not touched). The diff only says what is logged and what needs a restart.
   */
  const apply = async (next: Config): Promise<string[]> => {
    const previous = config();
    const diff = diffConfig(previous, next);
    const restart = restartNeeded(previous, next, diff);
    if (diff.logging) log.level = next.logging.level;
    for (const c of next.cameras) await models.ensureDetector(c);
    const { added, removed, changed } = diff.cameras;
    for (const id of removed) log.info({ camera: id }, 'camera removed');
    for (const id of changed) log.info({ camera: id }, 'camera changed (its pipeline restarts when its stream settings changed; zones and name apply at once)');
    for (const id of added) log.info({ camera: id }, 'camera added');
    config$.next(next); // tokens are read per request: a new token list applies at once.
    for (const id of [...removed, ...changed]) liveFrames.forget(id);
    // A detector session no camera uses any more (the last camera of its tier x size went) is released.
    if (removed.length || changed.length) await models.releaseUnused(access.cameraIds());
    // New cameras or gates: Home Assistant learns of them (and of the removed ones) at once.
    if (diff.outputs) await outputs.apply(next.events.outputs);
    else if (diff.gates || added.length || removed.length || changed.length) outputs.refresh();
    if (restart.length) log.warn({ sections: restart }, 'these settings take effect after a restart of facegate');
    return restart;
  };
  // One change at a time, in the order they came (a change waits for the detectors of the last).
  let applying: Promise<unknown> = Promise.resolve();
  const update = (next: Config): Promise<string[]> => {
    const done = applying.then(() => apply(next));
    applying = done.catch(() => undefined);
    return done;
  };

  return {
    config,
    api,
    access,
    gallery,
    log: eventLog,
    bus,
    metrics,
    get sinks() {
      return outputs.sinks;
    },
    fleet,
    recognition,
    update,
    done: access.done,
    close: async () => {
      if (lifetime.closed) return;
      // Sources first, and their in-flight work finished, so the last events are in the log
      // before the sinks and the API close; then every part in reverse order of its start.
      access.stop();
      await access.drain();
      for (const f of await lifetime.close()) log.warn({ part: f.name, err: f.error }, 'a part failed to stop');
    },
  };
}
