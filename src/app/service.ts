/**
 * The running facegate service: one config in, everything started from it — gallery, event log +
 * bus, snapshots, shared model sessions, the access-control stream (streams/access-control.ts)
 * and the HTTP/WebSocket API — and a reload(next, diff) that applies a hot-reloaded config by
 * restarting only what changed (cameras one by one, the gate set with its state carried over,
 * tokens and log level in place). Sections that need new model sessions or another port are
 * reported as needing a restart rather than half-applied.
 */
import { Subject } from 'rxjs';
import { startApiServer, type ApiServer, type GateApi } from '../api/server.ts';
import { createMetrics, histogramP95ByLabel, type Metrics } from '../api/metrics.ts';
import { cameraStartDelayMs, describeProviders, ingestCameraConfig, type Config, type ConfigDiff } from '../config/index.ts';
import { EventBus, EventLog, MAX_PAGE, SnapshotStore, type Event } from '../events/index.ts';
import { openGallery, type Gallery } from '../gallery/index.ts';
import { ensureTemplatesFor } from '../recognize/index.ts';
import { parseGates, type AreaInput, type GatePolicy, type ManualRequest } from '../gates/index.ts';
import type { CameraConfig } from '../ingest/index.ts';
import type { Logger } from '../log.ts';
import { cameraCounts, CountDeltas, ingestLost, ZERO_COUNTS, type CameraCounts } from './camera-counts.ts';
import { systemHealthEvent } from './health.ts';
import { loadServiceModels, recognitionSettings } from './models.ts';
import { createUploadEnrollment } from './identities.ts';
import { LiveFrames } from './live-frames.ts';
import { createUnknownsApi } from './unknowns.ts';
import { createCheckedIdentityApi, createPhotoApi, createSystemInfo, webRoot } from './dashboard.ts';
import { readFile } from 'node:fs/promises';
import type { SinkRunner } from '../outputs/index.ts';
import { startServiceOutputs } from './outputs.ts';
import { refusingIdentityApi, refusingUnknownsApi, snapshotFile, startFleetEdge, type FleetEdge } from '../fleet/edge.ts';
import { startAccessControl, type AccessControl, type RecognitionSettings } from '../../streams/access-control.ts';
import { apiServerOptions } from './api-options.ts';
import { assertPortFree, portError } from './port.ts';
import { Lifetime } from '../lib/lifetime.ts';

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
  reload(next: Config, diff: ConfigDiff): Promise<string[]>;
  /** Resolves when every camera source has ended (file sources played once). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

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
  let config = initial;
  // Storage first: a bad path fails here, before any model is loaded.
  const gallery = openGallery(config.gallery.db);
  lifetime.add('gallery', () => gallery.close());
  const eventLog = new EventLog(config.events.db, { retention: { maxAgeMs: config.events.retention.maxAgeDays * DAY_MS, maxCount: config.events.retention.maxEvents } });
  lifetime.add('event log', () => eventLog.close());
  const bus = new EventBus(eventLog);
  lifetime.add('event bus', () => bus.close());
  const snapshots = new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * DAY_MS, maxFiles: 100_000 });

  // Shared model sessions (src/app/models.ts): one per detector tier x size, one embedder, mask and liveness.
  const models = await loadServiceModels(config.models, metrics, log);
  lifetime.add('models', () => models.close());
  started();
  const { embedderRaw, embedder, mask, liveness } = models;
  // A model change needs nobody re-enrolled: templates for the configured embedder are built from
  // the stored enrollment crops (once; later starts find nothing missing). It warns, by name,
  // about identities enrolled before crops were kept: they must be enrolled again.
  await ensureTemplatesFor(gallery, embedderRaw, log);
  const recognition = recognitionSettings(config.recognition, embedder.modelId);
  log.info({ embedder: embedder.modelId, thresholds: recognition.thresholds, source: recognition.source }, 'recognition thresholds');

  for (const c of config.cameras) await models.ensureDetector(c);
  started();

  const manual$ = new Subject<ManualRequest>();
  lifetime.add('manual requests', () => manual$.complete());
  // Fleet mode: the passage follower (started below with the fleet edge) feeds the gates' areas.
  const areaInputs$ = new Subject<AreaInput>();
  let gates: readonly GatePolicy[] = parseGates(config.gates);
  // Every event the bus publishes (pipeline, identity audit, system.health) is counted here, once.
  const countEvent = (e: Event): void => {
    metrics.eventsPublished.inc({ type: e.type });
    if (e.type === 'gate.granted' || e.type === 'gate.denied') {
      const d = e.data as { reason?: string };
      metrics.gateDecisions.inc({ gate: e.gateId ?? '', decision: e.type.slice(5), reason: d.reason ?? '' });
    }
    // Frame capture (wall clock) to event published: the latency a subscriber sees.
    if (e.type.startsWith('face.') || e.type.startsWith('gate.')) metrics.stageLatency.observe({ stage: 'frame-to-event' }, Math.max(0, Date.now() - e.timeMs));
    opts.onPublished?.(e);
  };
  const counting = bus.events$.subscribe(countEvent);
  lifetime.add('event counters', () => counting.unsubscribe());

  const cameraEntries = new Map(config.cameras.map((c) => [c.id, c]));
  // The dashboard's live tiles: the newest frame per camera, encoded only when someone watches.
  const liveFrames = new LiveFrames();
  const access = startAccessControl({
    onFrame: liveFrames.onFrame,
    cameras: config.cameras.map((c) => ingestCameraConfig(c, models.detectorFor(c.id)?.size)),
    models: {
      detectorFor: (camera: CameraConfig) => {
        const det = models.detectorFor(camera.id);
        if (!det) throw new Error(`no detector prepared for camera ${camera.id}`);
        return det;
      },
      embedder,
      mask,
      liveness,
    },
    gallery,
    gates,
    bus,
    snapshots,
    settings: recognition,
    startStaggerMs: config.limits.cameraStartStaggerMs,
    manual: manual$,
    areaInputs: areaInputs$,
    logger: log,
    // Read per recognition: a hot-reloaded camera's new zones apply at once.
    zonesFor: (id) => cameraEntries.get(id)?.zones ?? [],
  });
  lifetime.add('cameras', async () => {
    access.stop();
    await access.drain();
  });

  // Counters to Prometheus: the stream keeps plain cumulative counts, sampled once a second.
  const countsNow = (): Map<string, CameraCounts> => new Map([...access.counters].map(([id, c]) => [id, cameraCounts(c)]));
  const metricDeltas = new CountDeltas();
  const sampler = setInterval(() => {
    for (const [id, d] of metricDeltas.next(countsNow())) {
      // Frames lost before JS (leaky queue, decoder behind, network): under overload most losses are here.
      metrics.framesDropped.inc({ camera: id, stage: 'ingest' }, d.ingestLost);
      metrics.framesIn.inc({ camera: id }, d.in);
      metrics.framesProcessed.inc({ camera: id }, d.processed);
      metrics.framesDropped.inc({ camera: id, stage: 'detect' }, d.detectDropped);
      metrics.framesDropped.inc({ camera: id, stage: 'recognize' }, d.recognizeDropped);
    }
    metrics.gateCooldownRepeats.inc(Math.max(0, access.gateStats.cooldownRepeats - cooldownRepeatsSeen));
    cooldownRepeatsSeen = access.gateStats.cooldownRepeats;
  }, 1000);
  sampler.unref();
  lifetime.add('metrics sampler', () => clearInterval(sampler));
  let cooldownRepeatsSeen = 0;
  // Retention: events and snapshots pruned hourly (and once at start).
  const prune = (): void => {
    try {
      eventLog.prune(Date.now());
      void snapshots.prune(Date.now()).catch((err: unknown) => log.warn({ err }, 'snapshot prune failed'));
    } catch (err) {
      log.warn({ err }, 'event log prune failed');
    }
  };
  prune();
  const pruner = setInterval(prune, 3_600_000);
  pruner.unref();
  lifetime.add('retention', () => clearInterval(pruner));

  const enrollment = createUploadEnrollment({ detectorOptions: models.detectorOptions, embedder: embedderRaw });
  lifetime.add('enrollment', () => enrollment.close());
  // An area gate also says how current its area state is (fleet mode: fresh / stale; else local).
  const gateView = (g: GatePolicy) => {
    const state = access.gateState$.value;
    const ap = g.antiPassback;
    const antiPassback = ap === undefined ? null : ap.area !== undefined ? { area: ap.area, direction: ap.direction, state: state.areaSync.mode, ...(state.areaSync.reason ? { reason: state.areaSync.reason } : {}) } : { pairedGateId: ap.pairedGateId, direction: ap.direction };
    return { id: g.id, name: g.name, cameras: g.cameras, manual: state.manual.get(g.id) ?? null, antiPassback };
  };
  const gateApi: GateApi = {
    list: () => gates.map(gateView),
    get: (id) => {
      const g = gates.find((x) => x.id === id);
      return g ? gateView(g) : undefined;
    },
    manual: async (gateId, action, by, reason) => {
      manual$.next({ gateId, action, by, reason: reason || '(no reason given)', timeMs: Date.now() });
      return { ok: true, gateId, action };
    },
  };

  // Output sinks (src/app/outputs.ts): each fed from the log after its own cursor, so a broker
  // that is down or slow never reaches the pipeline; a changed events.outputs applies on reload.
  const cameraStatus = (id: string): 'up' | 'down' | undefined => {
    const h = access.counters.get(id)?.health?.type;
    return h === undefined || h === 'camera.starting' ? undefined : h === 'camera.up' ? 'up' : 'down';
  };
  const outputs = startServiceOutputs(config.events.outputs, {
    bus,
    eventsDb: config.events.db,
    logger: log,
    metrics,
    cameras: () => [...cameraEntries.values()].map((c) => ({ id: c.id, name: c.name ?? c.id, status: cameraStatus(c.id) })),
    gates: () => gates.map((g) => ({ id: g.id, name: g.name ?? g.id, heldOpen: gateView(g).manual !== null })),
    snapshot: async (id) => readFile(snapshots.path(id, 'face')).catch(() => undefined),
    manual: (gateId, action, by, reason) => gateApi.manual(gateId, action, by, reason),
  });
  lifetime.add('outputs', () => outputs.close());

  // Fleet mode (src/fleet, issue 10): the log forwarded to the hub after its own cursor, the
  // gallery following the hub's; gates keep deciding here whatever the network does.
  const fleet: FleetEdge | undefined =
    config.fleet?.role === 'edge'
      ? startFleetEdge({ fleet: config.fleet, gallery, bus, eventsDb: config.events.db, logger: log, metrics, snapshotPath: (id, kind) => snapshotFile(snapshots, id, kind), hasAreaGates: () => gates.some((g) => g.antiPassback?.area !== undefined) })
      : undefined;
  if (fleet) lifetime.add('fleet', () => fleet.close());
  const areaFeed = fleet?.passages.inputs$.subscribe(areaInputs$);
  if (areaFeed) lifetime.add('area feed', () => areaFeed.unsubscribe());
  // Area gates name the area state in system.health (stale: the box decides from local state).
  const areaHealth = () => (fleet && gates.some((g) => g.antiPassback?.area !== undefined) ? [{ name: 'fleet-areas', connected: fleet.passages.status().mode === 'fresh', lag: 0, lastError: fleet.passages.status().reason }] : []);

  // system.health every healthIntervalMs: the whole box at a glance (cameras, fps, losses, sinks,
  // model p95), logged and published like any event, so WS clients and MQTT see it too.
  const startedMs = Date.now();
  let closed = false;
  let healthAtMs = startedMs;
  const healthDeltas = new CountDeltas();
  const publishHealth = async (): Promise<void> => {
    const nowMs = Date.now();
    const dtS = Math.max(0.001, (nowMs - healthAtMs) / 1000);
    healthAtMs = nowMs;
    const deltas = healthDeltas.next(countsNow());
    const cameras = [...cameraEntries.values()].map((c) => {
      const d = deltas.get(c.id) ?? ZERO_COUNTS;
      return { id: c.id, status: access.counters.get(c.id)?.health?.type ?? 'starting', fpsIn: d.in / dtS, fpsProcessed: d.processed / dtS, lostPerS: d.ingestLost / dtS };
    });
    const event = systemHealthEvent({
      nowMs,
      uptimeMs: nowMs - startedMs,
      rssBytes: process.memoryUsage().rss,
      cameras,
      sinks: [...[...(outputs.sinks?.health() ?? []), ...(fleet?.health() ?? [])].map((h) => ({ name: h.name, connected: h.connected, lag: h.lag, lastError: h.lastError, ...(h.warning === undefined ? {} : { warning: h.warning }) })), ...areaHealth()],
      modelP95Ms: await histogramP95ByLabel(metrics.modelRun, 'model'),
      eventLogLastId: eventLog.lastId(),
    });
    if (!closed) bus.publish(event);
  };
  const healthTimer = setInterval(() => {
    publishHealth().catch((err: unknown) => log.warn({ err }, 'system.health not published'));
  }, opts.healthIntervalMs ?? 30_000);
  healthTimer.unref();
  lifetime.add('system.health', () => {
    closed = true;
    clearInterval(healthTimer);
  });

  // The API's identity management: as above, plus the dashboard's look-alike check on every photo.
  const apiIdentities = createCheckedIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (event) => bus.publish(event), logger: log, threshold: () => recognition.thresholds.unmasked });
  started();
  const api = await startApiServer(
    {
      events: {
        lastId: () => eventLog.lastId(),
        replayThenLive: (since, filter) => bus.replayThenLive(since, filter),
        // A box's events carry no fleet origin: a node or site query matches none of them (the hub's do).
        query: (q) => (q.nodeId !== undefined || q.site !== undefined ? [] : eventLog.query(q)),
      },
      tokens: () => config.auth.tokens,
      metrics,
      identities: fleet ? refusingIdentityApi(apiIdentities) : apiIdentities,
      gates: gateApi,
      cameras: () =>
        [...cameraEntries.values()].map((c) => {
          const k = access.counters.get(c.id);
          const h = k?.health;
          const s = k?.ingest?.();
          const ingest = s && k && { delivered: s.delivered, droppedInPipeline: s.droppedInPipeline, missedByPts: s.missedByPts, lost: ingestLost(k), starts: s.starts };
          return { id: c.id, name: c.name ?? c.id, running: access.cameraIds().includes(c.id), status: h?.type ?? 'starting', ingest, detect: k?.detect, recognize: k?.recognize };
        }),
      snapshotPath: (id, kind) => {
        try {
          return snapshots.path(id, kind);
        } catch {
          return undefined;
        }
      },
      ready: () => access.cameraIds().length > 0 || config.cameras.length === 0,
      logger: log,
      // The operator dashboard (src/app/dashboard.ts, live-frames.ts, unknowns.ts; bundle in web/dist).
      liveFrames,
      photos: createPhotoApi(gallery),
      unknowns: ((u) => (fleet ? refusingUnknownsApi(u) : u))(createUnknownsApi({
        gallery,
        recentUnknownEvents: (limit) => eventLog.query({ types: ['face.unknown'], order: 'desc', limit }),
        mergeHistory: () => eventLog.query({ types: ['unknown.merged'], order: 'asc', limit: MAX_PAGE }),
        snapshotFile: (id) => {
          try {
            return snapshots.path(id, 'face');
          } catch {
            return undefined;
          }
        },
        identities: apiIdentities,
        publish: (event) => bus.publish(event),
        logger: log,
      })),
      system: createSystemInfo({
        metrics,
        startedMs,
        models: () => ({ ...config.models, detectors: models.detectors() }),
        executionProvider: () => describeProviders(config.models),
        eventLog: () => ({ lastId: eventLog.lastId(), count: eventLog.count() }),
      }),
      webRoot: webRoot(),
    },
    apiServerOptions(config, opts.port),
  ).catch((e: unknown) => {
    throw portError(e, apiServerOptions(config, opts.port)) ?? e;
  });
  lifetime.add('api', () => api.close());
  started();
  log.info({ url: api.url, cameras: config.cameras.map((c) => c.id), gates: gates.map((g) => g.id), identities: gallery.stats().identities }, 'facegate running');

  const reload = async (next: Config, diff: ConfigDiff): Promise<string[]> => {
    const restart: string[] = [];
    for (const s of ['server', 'models', 'recognition', 'events', 'gallery', 'fleet'] as const) if (diff[s]) restart.push(s);
    if (diff.auth && next.auth.enabled !== config.auth.enabled) restart.push('auth.enabled');
    config = next; // tokens are read per request: a new token list applies at once.
    if (diff.logging) log.level = next.logging.level;
    const { added, removed, changed } = diff.cameras;
    for (const id of [...removed, ...changed]) {
      access.removeCamera(id);
      cameraEntries.delete(id);
      liveFrames.forget(id);
      log.info({ camera: id }, changed.includes(id) ? 'camera changed: restarting it' : 'camera removed');
    }
    for (const [i, id] of [...changed, ...added].entries()) {
      const entry = next.cameras.find((c) => c.id === id);
      if (!entry) continue;
      await models.ensureDetector(entry);
      cameraEntries.set(id, entry);
      access.addCamera(ingestCameraConfig(entry, models.detectorFor(id)?.size), cameraStartDelayMs(i, next.limits.cameraStartStaggerMs));
      if (added.includes(id)) log.info({ camera: id }, 'camera added');
    }
    // A detector session no camera uses any more (the last camera of its tier x size went) is released.
    if (removed.length || changed.length) await models.releaseUnused(access.cameraIds());
    if (diff.gates) {
      gates = parseGates(next.gates);
      access.setGates(gates);
      log.info({ gates: gates.map((g) => g.id) }, 'gates replaced (state carried over)');
    }
    // New cameras or gates: Home Assistant learns of them (and of the removed ones) at once.
    if (diff.outputs) await outputs.apply(next.events.outputs);
    else if (diff.gates || added.length || removed.length || changed.length) outputs.refresh();
    if (restart.length) log.warn({ sections: restart }, 'these settings take effect after a restart of facegate');
    return restart;
  };

  return {
    config: () => config,
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
    reload,
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
