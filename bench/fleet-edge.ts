/**
 * One bench edge as its own process (bench/fleet.ts starts several): an event log (EVENTS_DB) and
 * the fleet forwarder on the real sink runner, no cameras. It appends APPEND system.health events
 * in transactions of BATCH (the log's appendMany; the bus wakes the runner once per batch), with
 * FORWARD=0 it only appends (a partitioned box). Prints one JSON line every 250 ms:
 * { appended, cursor } and `done` when appending is finished.
 */
import { dirname, join } from 'node:path';
import type { FleetConfig } from '../src/config/fleet.ts';
import { EventBus, EventLog, type NewEvent } from '../src/events/index.ts';
import { createFleetForwarder } from '../src/fleet/forwarder.ts';
import { createLogger } from '../src/log.ts';
import { CursorStore, runSinks } from '../src/outputs/index.ts';

const dbPath = process.env.EVENTS_DB ?? '';
const fleet = JSON.parse(process.env.FLEET_JSON ?? '{}') as FleetConfig;
const total = Number(process.env.APPEND ?? '0');
const batch = Math.max(1, Number(process.env.BATCH ?? '100'));
const forward = process.env.FORWARD !== '0';
const logger = createLogger({ level: 'warn' });
const log = new EventLog(dbPath, { retention: { maxCount: 10_000_000 } });
const bus = new EventBus(log);
const cursors = new CursorStore(join(dirname(dbPath), 'fleet.sqlite'));
const runner = forward ? runSinks([createFleetForwarder({ fleet, logger })], { bus, cursors, logger, pageSize: 500 }) : undefined;
let appended = 0;
const ev = (i: number): NewEvent => ({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', details: { i, pad: 'x'.repeat(200) } } }) as NewEvent;
const tick = setInterval(() => process.stdout.write(`${JSON.stringify({ appended, cursor: cursors.get('fleet') ?? 0 })}\n`), 250);
process.stdout.write(`${JSON.stringify({ startedMs: Date.now() })}\n`);
while (appended < total) {
  const n = Math.min(batch, total - appended);
  if (n > 1) log.appendMany(Array.from({ length: n - 1 }, (_, k) => ev(appended + k)));
  bus.publish(ev(appended + n - 1));
  appended += n;
  await new Promise((r) => setImmediate(r));
}
process.stdout.write(`${JSON.stringify({ appended, cursor: cursors.get('fleet') ?? 0, done: true })}\n`);
process.once('SIGTERM', () => {
  clearInterval(tick);
  void (runner?.stop() ?? Promise.resolve()).then(() => process.exit(0));
});
if (!forward) {
  clearInterval(tick);
  process.exit(0);
}
