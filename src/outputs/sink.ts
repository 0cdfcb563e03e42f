/**
 * One interface for every event output (MQTT, the fleet forwarder, the snapshot uploader) and the
 * one runner that feeds each sink from the durable event log after its own persisted cursor; sinks
 * are attached and detached as their config slices come and go.
 *
 * Why from the log and not from the bus: a sink that is down or slow must never slow the
 * pipeline, and must resume where it stopped after an outage or a restart. The runner listens to
 * the bus only to be woken (a function call per event, nothing queued); it reads the log in pages
 * after the sink's cursor, hands a page to the sink, and advances and persists the cursor only
 * when the sink says the page was delivered. Delivery is at-least-once: after a failure or a crash
 * the same page is offered again, and event ids make the duplicates detectable.
 */
import type { Subscription } from 'rxjs';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../lib/backoff.ts';
import type { Event, EventBus } from '../events/index.ts';
import type { Logger } from '../log.ts';
import { advanceCursor, sinkLag, startCursor, type CursorStore } from './cursor.ts';

/** What a sink itself knows about its transport. */
export interface SinkStatus {
  /** Can deliver now (e.g. connected to the broker). */
  readonly connected: boolean;
  /** Times the transport was re-established after a loss. */
  readonly reconnects: number;
  /** The last transport error, for a person (redacted). */
  readonly lastError: string | undefined;
  /**
   * Connected, but what is sent may not arrive (e.g. the broker never echoed a test message):
   * for a person, redacted; undefined when nothing is wrong.
   */
  readonly warning?: string | undefined;
}

/** SinkStatus plus what the runner counts. */
export interface SinkHealth extends SinkStatus {
  readonly name: string;
  /** The sink's cursor: the last event id delivered (or skipped as not for it). */
  readonly cursor: number;
  /** Events in the log after the cursor. */
  readonly lag: number;
  readonly delivered: number;
  /** Delivery attempts that failed (each retried from the cursor). */
  readonly failed: number;
}

export interface EventSink {
  /** Unique and stable: the key of the persisted cursor (e.g. 'mqtt'). */
  readonly name: string;
  /**
   * Where a sink that never ran (no stored cursor) starts: 'head' (default: live events from now
   * on, e.g. MQTT) or 'beginning' (the whole log, e.g. the fleet outbox: the hub gets the history
   * the box gathered before it joined).
   */
  readonly firstStart?: 'head' | 'beginning';
  /** Begin connecting. Must not throw because the far end is down: the service starts anyway. */
  start(): Promise<void>;
  /** Release the transport (publish what a clean goodbye needs first). */
  stop(): Promise<void>;
  /** Events this sink wants; the others advance the cursor without a delivery. */
  accepts(event: Event): boolean;
  /**
   * Deliver events in order. Resolves when the far end has them (e.g. QoS 1 PUBACKs); rejects
   * when it cannot (the runner retries the same events later). Called with one page at a time.
   */
  deliver(events: readonly Event[]): Promise<void>;
  status(): SinkStatus;
  /** Call `listener` whenever the sink can deliver again (wakes the runner at once); returns the remover. */
  onReady(listener: () => void): () => void;
}

export interface SinkRunnerOptions {
  readonly bus: EventBus;
  readonly cursors: CursorStore;
  readonly logger: Logger;
  /** Events per delivery (default 200). */
  readonly pageSize?: number | undefined;
  /** Retry delays after a failed delivery (default 250 ms doubling to 30 s). */
  readonly backoff?: BackoffOptions | undefined;
  /** Counters and gauges per sink (src/api/metrics.ts). */
  readonly metrics?: SinkMetrics | undefined;
  readonly now?: () => number;
}

