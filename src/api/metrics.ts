import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric facegate exports, on one registry per process (or per test). */
export interface Metrics {
  readonly registry: Registry;
  readonly framesIn: Counter<'camera'>;
  readonly framesProcessed: Counter<'camera'>;
  readonly framesDropped: Counter<'camera' | 'stage'>;
  readonly stageLatency: Histogram<'stage'>;
  readonly modelRun: Histogram<'model'>;
  readonly wsClients: Gauge;
  readonly wsDropped: Counter<'reason'>;
  readonly gateDecisions: Counter<'gate' | 'decision' | 'reason'>;
  /** Re-sightings within a gate's cooldown: no decision event (not a denial), counted here. */
  readonly gateCooldownRepeats: Counter;
  /** The track liveness score each decision of a gate requiring liveness rested on (where live and attacks fall against the threshold). */
  readonly livenessScore: Histogram<'decision'>;
  readonly eventsPublished: Counter<'type'>;
  /** TCP connections (HTTP + WebSocket) the API server holds now. */
  readonly connectionsOpen: Gauge;
  /** Connections refused or cut by the API server: max-connections, max-per-address, request-timeout, client-error. */
  readonly connectionsRejected: Counter<'reason'>;
  /** Failed authentications: missing-token, invalid-token, insufficient-role. */
  readonly authFailures: Counter<'reason'>;
  /** Requests and upgrades answered 429 because their address failed authentication too often. */
  readonly authRateLimited: Counter;
  /** Image-decoding requests (photo uploads, naming an unknown) admitted now, and those refused (busy, wait-timeout). */
  readonly uploadsInFlight: Gauge;
  readonly uploadsRefused: Counter<'reason'>;
  /** Log lines dropped by a rate-limited log (a flood is summarised, not written line by line). */
  readonly logSuppressed: Counter<'topic'>;
  /** Event sinks (src/outputs): events in the log after the sink's cursor. */
  readonly sinkLag: Gauge<'sink'>;
  readonly sinkDelivered: Counter<'sink'>;
  /** Failed delivery attempts (each retried from the cursor). */
  readonly sinkFailed: Counter<'sink'>;
  /** Transport re-established after a loss (a gauge: the sink counts, the runner copies). */
  readonly sinkReconnects: Gauge<'sink'>;
  readonly sinkConnected: Gauge<'sink'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'facegate_' });
  const ms = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
  return {
    registry,
    framesIn: new Counter({ name: 'facegate_frames_in_total', help: 'Frames delivered by the camera pipeline', labelNames: ['camera'], registers: [registry] }),
    framesProcessed: new Counter({ name: 'facegate_frames_processed_total', help: 'Frames that went through detection', labelNames: ['camera'], registers: [registry] }),
    framesDropped: new Counter({ name: 'facegate_frames_dropped_total', help: 'Frames dropped per stage: ingest (lost before JS: leaky queue, decoder behind, network), detect and recognize (latest-frame-wins)', labelNames: ['camera', 'stage'], registers: [registry] }),
    stageLatency: new Histogram({ name: 'facegate_stage_latency_ms', help: 'Latency per stage in ms', labelNames: ['stage'], buckets: ms, registers: [registry] }),
    modelRun: new Histogram({ name: 'facegate_model_run_ms', help: 'ONNX Runtime run time per model in ms', labelNames: ['model'], buckets: ms, registers: [registry] }),
    wsClients: new Gauge({ name: 'facegate_ws_clients', help: 'Connected WebSocket clients', registers: [registry] }),
    wsDropped: new Counter({ name: 'facegate_ws_clients_dropped_total', help: 'WebSocket clients closed by the server', labelNames: ['reason'], registers: [registry] }),
    gateDecisions: new Counter({ name: 'facegate_gate_decisions_total', help: 'Gate decisions by gate, decision and reason', labelNames: ['gate', 'decision', 'reason'], registers: [registry] }),
    livenessScore: new Histogram({ name: 'facegate_liveness_score', help: 'Track liveness score (median of its frames) per decision of a gate that requires liveness, by decision (granted / denied)', labelNames: ['decision'], buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1], registers: [registry] }),
    gateCooldownRepeats: new Counter({ name: 'facegate_gate_cooldown_repeats_total', help: 'People recognised again within a gate cooldown (no decision event)', registers: [registry] }),
    eventsPublished: new Counter({ name: 'facegate_events_published_total', help: 'Events written to the log and published', labelNames: ['type'], registers: [registry] }),
    connectionsOpen: new Gauge({ name: 'facegate_connections_open', help: 'Open TCP connections to the API (HTTP + WebSocket)', registers: [registry] }),
    connectionsRejected: new Counter({ name: 'facegate_connections_rejected_total', help: 'API connections refused (limits) or cut (timeouts, malformed requests)', labelNames: ['reason'], registers: [registry] }),
    authFailures: new Counter({ name: 'facegate_auth_failures_total', help: 'Failed authentications on the API (HTTP and WebSocket upgrade)', labelNames: ['reason'], registers: [registry] }),
    uploadsInFlight: new Gauge({ name: 'facegate_uploads_in_flight', help: 'Image-decoding API requests admitted now (decoding, reading their body or waiting for a turn)', registers: [registry] }),
    uploadsRefused: new Counter({ name: 'facegate_uploads_refused_total', help: 'Image-decoding API requests answered 503: busy (queue full) or wait-timeout', labelNames: ['reason'], registers: [registry] }),
    authRateLimited: new Counter({ name: 'facegate_auth_rate_limited_total', help: 'API requests answered 429: too many failed authentications from their address', registers: [registry] }),
    logSuppressed: new Counter({ name: 'facegate_log_lines_suppressed_total', help: 'Log lines not written by a rate-limited log, per topic', labelNames: ['topic'], registers: [registry] }),
    sinkLag: new Gauge({ name: 'facegate_sink_lag_events', help: 'Events in the log not yet delivered by an output sink (after its cursor)', labelNames: ['sink'], registers: [registry] }),
    sinkDelivered: new Counter({ name: 'facegate_sink_delivered_total', help: 'Events delivered by an output sink', labelNames: ['sink'], registers: [registry] }),
    sinkFailed: new Counter({ name: 'facegate_sink_failed_total', help: 'Failed delivery attempts of an output sink (retried from its cursor)', labelNames: ['sink'], registers: [registry] }),
    sinkReconnects: new Gauge({ name: 'facegate_sink_reconnects', help: 'Times an output sink re-established its connection since start', labelNames: ['sink'], registers: [registry] }),
    sinkConnected: new Gauge({ name: 'facegate_sink_connected', help: '1 when an output sink can deliver (e.g. connected to its broker)', labelNames: ['sink'], registers: [registry] }),
  };
}

