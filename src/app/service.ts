/**
 * The running facegate service: one config in, everything started from it as parts — storage,
 * models, the access-control stream, sinks, fleet, telemetry, the API — each registered in one
 * Lifetime and closed together. The config in force is `config$`: every part follows its own
 * slice of it (cameras one by one, the gate set with its state carried over, the MQTT sink, Home
 * Assistant entities, the log level), so update(next) only loads what new cameras need, moves the
 * config on and waits for the parts to settle. Sections that need new model sessions or another
 * port are reported as needing a restart rather than half-applied.
 */
import { BehaviorSubject } from 'rxjs';
import { startApiServer, type ApiServer } from '../api/server.ts';
import { createMetrics, type Metrics } from '../api/metrics.ts';
import type { Config } from '../config/index.ts';
import type { Event, EventBus, EventLog } from '../events/index.ts';
import type { FleetEdge } from '../fleet/edge.ts';
import type { Gallery } from '../gallery/index.ts';
import { Followers } from '../lib/follow.ts';
import { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import type { SinkRunner } from '../outputs/index.ts';
import type { RecognitionSettings } from '../pipeline/index.ts';
import type { AccessControl } from '../../streams/access-control.ts';
import { apiServerOptions } from './api-options.ts';
import { boxApiDeps } from './box-api.ts';
import { createGateApi } from './gate-api.ts';
import { startServiceFleet } from './fleet.ts';
import { startServiceDoors } from './doors.ts';
import { createUploadEnrollment, enrollmentRulesOf } from './identities.ts';
import { startServiceModels } from './models.ts';
import { startServicePipeline } from './pipeline.ts';
import { assertPortFree, portError } from './port.ts';
import { startServiceSinks } from './sinks.ts';
import { openStorage } from './storage.ts';
import { startTelemetry } from './telemetry.ts';
import { createUpdater } from './update.ts';

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
  /** The YAML file the config came from: the API's config editor writes it (src/app/config-api.ts). */
  readonly configFile?: string;
}

export interface Service {
  readonly config: () => Config;
  readonly api: ApiServer;
  readonly access: AccessControl;
  readonly gallery: Gallery;
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly metrics: Metrics;
  /** The event sinks (MQTT, the fleet forwarder and snapshot uploader) and their health. */
  readonly sinks: SinkRunner;
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
  const config$ = new BehaviorSubject<Config>(initial);
  const config = (): Config => config$.value;
  const follow = new Followers(config$, (part, err) => log.error({ part, err }, 'a part failed to follow the config change'));
  lifetime.add('config followers', () => follow.close());
  follow.follow('log level', (c) => c.logging.level, (level) => void (log.level = level), { skipFirst: true });
  // Storage first: a bad path fails here, before any model is loaded.
  const storage = openStorage(initial, log, lifetime, config);
  const { gallery, eventLog, bus, snapshots } = storage;
  const { models, recognition } = await startServiceModels(initial, { metrics, log, gallery, lifetime, started });
  const { access, liveFrames, gates, manual$, areaInputs$ } = startServicePipeline(config$, { storage, models, recognition, log }, follow, lifetime);
  const enrollment = createUploadEnrollment({ detectorOptions: models.detectorOptions, embedder: models.embedderRaw, rules: () => enrollmentRulesOf(config().recognition.enrollment) });
  follow.follow('negative-anchor margin', (c) => c.recognition.negativeMargin, (m) => gallery.setNegativeMargin(m), { skipFirst: true });
  lifetime.add('enrollment', () => enrollment.close());
  const gateApi = createGateApi(gates, () => access.gateState$.value, manual$);

  const doors = startServiceDoors(initial, { bus, log, identities: gallery }, follow, lifetime);
  const sinks = startServiceSinks(initial, { bus, logger: log, metrics, config, access, gates, gateApi, snapshots, doorMode: (gateId, mode, by, reason) => doors.setMode(gateId, mode, by, reason) }, follow, lifetime);
  const fleet = startServiceFleet(initial, { gallery, eventLog, bus, sinks, snapshots, gates, areaInputs$, log }, lifetime);
  const telemetry = { metrics, bus, eventLog, log, access, cameras: () => config().cameras, sinks: () => [...sinks.runner.health(), ...fleet.areaHealth(), ...doors.health()], healthIntervalMs: opts.healthIntervalMs, onPublished: opts.onPublished };
  const { startedMs } = startTelemetry(telemetry, lifetime);

  started();
  const apiOptions = apiServerOptions(initial, opts.port);
  const update = createUpdater(config$, models, follow, log);
  const deps = boxApiDeps({ ...storage, configFile: opts.configFile, applyConfig: update, config, cameraEntries: () => config().cameras, metrics, log, access, models, enrollment, gates: gateApi, doors, liveFrames, fleetEdge: fleet.edge !== undefined, unmaskedThreshold: () => recognition.thresholds.unmasked, startedMs });
  const api = await startApiServer(deps, apiOptions).catch((e: unknown) => {
    throw portError(e, apiOptions) ?? e;
  });
  lifetime.add('api', () => api.close());
  await follow.settled();
  started();
  log.info({ url: api.url, cameras: initial.cameras.map((c) => c.id), gates: gates().map((g) => g.id), identities: gallery.stats().identities }, 'facegate running');

  return {
    config,
    api,
    access,
    gallery,
    log: eventLog,
    bus,
    metrics,
    sinks: sinks.runner,
    fleet: fleet.edge,
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
