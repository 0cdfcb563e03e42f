/**
 * What the box says about itself: every published event counted once for /metrics (whoever
 * published it: the pipeline, an identity audit, system.health), the per-camera counters sampled
 * into Prometheus once a second, and a system.health event every `healthIntervalMs` (cameras,
 * fps, losses, sinks, model p95), logged and published like any event so WebSocket clients and MQTT
 * see it too.
 */
import { histogramP95ByLabel, type Metrics } from '../api/metrics.ts';
import type { EventBus, EventLog, Event } from '../events/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import type { AccessControl } from '../../streams/access-control.ts';
import type { CameraEntry } from '../config/index.ts';
import { cameraViews, countsOf, CountDeltas, ZERO_COUNTS } from './camera-counts.ts';
import { systemHealthEvent, type SinkHealthSample } from './health.ts';

export interface TelemetryOptions {
  readonly metrics: Metrics;
  readonly bus: EventBus;
  readonly eventLog: EventLog;
  readonly log: Logger;
  readonly access: Pick<AccessControl, 'counters' | 'gateStats' | 'cameraIds'>;
  /** The configured cameras, read at each sample (hot reload adds and removes them). */
  readonly cameras: () => readonly CameraEntry[];
  /** Every sink's health (MQTT, the fleet forwarder, the area link), read at each system.health. */
  readonly sinks: () => readonly SinkHealthSample[];
  readonly healthIntervalMs?: number | undefined;
  /** Called for every event after it is logged and published. */
  readonly onPublished?: ((event: Event) => void) | undefined;
}

export function startTelemetry(o: TelemetryOptions, lifetime: Lifetime): { readonly startedMs: number } {
  const { metrics, access } = o;
  const countEvent = (e: Event): void => {
    metrics.eventsPublished.inc({ type: e.type });
    if (e.type === 'gate.granted' || e.type === 'gate.denied') {
      const d = e.data as { reason?: string; livenessEvidence?: { score?: number } };
      metrics.gateDecisions.inc({ gate: e.gateId ?? '', decision: e.type.slice(5), reason: d.reason ?? '' });
      if (typeof d.livenessEvidence?.score === 'number') metrics.livenessScore.observe({ decision: e.type.slice(5) }, d.livenessEvidence.score);
    }
    // Frame capture (wall clock) to event published: the latency a subscriber sees.
    if (e.type.startsWith('face.') || e.type.startsWith('gate.')) metrics.stageLatency.observe({ stage: 'frame-to-event' }, Math.max(0, Date.now() - e.timeMs));
    o.onPublished?.(e);
  };
  const counting = o.bus.events$.subscribe(countEvent);
  lifetime.add('event counters', () => counting.unsubscribe());

  // Counters to Prometheus: the stream keeps plain cumulative counts, sampled once a second.
  const metricDeltas = new CountDeltas();
  let cooldownRepeatsSeen = 0;
  const sampler = setInterval(() => {
    for (const [id, d] of metricDeltas.next(countsOf(access))) {
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

  const startedMs = Date.now();
  let closed = false;
  let healthAtMs = startedMs;
  const healthDeltas = new CountDeltas();
  const publishHealth = async (): Promise<void> => {
    const nowMs = Date.now();
    const dtS = Math.max(0.001, (nowMs - healthAtMs) / 1000);
    healthAtMs = nowMs;
    const deltas = healthDeltas.next(countsOf(access));
    const cameras = cameraViews(o.cameras(), access).map(({ id, status }) => {
      const d = deltas.get(id) ?? ZERO_COUNTS;
      return { id, status, fpsIn: d.in / dtS, fpsProcessed: d.processed / dtS, lostPerS: d.ingestLost / dtS };
    });
    const event = systemHealthEvent({
      nowMs,
      uptimeMs: nowMs - startedMs,
      rssBytes: process.memoryUsage().rss,
      cameras,
      sinks: o.sinks().map((h) => ({ name: h.name, connected: h.connected, lag: h.lag, lastError: h.lastError, ...(h.warning === undefined ? {} : { warning: h.warning }) })),
      modelP95Ms: await histogramP95ByLabel(metrics.modelRun, 'model'),
      eventLogLastId: o.eventLog.lastId(),
    });
    if (!closed) o.bus.publish(event);
  };
  const healthTimer = setInterval(() => {
    publishHealth().catch((err: unknown) => o.log.warn({ err }, 'system.health not published'));
  }, o.healthIntervalMs ?? 30_000);
  healthTimer.unref();
  lifetime.add('system.health', () => {
    closed = true;
    clearInterval(healthTimer);
  });
  return { startedMs };
}
