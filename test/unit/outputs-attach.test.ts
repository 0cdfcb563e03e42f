/**
 * One sink runner for every sink: sinks attached and detached while it runs (a sink following its
 * config slice) resume from their own persisted cursor; and the one cursor store takes over an
 * older cursor file (the fleet's fleet.sqlite of earlier versions), repeatably.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Event } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, runSinks, type EventSink, type SinkStatus } from '../../src/outputs/index.ts';
import { until } from '../../src/lib/time.ts';
import { tempEventBox } from '../helpers/event-box.ts';

class ListSink implements EventSink {
  readonly received: number[] = [];
  stopped = 0;
  constructor(readonly name: string) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.stopped++;
  }
  accepts(): boolean {
    return true;
  }
  async deliver(events: readonly Event[]): Promise<void> {
    this.received.push(...events.map((e) => e.id));
  }
  status(): SinkStatus {
    return { connected: true, reconnects: 0, lastError: undefined };
  }
  onReady(): () => void {
    return () => undefined;
  }
}

const logger = createLogger({ level: 'silent' });
const health = (n: number) => ({ type: 'system.health' as const, timeMs: Date.now(), data: { status: 'ok' as const, details: { n } } });

t.test('attach and detach while running: a detached sink is stopped and gets nothing more; re-attached under its name it resumes from its cursor', async (t) => {
  const { bus, cursors } = tempEventBox(t, 'fg-attach-');
  const runner = runSinks([], { bus, cursors, logger });
  t.teardown(() => runner.stop());
  t.same(runner.health(), [], 'no sinks yet');
  bus.publish(health(0)); // before the sink exists: a new sink starts at the head, not before
  const first = new ListSink('mqtt');
  runner.attach(first);
  t.throws(() => runner.attach(new ListSink('mqtt')), /already attached/, 'one sink per name');
  const ids = [1, 2, 3].map((n) => bus.publish(health(n)).id);
  await until('first sink got 3', () => first.received.length === 3);
  t.same(first.received, ids);
  await runner.detach('mqtt');
  t.equal(first.stopped, 1, 'detach stops the sink');
  t.same(runner.health(), []);
  const missed = [4, 5].map((n) => bus.publish(health(n)).id);
  const second = new ListSink('mqtt');
  runner.attach(second);
  await until('second sink got the events published while detached', () => second.received.length === 2);
  t.same(second.received, missed, 'resumed from the cursor: nothing twice, nothing lost');
  t.same(first.received, ids, 'the detached sink got nothing more');
  t.equal(cursors.get('mqtt'), missed[1]);
});

t.test('the cursor store takes over an older cursor file: its rows copied, its own newer rows kept, the old file removed; a repeat is a no-op', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-adopt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const legacy = join(dir, 'fleet.sqlite');
  const old = new CursorStore(legacy);
  old.set('fleet', 41, 1);
  old.set('mqtt', 5, 1);
  old.setState('fleet-gallery', 'revision', '17');
  old.close();
  const store = new CursorStore(join(dir, 'outputs.sqlite'));
  t.teardown(() => store.close());
  store.set('mqtt', 9, 2);
  t.equal(store.adopt(legacy), 2, 'two rows taken over');
  t.equal(store.get('fleet'), 41);
  t.equal(store.get('mqtt'), 9, "the store's own row wins");
  t.equal(store.getState('fleet-gallery', 'revision'), '17');
  t.notOk(existsSync(legacy), 'the old file is gone');
  t.equal(store.adopt(legacy), 0, 'nothing to take over again');
});
