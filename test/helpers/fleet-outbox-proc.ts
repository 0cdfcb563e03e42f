/**
 * An edge's outbox as its own process, for kill -9 tests: opens the event log (EVENTS_DB), appends
 * APPEND events (system.health) in small transactions while the forwarder (the real sink runner
 * and cursor store) publishes them to NATS. FLEET_JSON holds the fleet config. Prints
 * `appended N` when done appending, then keeps forwarding until killed or SIGTERM.
 */
import { dirname, join } from 'node:path';
import { EventBus, EventLog } from '../../src/events/index.ts';
import type { FleetConfig } from '../../src/config/fleet.ts';
import { createFleetForwarder } from '../../src/fleet/forwarder.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, runSinks } from '../../src/outputs/index.ts';

const dbPath = process.env.EVENTS_DB ?? '';
const fleet = JSON.parse(process.env.FLEET_JSON ?? '{}') as FleetConfig;
const toAppend = Number(process.env.APPEND ?? '0');
const logger = createLogger({ level: 'silent' });
const log = new EventLog(dbPath);
const bus = new EventBus(log);
const cursors = new CursorStore(join(dirname(dbPath), 'outputs.sqlite'));
const forwarder = createFleetForwarder({ fleet, logger });
const runner = runSinks([forwarder], { bus, cursors, logger, pageSize: 50, backoff: { baseMs: 50, maxMs: 500, factor: 2, jitter: 0 } });
for (let i = 0; i < toAppend; i++) {
  bus.publish({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', details: { i } } });
  if (i % 20 === 0) await new Promise((r) => setImmediate(r));
}
process.stdout.write(`appended ${toAppend}\n`);
process.once('SIGTERM', () => {
  void runner.stop().then(() => process.exit(0));
});
setInterval(() => process.stdout.write(`cursor ${cursors.get('fleet') ?? -1}\n`), 200);
