// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The fleet forwarder against a real nats-server (JetStream, user/password auth): every event of
 * the local log lands in the events stream once, with subject <prefix>.<site>.<node>.events.<type>
 * and Nats-Msg-Id <node>:<id>; the cursor moves only after JetStream acks; a NATS outage queues
 * events in the log and they follow on reconnect; a replay from an old cursor is dropped by the
 * server's de-duplication; wrong credentials give a clear error and the box keeps logging.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import type { FleetConfig } from '../../src/config/fleet.ts';
import { createFleetForwarder, FLEET_SINK_NAME } from '../../src/fleet/forwarder.ts';
import { createLogger } from '../../src/log.ts';
import { runSinks } from '../../src/outputs/index.ts';
import { natsClient, readStream, until } from '../helpers/fleet.ts';
import { NatsServer } from '../helpers/nats.ts';
import { tempEventBox } from '../helpers/event-box.ts';

const logger = createLogger({ level: 'silent' });
const backoff = { baseMs: 50, maxMs: 500, factor: 2, jitter: 0 };
const health = (n: number) => ({ type: 'system.health' as const, timeMs: Date.now(), data: { status: 'ok' as const, details: { n } } });

function fleetConfig(s: NatsServer, node: string, pass = s.user.pass): FleetConfig {
  const c = parseConfig({ fleet: { nodeId: node, site: 'hq', nats: { servers: [s.url], user: s.user.user, password: pass, connectTimeoutMs: 1000 }, forward: { ackTimeoutMs: 2000 } } });
  if (!c.fleet) throw new Error('no fleet');
  return c.fleet;
}

const box = (t: { teardown(fn: () => void): void }) => tempEventBox(t, 'fg-fwd-');

t.test('forward, outage, replay: every event once, cursor after the ack', async (t) => {
  const s = await NatsServer.start();
  t.teardown(() => s.stop());
  const { bus, cursors } = box(t);
  // History from before the box joined the fleet is forwarded too.
  for (let i = 0; i < 10; i++) bus.publish(health(i));
  const fwd = createFleetForwarder({ fleet: fleetConfig(s, 'door-1'), logger });
  const runner = runSinks([fwd], { bus, cursors, logger, pageSize: 25, backoff });
  t.teardown(() => runner.stop());
  await until('connected', () => fwd.status().connected);
  for (let i = 10; i < 100; i++) bus.publish(health(i));
  await until('cursor at 100', () => cursors.get(FLEET_SINK_NAME) === 100);
  const nc = await natsClient(s);
  let msgs = await readStream(nc, 'FACEGATE_EVENTS');
  t.equal(msgs.length, 100);
  t.same(msgs.map((m) => m.body.id), Array.from({ length: 100 }, (_, i) => i + 1), 'in log order');
  t.equal(msgs[0].subject, 'facegate.hq.door-1.events.system.health');
  t.equal(msgs[0].msgId, 'door-1:1');
  t.equal(msgs[0].node, 'door-1');
  await nc.close();

  // Outage: events keep being logged, the cursor stays, they follow on reconnect.
  await s.kill();
  await until('sees the outage', () => !fwd.status().connected);
  for (let i = 100; i < 250; i++) bus.publish(health(i));
  await new Promise((r) => setTimeout(r, 500));
  t.equal(cursors.get(FLEET_SINK_NAME), 100, 'no ack, no cursor move');
  t.equal(runner.health()[0].lag, 150);
  t.ok(fwd.status().lastError, `the outage is reported: ${fwd.status().lastError}`);
  await s.restart();
  await until('backlog delivered', () => cursors.get(FLEET_SINK_NAME) === 250, 30_000);
  const nc2 = await natsClient(s);
  msgs = await readStream(nc2, 'FACEGATE_EVENTS');
  t.equal(msgs.length, 250, 'every event once');
  t.equal(new Set(msgs.map((m) => m.msgId)).size, 250);

  // A replay from an old cursor (a crash after the publish, before the cursor write): the
  // server drops every duplicate inside the window.
  await runner.stop();
  cursors.set(FLEET_SINK_NAME, 200, Date.now());
  const again = createFleetForwarder({ fleet: fleetConfig(s, 'door-1'), logger });
  const runner2 = runSinks([again], { bus, cursors, logger, pageSize: 25, backoff });
  t.teardown(() => runner2.stop());
  await until('replayed', () => again.duplicates() === 50);
  await until('cursor at the head again', () => cursors.get(FLEET_SINK_NAME) === 250);
  msgs = await readStream(nc2, 'FACEGATE_EVENTS');
  t.equal(msgs.length, 250, 'the re-published 50 were dropped as duplicates');
  await nc2.close();
});

t.test('wrong credentials: a clear error, events stay queued, the box keeps logging', async (t) => {
  const s = await NatsServer.start();
  t.teardown(() => s.stop());
  const { bus, cursors } = box(t);
  const fwd = createFleetForwarder({ fleet: fleetConfig(s, 'door-2', 'not-the-password'), logger });
  const runner = runSinks([fwd], { bus, cursors, logger, backoff });
  t.teardown(() => runner.stop());
  for (let i = 0; i < 5; i++) bus.publish(health(i));
  await until('an auth error', () => /refused the credentials/.test(fwd.status().lastError ?? ''));
  t.match(fwd.status().lastError, /fix: check fleet.nats user/);
  t.notMatch(fwd.status().lastError, /not-the-password/, 'the password is never shown');
  t.equal(fwd.status().connected, false);
  t.equal(cursors.get(FLEET_SINK_NAME), 0);
  t.equal(runner.health()[0].lag, 5);
});

t.test('NATS unreachable at start: the forwarder keeps retrying and delivers once it is up', async (t) => {
  const s = await NatsServer.start();
  const port = s.port;
  const cfg = fleetConfig(s, 'door-3');
  await s.stop();
  const { bus, cursors } = box(t);
  const fwd = createFleetForwarder({ fleet: cfg, logger });
  const runner = runSinks([fwd], { bus, cursors, logger, backoff });
  t.teardown(() => runner.stop());
  for (let i = 0; i < 20; i++) bus.publish(health(i));
  await until('an unreachable error', () => /cannot reach NATS/.test(fwd.status().lastError ?? ''));
  const s2 = await NatsServer.start({ port, users: { [s.user.user]: s.user.pass } });
  t.teardown(() => s2.stop());
  await until('delivered after the server came up', () => cursors.get(FLEET_SINK_NAME) === 20, 30_000);
  const nc = await natsClient(s2);
  t.equal((await readStream(nc, 'FACEGATE_EVENTS')).length, 20);
  await nc.close();
});

t.test('closing while NATS is down does not hang', async (t) => {
  const s = await NatsServer.start();
  t.teardown(() => s.stop());
  const { bus, cursors } = box(t);
  const fwd = createFleetForwarder({ fleet: fleetConfig(s, 'door-4'), logger });
  const runner = runSinks([fwd], { bus, cursors, logger, backoff });
  await until('connected', () => fwd.status().connected);
  await s.kill();
  bus.publish(health(1));
  const t0 = Date.now();
  await runner.stop();
  t.ok(Date.now() - t0 < 8000, `stopped in ${Date.now() - t0} ms with NATS down`);
});