/** The metric hooks the runner feeds; Prometheus in the service. */
export interface SinkMetrics {
  readonly sinkLag: { set(labels: { sink: string }, value: number): void };
  readonly sinkDelivered: { inc(labels: { sink: string }, value?: number): void };
  readonly sinkFailed: { inc(labels: { sink: string }, value?: number): void };
  readonly sinkReconnects: { set(labels: { sink: string }, value: number): void };
  readonly sinkConnected: { set(labels: { sink: string }, value: number): void };
}

/** The cameras' reconnect schedule (250 ms doubling to 30 s, jittered): one policy for every transport. */
export const DEFAULT_SINK_BACKOFF: BackoffOptions = DEFAULT_BACKOFF;

interface Runner {
  readonly sink: EventSink;
  cursor: number;
  delivered: number;
  failed: number;
  attempt: number;
  busy: boolean;
  /** Woken while busy: read the log again before going idle. */
  dirty: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The pass in progress (stop() lets it finish so a delivered page's cursor is kept). */
  inflight: Promise<void>;
  /** Detached: its pump does nothing any more (its onReady listener is removed). */
  detached: boolean;
  /** Removes the runner's onReady listener from the sink. */
  offReady: () => void;
}

export interface SinkRunner {
  health(): SinkHealth[];
  /** Wake every sink (e.g. after a config change made a sink re-announce). */
  wake(): void;
  /** Start feeding one more sink, from its persisted cursor (a sink that follows its config slice). */
  attach(sink: EventSink): void;
  /** Stop feeding one sink and stop it, keeping its cursor (the next sink of that name resumes there). */
  detach(name: string): Promise<void>;
  /** Stop feeding, stop every sink, keep the cursors. */
  stop(): Promise<void>;
}

/**
 * Start feeding `sinks`. Each sink starts at its persisted cursor (a new sink at the log head).
 * Returns at once; sinks connect in the background.
 */
export function runSinks(sinks: readonly EventSink[], opts: SinkRunnerOptions): SinkRunner {
  const { bus, cursors, logger } = opts;
  const now = opts.now ?? Date.now;
  const pageSize = Math.max(1, Math.floor(opts.pageSize ?? 200));
  const backoff = opts.backoff ?? DEFAULT_SINK_BACKOFF;
  const m = opts.metrics;
  let stopped = false;

  const runners: Runner[] = [];

  const gauges = (r: Runner): void => {
    if (!m || !bus.log.open) return;
    const s = r.sink.status();
    m.sinkLag.set({ sink: r.sink.name }, sinkLag(bus.log.lastId(), r.cursor));
    m.sinkReconnects.set({ sink: r.sink.name }, s.reconnects);
    m.sinkConnected.set({ sink: r.sink.name }, s.connected ? 1 : 0);
  };

  // One pass: deliver pages until the log is drained, the sink fails, or it is not connected.
  const pump = (r: Runner): Promise<void> => {
    if (r.busy || stopped || r.detached) return r.inflight;
    // A log read that throws (the log closed under us) must not become an unhandled rejection.
    r.inflight = pass(r).catch((err: unknown) => logger.warn({ sink: r.sink.name, err }, 'sink runner pass failed'));
    return r.inflight;
  };

  const pass = async (r: Runner): Promise<void> => {
    r.busy = true;
    try {
      for (;;) {
        if (stopped || r.detached || !bus.log.open) return;
        if (!r.sink.status().connected) return; // onReady wakes us
        r.dirty = false;
        const page = bus.log.since(r.cursor, {}, pageSize);
        if (page.length === 0) {
          if (r.dirty) continue;
          return;
        }
        const wanted = page.filter((e) => r.sink.accepts(e));
        try {
          if (wanted.length > 0) await r.sink.deliver(wanted);
        } catch (err) {
          r.failed++;
          m?.sinkFailed.inc({ sink: r.sink.name });
          const delay = backoffDelay(r.attempt++, backoff, Math.random());
          // The sink logs its outage once; this is per retry, so debug only.
          logger.debug({ sink: r.sink.name, err, retryInMs: delay, cursor: r.cursor }, 'sink delivery failed; retrying from the cursor');
          if (!stopped && !r.detached) {
            clearTimeout(r.timer);
            r.timer = setTimeout(() => {
              r.timer = undefined;
              void pump(r);
            }, delay);
            r.timer.unref();
          }
          return;
        }
        r.attempt = 0;
        r.cursor = advanceCursor(r.cursor, page.map((e) => e.id));
        r.delivered += wanted.length;
        if (wanted.length > 0) m?.sinkDelivered.inc({ sink: r.sink.name }, wanted.length);
        // Persisted even when stopping: these events were delivered (stop() waits for this).
        cursors.set(r.sink.name, r.cursor, now());
        if (stopped || r.detached || !bus.log.open) return;
        gauges(r);
        if (page.length < pageSize && !r.dirty) return;
      }
    } finally {
      r.busy = false;
      gauges(r);
    }
  };

  // A wake is cheap and never waits: the pipeline's publish() returns as soon as the Subject has
  // called us. The pump itself runs on a later turn.
  let scheduled = false;
  const wakeAll = (): void => {
    for (const r of runners) r.dirty = true;
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      // A sink waiting out its retry delay is not hurried by new events (the backoff holds).
      for (const r of runners) if (!r.busy && r.timer === undefined) void pump(r);
    });
  };
  // A page that arrives while a pump is busy is picked up by the loop; one that arrives just
  // after it returned is picked up by this wake.
  const sub: Subscription = bus.events$.subscribe({ next: wakeAll });

  const attach = (sink: EventSink): void => {
    if (stopped) return;
    if (runners.some((r) => r.sink.name === sink.name)) throw new Error(`sink ${sink.name} is already attached`);
    const cursor = startCursor(cursors.get(sink.name), bus.log.lastId(), sink.firstStart);
    cursors.set(sink.name, cursor, now());
    const r: Runner = { sink, cursor, delivered: 0, failed: 0, attempt: 0, busy: false, dirty: false, timer: undefined, inflight: Promise.resolve(), detached: false, offReady: () => undefined };
    runners.push(r);
    r.offReady = sink.onReady(() => {
      clearTimeout(r.timer);
      r.timer = undefined;
      r.attempt = 0;
      gauges(r);
      wakeAll();
    });
    sink.start().catch((err: unknown) => logger.error({ sink: sink.name, err }, 'sink failed to start; the service runs without it'));
    wakeAll();
  };

  // A page on its way gets a moment to be acknowledged, so its cursor is persisted; then the sinks stop.
  const halt = async (rs: readonly Runner[]): Promise<void> => {
    for (const r of rs) clearTimeout(r.timer);
    await Promise.race([Promise.all(rs.map((r) => r.inflight.catch(() => undefined))), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
    await Promise.all(rs.map((r) => r.sink.stop().catch((err: unknown) => logger.warn({ sink: r.sink.name, err }, 'sink stop failed'))));
  };

  for (const sink of sinks) attach(sink);
  wakeAll();
  // The gauges also move when nothing is delivered (events pile up during an outage).
  const gaugeTimer = setInterval(() => runners.forEach(gauges), 1000);
  gaugeTimer.unref();

  return {
    health: () =>
      runners.map((r) => {
        const s = r.sink.status();
        return { name: r.sink.name, connected: s.connected, reconnects: s.reconnects, lastError: s.lastError, ...(s.warning !== undefined ? { warning: s.warning } : {}), cursor: r.cursor, lag: bus.log.open ? sinkLag(bus.log.lastId(), r.cursor) : 0, delivered: r.delivered, failed: r.failed };
      }),
    wake: wakeAll,
    attach,
    detach: async (name) => {
      const i = runners.findIndex((r) => r.sink.name === name);
      if (i < 0) return;
      const [r] = runners.splice(i, 1);
      r.detached = true;
      r.offReady();
      await halt([r]);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      sub.unsubscribe();
      clearInterval(gaugeTimer);
      await halt(runners);
    },
  };
}