/** A histogram's cumulative buckets per label value, sorted by upper bound. */
async function bucketsByLabel<L extends string>(h: Histogram<L>, label: L): Promise<Map<string, { le: number; count: number }[]>> {
  const buckets = new Map<string, { le: number; count: number }[]>();
  for (const v of (await h.get()).values) {
    const labels = v.labels as Readonly<Record<string, string | number | undefined>>;
    const name = labels[label];
    if (v.metricName?.endsWith('_bucket') && typeof name === 'string' && labels.le !== undefined) {
      const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      buckets.set(name, [...(buckets.get(name) ?? []), { le, count: v.value }]);
    }
  }
  for (const bs of buckets.values()) bs.sort((a, b) => a.le - b.le);
  return buckets;
}

/** The upper bound of the first bucket holding fraction p of the observations (undefined past the last finite bucket). */
function bucketQuantile(bs: readonly { le: number; count: number }[], p: number): number | undefined {
  const total = bs[bs.length - 1]?.count ?? 0;
  const hit = bs.find((b) => b.count >= p * total);
  return total > 0 && hit && Number.isFinite(hit.le) ? hit.le : undefined;
}

/**
 * p95 per label value of a prom-client histogram, from its cumulative buckets (the upper bound of
 * the first bucket holding 95% of the observations: coarse, but what the histogram knows).
 */
export async function histogramP95ByLabel<L extends string>(h: Histogram<L>, label: L): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, bs] of await bucketsByLabel(h, label)) {
    const p95 = bucketQuantile(bs, 0.95);
    if (p95 !== undefined) out[name] = p95;
  }
  return out;
}

/**
 * p50 / p99 and count per label value of a histogram, from its cumulative buckets (upper bound of
 * the first bucket reaching the quantile; undefined past the last finite bucket).
 */
export async function histogramSummaryByLabel<L extends string>(h: Histogram<L>, label: L): Promise<Record<string, { p50Ms?: number; p99Ms?: number; count: number }>> {
  const out: Record<string, { p50Ms?: number; p99Ms?: number; count: number }> = {};
  for (const [name, bs] of await bucketsByLabel(h, label)) {
    const p50 = bucketQuantile(bs, 0.5);
    const p99 = bucketQuantile(bs, 0.99);
    out[name] = { count: bs[bs.length - 1]?.count ?? 0, ...(p50 !== undefined ? { p50Ms: p50 } : {}), ...(p99 !== undefined ? { p99Ms: p99 } : {}) };
  }
  return out;
}
