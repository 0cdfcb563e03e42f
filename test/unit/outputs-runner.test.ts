/**
 * The sink runner on a real event log and bus with in-process sinks that implement EventSink
 * (slow, failing, disconnected): the bus never waits for a sink, a failed page is offered again
 * from the cursor (at-least-once, in id order), the cursor is persisted per sink, lag and counts
 * are right, and a sink that is not connected gets nothing until it says it is ready.
 */
import t from 'tap';
import { createMetrics } from '../../src/api/metrics.ts';
import type { Event } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { runSinks, type EventSink, type SinkStatus } from '../../src/outputs/index.ts';
import { Listeners } from '../../src/lib/listeners.ts';
import { sleep, until } from '../../src/lib/time.ts';
import { tempEventBox } from '../helpers/event-box.ts';


class TestSink implements EventSink {
  readonly received: number[] = [];
  connected = true;
  delayMs = 0;
  failNext = 0;
  onlyTypes: string[] | undefined;
  private readonly ready = new Listeners();
  constructor(readonly name: string) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  accepts(e: Event): boolean {
    return this.onlyTypes === undefined || this.onlyTypes.includes(e.type);
  }
  async deliver(events: readonly Event[]): Promise<void> {
    if (this.delayMs) await sleep(this.delayMs);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('far end refused');
    }
    this.received.push(...events.map((e) => e.id));
  }
  status(): SinkStatus {
    return { connected: this.connected, reconnects: 0, lastError: undefined };
  }
  onReady(l: () => void): () => void {
    return this.ready.add(l);
  }
  becomeReady(): void {
    this.connected = true;
    this.ready.emit();
  }
}

const setup = (t: { teardown(fn: () => void): void }) => tempEventBox(t, 'fg-runner-');

const health = (n: number) => ({ type: 'system.health' as const, timeMs: Date.now(), data: { status: 'ok' as const, details: { n } } });
const logger = createLogger({ level: 'silent' });

t.test('a slow sink and a failing sink: the bus does not wait, both get every id in order, cursors persisted', async (t) => {
  const { bus, cursors } = setup(t);
  const slow = new TestSink('slow');
  slow.delayMs = 100;
  const flaky = new TestSink('flaky');
  flaky.failNext = 3;
  const metrics = createMetrics({ defaultMetrics: false });
  const runner = runSinks([slow, flaky], { bus, cursors, logger, pageSize: 20, metrics, backoff: { baseMs: 20, maxMs: 100, factor: 2, jitter: 0 } });
  t.teardown(() => runner.stop());
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) bus.publish(health(i));
  const publishMs = performance.now() - t0;
  t.ok(publishMs < 2000, `100 publishes in ${publishMs.toFixed(0)} ms while a sink takes 100 ms per page`);
  t.ok(slow.received.length < 100, 'the slow sink is still behind when publishing is done');
  await until('both delivered', () => slow.received.length >= 100 && flaky.received.length >= 100);
  const ids = Array.from({ length: 100 }, (_, i) => i + 1);
  t.same(slow.received, ids);
  t.same(flaky.received, ids, 'failed pages were offered again from the cursor, nothing skipped');
  await runner.stop();
  t.equal(cursors.get('slow'), 100);
  t.equal(cursors.get('flaky'), 100);
  const h = Object.fromEntries(runner.health().map((x) => [x.name, x]));
  t.match(h.flaky, { delivered: 100, failed: 3, lag: 0, cursor: 100 });
  t.match(h.slow, { delivered: 100, failed: 0, lag: 0 });
  const text = await metrics.registry.metrics();
  t.match(text, /facegate_sink_failed_total\{sink="flaky"\} 3/);
  t.match(text, /facegate_sink_delivered_total\{sink="slow"\} 100/);
});

t.test('not connected: nothing delivered, lag grows; ready: the backlog follows; accepts() filters but the cursor advances', async (t) => {
  const { bus, cursors } = setup(t);
  bus.publish(health(0)); // before the sink existed: not replayed to a new sink
  const sink = new TestSink('mqtt-like');
  sink.connected = false;
  sink.onlyTypes = ['gate.opened'];
  const runner = runSinks([sink], { bus, cursors, logger });
  t.teardown(() => runner.stop());
  for (let i = 1; i <= 10; i++) bus.publish(health(i));
  const opened = bus.publish({ type: 'gate.opened', timeMs: Date.now(), gateId: 'g', data: { action: 'open', by: 'x', reason: 'y' } });
  await sleep(200); // a negative check: long enough for the runner to have offered the backlog
  t.same(sink.received, []);
  t.equal(runner.health()[0].lag, 11);
  sink.becomeReady();
  await until('backlog', () => sink.received.length === 1);
  t.same(sink.received, [opened.id], 'only what the sink accepts');
  await until('cursor at head', () => runner.health()[0].lag === 0);
  t.equal(cursors.get('mqtt-like'), opened.id, 'skipped events advance the cursor too');
});

t.test('a failing sink is retried with backoff, not once per new event', async (t) => {
  const { bus, cursors } = setup(t);
  const sink = new TestSink('refusing');
  sink.failNext = 1_000_000;
  let attempts = 0;
  const deliver = sink.deliver.bind(sink);
  sink.deliver = async (events) => {
    attempts++;
    return deliver(events);
  };
  const runner = runSinks([sink], { bus, cursors, logger, backoff: { baseMs: 100, maxMs: 400, factor: 2, jitter: 0 } });
  t.teardown(() => runner.stop());
  const t0 = Date.now();
  while (Date.now() - t0 < 1000) {
    bus.publish(health(attempts));
    await sleep(5);
  }
  // Retries at +100, +200, +400, +400...: about 4 in a second, while ~150 events arrived.
  t.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts in 1 s with events every 5 ms`);
  t.equal(runner.health()[0].failed, attempts);
  sink.failNext = 0;
  await until('delivered after the refusals', () => runner.health()[0].lag === 0, 3000);
  t.equal(sink.received.length, bus.log.lastId());
});
