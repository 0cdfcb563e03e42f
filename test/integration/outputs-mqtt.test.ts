// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The MQTT sink against a real Mosquitto 2 (started here on a free loopback port, stopped at the
 * end): events by id on <prefix>/events, retained state topics, Home Assistant discovery as the
 * broker holds it, a broker outage (SIGKILL, restart on the same port) with every event published
 * meanwhile delivered afterwards while the bus stayed fast, the backlog after a facegate restart
 * (persisted cursor), a wrong password (clear error, nothing blocked), and OPEN / LOCK commands.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import t from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import { EventBus, EventLog, type Event, type NewEvent } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { systemHealthEvent } from '../../src/app/health.ts';
import { CursorStore, createMqttSink, runSinks, type MqttSink, type MqttSinkOptions, type SinkRunner } from '../../src/outputs/index.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { sleep, until } from '../../src/lib/time.ts';


interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
}

/** A real MQTT client that records what it receives. */
async function subscriber(url: string, topics: string[], opts: mqtt.IClientOptions = {}): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 100, connectTimeout: 5000, ...opts });
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
  return { client, got };
}

const eventIds = (got: readonly Received[], topic: string): number[] => got.filter((m) => m.topic === topic).map((m) => (JSON.parse(m.payload.toString()) as Event).id);

class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  write(s: string): void {
    for (const l of s.split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

const health = (n: number): NewEvent => ({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', details: { n } } });

interface Rig {
  readonly dir: string;
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly cursors: CursorStore;
  readonly logs: LogLines;
  sink: MqttSink;
  runner: SinkRunner;
  start(over?: Record<string, unknown>, extra?: Partial<MqttSinkOptions>): void;
  close(): Promise<void>;
}

function rig(url: string, mqttOver: Record<string, unknown> = {}, extra: Partial<MqttSinkOptions> = {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'fg-outputs-'));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  const logs = new LogLines();
  const logger = createLogger({ level: 'info', destination: logs });
  const r: Rig = {
    dir,
    log,
    bus,
    cursors,
    logs,
    sink: undefined as unknown as MqttSink,
    runner: undefined as unknown as SinkRunner,
    start(over = mqttOver, more = extra) {
      const config = parseConfig({ events: { outputs: { mqtt: { enabled: true, url, nodeId: 'test-node', ...over } } } }).events.outputs.mqtt;
      if (!config) throw new Error('no mqtt config');
      r.sink = createMqttSink({
        config,
        logger,
        cursors,
        cameras: () => [{ id: 'door', name: 'Door', status: 'up' }],
        gates: () => [{ id: 'front-door', name: 'Front door' }],
        connectTimeoutMs: 2000,
        ...more,
      });
      r.runner = runSinks([r.sink], { bus, cursors, logger, pageSize: 50 });
    },
    async close() {
      await r.runner?.stop();
      cursors.close();
      log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  r.start();
  return r;
}

const connected = (r: Rig) => r.runner.health()[0].connected;

t.test('events, retained state, availability and discovery on a real broker', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const sub = await subscriber(broker.url, ['facegate/test-node/#', 'homeassistant/device/test-node/config']);
  t.teardown(() => sub.client.endAsync(true));
  const r = rig(broker.url, { commands: true });
  t.teardown(() => r.close());
  await until('connected', () => connected(r));
  await until('discovery', () => sub.got.some((m) => m.topic === 'homeassistant/device/test-node/config'));
  await until('online', () => sub.got.some((m) => m.topic === 'facegate/test-node/available' && m.payload.toString() === 'online'));

  const disc = JSON.parse(sub.got.find((m) => m.topic === 'homeassistant/device/test-node/config')?.payload.toString() ?? '{}') as { dev: { ids: string[] }; o: { name: string }; cmps: Record<string, Record<string, unknown>>; availability_topic: string };
  t.same(disc.dev.ids, ['facegate_test-node']);
  t.equal(disc.o.name, 'facegate');
  t.equal(disc.availability_topic, 'facegate/test-node/available');
  t.match(disc.cmps['test-node_gate_front-door_lock'], { p: 'lock', state_topic: 'facegate/test-node/gate/front-door/state', command_topic: 'facegate/test-node/gate/front-door/set' });
  t.match(disc.cmps['test-node_camera_door_status'], { p: 'binary_sensor', state_topic: 'facegate/test-node/camera/door/status' });
  t.match(disc.cmps['test-node_camera_door_snapshot'], { p: 'camera', topic: 'facegate/test-node/camera/door/snapshot' });
  await until('initial states', () => sub.got.some((m) => m.topic === 'facegate/test-node/gate/front-door/state') && sub.got.some((m) => m.topic === 'facegate/test-node/camera/door/status'));
  t.equal(sub.got.find((m) => m.topic === 'facegate/test-node/gate/front-door/state')?.payload.toString(), 'LOCKED');

  const now = Date.now();
  const published = [
    r.bus.publish({ type: 'camera.down', timeMs: now, cameraId: 'door', data: { reason: 'eos', message: 'end of stream', fatal: false } }),
    r.bus.publish({ type: 'face.recognized', timeMs: now, cameraId: 'door', trackId: 'door:1', identityId: 'id_ada', data: { name: 'Ada', score: 0.7, masked: true } }),
    r.bus.publish({ type: 'gate.granted', timeMs: now, gateId: 'front-door', cameraId: 'door', trackId: 'door:1', identityId: 'id_ada', data: { name: 'Ada', score: 0.7, masked: true } }),
  ];
  await until('events', () => eventIds(sub.got, 'facegate/test-node/events').length >= 3);
  t.same(eventIds(sub.got, 'facegate/test-node/events'), published.map((e) => e.id), 'every event by id, in order');
  const envelope = JSON.parse(sub.got.find((m) => m.topic === 'facegate/test-node/events')?.payload.toString() ?? '{}') as unknown;
  t.same(envelope, published[0], 'the v1 envelope as logged');
  t.equal(sub.got.filter((m) => m.topic === 'facegate/test-node/camera/door/status').at(-1)?.payload.toString(), 'down');
  t.match(JSON.parse(sub.got.find((m) => m.topic === 'facegate/test-node/camera/door/last_face')?.payload.toString() ?? '{}'), { name: 'Ada', identityId: 'id_ada', masked: true, score: 0.7 });
  t.match(JSON.parse(sub.got.find((m) => m.topic === 'facegate/test-node/gate/front-door/event')?.payload.toString() ?? '{}'), { event_type: 'granted', name: 'Ada' });
  await until('unlocked', () => sub.got.some((m) => m.topic === 'facegate/test-node/gate/front-door/state' && m.payload.toString() === 'UNLOCKED'));
  await until('relocked after unlockedMs', () => sub.got.filter((m) => m.topic === 'facegate/test-node/gate/front-door/state').at(-1)?.payload.toString() === 'LOCKED', 8000);

  // What a client connecting later gets: the retained state.
  const late = await subscriber(broker.url, ['facegate/test-node/+', 'facegate/test-node/camera/+/+', 'facegate/test-node/gate/+/state']);
  t.teardown(() => late.client.endAsync(true));
  await until('retained', () => late.got.length >= 4);
  const retained = new Map(late.got.map((m) => [m.topic, m.retain ? m.payload.toString() : '(not retained)']));
  t.equal(retained.get('facegate/test-node/available'), 'online');
  t.equal(retained.get('facegate/test-node/camera/door/status'), 'down');
  t.equal(retained.get('facegate/test-node/gate/front-door/state'), 'LOCKED');
  t.notOk(retained.has('facegate/test-node/events'), 'events are not retained');

  // Home Assistant restarts: it says online, and the device is announced again.
  const before = sub.got.filter((m) => m.topic === 'homeassistant/device/test-node/config').length;
  await sub.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await until('re-announce', () => sub.got.filter((m) => m.topic === 'homeassistant/device/test-node/config').length > before);
  t.pass('re-announced on homeassistant/status online');

  await until('cursor at the head', () => r.runner.health()[0].lag === 0, 5000);
  const h = r.runner.health()[0];
  t.match(h, { name: 'mqtt', connected: true, lag: 0, delivered: 3, failed: 0, reconnects: 0 });
  t.equal(h.warning, undefined, 'the broker echoed: no warning');

  // A clean stop says offline (retained), a camera removed since is deleted from HA on the next start.
  await r.runner.stop();
  await until('offline', () => sub.got.at(-1)?.topic === 'facegate/test-node/available' && sub.got.at(-1)?.payload.toString() === 'offline');
  r.start({ commands: true }, { cameras: () => [] });
  await until('reconnected', () => connected(r));
  await until('removal announce', () => sub.got.filter((m) => m.topic === 'homeassistant/device/test-node/config').length > before + 1);
  const removal = JSON.parse(sub.got.filter((m) => m.topic === 'homeassistant/device/test-node/config').at(-1)?.payload.toString() ?? '{}') as { cmps: Record<string, Record<string, unknown>> };
  t.same(removal.cmps['test-node_camera_door_status'], { p: 'binary_sensor' }, 'a removed camera: platform only, so HA deletes the entity');
  t.match(removal.cmps['test-node_gate_front-door_lock'], { p: 'lock', state_topic: 'facegate/test-node/gate/front-door/state' });

  // Discovery turned off: the device is deleted (empty retained config), and stays deleted.
  await r.runner.stop();
  r.start({ commands: true, discovery: { enabled: false } });
  await until('device deleted', () => sub.got.some((m) => m.topic === 'homeassistant/device/test-node/config' && m.payload.length === 0));
  const late2 = await subscriber(broker.url, ['homeassistant/#']);
  t.teardown(() => late2.client.endAsync(true));
  await sleep(300); // a negative check: a retained config would arrive right after the subscription
  t.same(late2.got, [], 'no retained discovery config left on the broker');
});

t.test('broker killed mid-stream: the bus stays fast, every event id published meanwhile arrives after the restart', async (t) => {
  const broker = await Mosquitto.start({ persistence: true });
  t.teardown(() => broker.stop());
  // A persistent session (clean: false): the broker keeps the subscription across its own restart
  // and queues what is published for this client while the client itself is still reconnecting.
  const sub = await subscriber(broker.url, ['facegate/test-node/events'], { clean: false, clientId: 'outage-watcher' });
  t.teardown(() => sub.client.endAsync(true));
  const r = rig(broker.url, { types: ['system.*'] });
  t.teardown(() => r.close());
  await until('connected', () => connected(r));

  const N = 200;
  const time = (from: number): number[] => {
    const ms: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      r.bus.publish(health(from + i));
      ms.push(performance.now() - t0);
    }
    return ms;
  };
  const before = time(0);
  await until('first batch', () => eventIds(sub.got, 'facegate/test-node/events').length >= N);
  await sleep(1500); // the broker saves the session every second: time on the broker, nothing to poll

  await broker.kill('SIGKILL');
  await until('sink sees the outage', () => !connected(r), 5000);
  const during = time(N);
  const duringIds = r.log.since(N, {}, 10_000).map((e) => e.id);
  t.equal(duringIds.length, N);
  // A negative check while the broker is down: the sink retries with backoff from 250 ms, so this
  // window holds a few attempts (one warning, not one per attempt; nothing leaves the log).
  await sleep(3000);
  t.equal(r.runner.health()[0].lag, N, 'the outage backlog waits in the log after the cursor');
  const restartedAt = performance.now();
  await broker.restart();
  await until('backlog delivered', () => duringIds.every((id) => eventIds(sub.got, 'facegate/test-node/events').includes(id)), 30_000);
  const backlogMs = performance.now() - restartedAt;

  const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
  const p99 = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length * 0.99)];
  t.comment(`bus.publish x${N}: connected ${sum(before).toFixed(1)} ms (p99 ${p99(before).toFixed(2)}), broker down ${sum(during).toFixed(1)} ms (p99 ${p99(during).toFixed(2)}); backlog of ${N} delivered ${backlogMs.toFixed(0)} ms after the broker restart`);
  t.ok(sum(during) < sum(before) * 3 + 100, 'publishing while the broker is down is not slower than while it is up (within noise)');
  t.ok(Math.max(...during) < 250, 'no publish waited for the broker');
  await until('cursor at the head', () => r.runner.health()[0].lag === 0, 5000);
  const h = r.runner.health()[0];
  t.match(h, { connected: true, lag: 0, reconnects: 1 });
  const warnings = r.logs.lines.filter((l) => l.level === 40 && /MQTT broker connection lost/.test(String(l.msg)));
  t.equal(warnings.length, 1, 'one warning for the outage, not one per event or per retry');
  t.ok(r.logs.lines.some((l) => /reachable again/.test(String(l.msg))), 'and one line when it is back');
  const ids = eventIds(sub.got, 'facegate/test-node/events');
  t.same([...new Set(ids)].sort((a, b) => a - b), Array.from({ length: 2 * N }, (_, i) => i + 1), 'all 2N ids, duplicates at most (at-least-once)');
});

t.test('facegate restarts: the sink resumes after its persisted cursor', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const sub = await subscriber(broker.url, ['facegate/test-node/events']);
  t.teardown(() => sub.client.endAsync(true));
  const r = rig(broker.url);
  t.teardown(() => r.close());
  await until('connected', () => connected(r));
  for (let i = 0; i < 10; i++) r.bus.publish(health(i));
  await until('first 10', () => eventIds(sub.got, 'facegate/test-node/events').length >= 10);
  await r.runner.stop();
  t.equal(r.cursors.get('mqtt'), 10, 'the cursor is persisted');
  for (let i = 10; i < 60; i++) r.bus.publish(health(i)); // while "facegate" is stopped
  r.start();
  await until('backlog', () => eventIds(sub.got, 'facegate/test-node/events').length >= 60);
  t.same(eventIds(sub.got, 'facegate/test-node/events'), Array.from({ length: 60 }, (_, i) => i + 1), 'nothing lost, nothing twice');
  await until('cursor at the head', () => r.cursors.get('mqtt') === 60, 5000);
  t.equal(r.cursors.get('mqtt'), 60, 'acknowledged by the broker: cursor persisted at the head');
});

t.test('wrong broker password: a clear error in health and the log, the bus keeps going', async (t) => {
  const acl = ['user fg', 'topic readwrite facegate/#', 'topic readwrite homeassistant/#', ''].join('\n');
  const broker = await Mosquitto.start({ users: { fg: 'right-password-1', watcher: 'watch-password-2' }, acl: `${acl}user watcher\ntopic read #\n` });
  t.teardown(() => broker.stop());
  const r = rig(broker.url, { username: 'fg', password: 'wrong-password-9' });
  t.teardown(() => r.close());
  await until('auth error', () => /not authori[sz]ed|bad user name or password/i.test(r.runner.health()[0].lastError ?? ''), 10_000);
  const h = r.runner.health()[0];
  t.equal(h.connected, false);
  t.match(h.lastError, /check username and password\/passwordFile/, 'says what to fix');
  for (let i = 0; i < 20; i++) r.bus.publish(health(i));
  // A negative check: a few refused attempts (backoff from 250 ms) and the events still wait.
  await sleep(1500);
  t.equal(r.runner.health()[0].lag, 20, 'events wait in the log');
  const warns = r.logs.lines.filter((l) => l.level === 40);
  t.equal(warns.length, 1, 'one warning, not one per attempt');
  t.match(String(warns[0].error), /authori|password/i);
  t.notMatch(r.logs.text(), /wrong-password-9/, 'the password is never logged');

  // The right password from a file: the backlog is delivered.
  await r.runner.stop();
  const pwFile = join(r.dir, 'mqtt.pw');
  writeFileSync(pwFile, 'right-password-1\n', { mode: 0o600 });
  const sub = await subscriber(broker.url, ['facegate/test-node/events'], { username: 'watcher', password: 'watch-password-2' });
  t.teardown(() => sub.client.endAsync(true));
  r.start({ username: 'fg', passwordFile: pwFile });
  await until('backlog after auth', () => eventIds(sub.got, 'facegate/test-node/events').length >= 20);
  t.same(eventIds(sub.got, 'facegate/test-node/events'), Array.from({ length: 20 }, (_, i) => i + 1));
  t.notMatch(r.logs.text(), /right-password-1/);
});

t.test('MQTT commands: OPEN / LOCK reach the manual action with the declared sender as actor; retained, invalid and flooding commands are refused', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const calls: string[] = [];
  const manual = async (gateId: string, action: string, by: string, reason: string) => calls.push(`${gateId} ${action} ${by} ${reason}`);
  const r = rig(broker.url, { commands: true, clientId: 'fg-door' }, { manual, commandRefusalWindowMs: 1000 });
  t.teardown(() => r.close());
  await until('connected', () => connected(r));
  const cmd = await subscriber(broker.url, [], { protocolVersion: 5 });
  t.teardown(() => cmd.client.endAsync(true));
  await cmd.client.publishAsync('facegate/test-node/gate/front-door/set', 'OPEN', { qos: 1 });
  await cmd.client.publishAsync('facegate/test-node/gate/front-door/set', 'LOCK', { qos: 1 });
  await cmd.client.publishAsync('facegate/test-node/gate/back-door/set', 'OPEN', { qos: 1 });
  await until('commands', () => calls.length >= 2);
  await sleep(300); // a negative check: the back-door OPEN, published last, would have arrived by now
  // The broker does not say who published; facegate's own client id is not the actor.
  t.same(calls, ['front-door open mqtt:unidentified MQTT command', 'front-door close mqtt:unidentified MQTT command'], 'unknown gates refused');

  // A retained OPEN (a misconfigured automation) must not open the door at every reconnect.
  // (Published while facegate is away: a live subscriber gets even a retained publish as live.)
  await r.runner.stop();
  await cmd.client.publishAsync('facegate/test-node/gate/front-door/set', 'OPEN', { qos: 1, retain: true });
  r.start({ commands: true, clientId: 'fg-door' }, { manual, commandRefusalWindowMs: 1000 });
  await until('reconnected', () => connected(r));
  await sleep(500); // a negative check: a retained command comes right after the subscription
  t.equal(calls.length, 2, 'the retained command was not executed');
  t.ok(r.logs.lines.some((l) => /retained MQTT gate command ignored/.test(String(l.msg))));

  // What the message declares is the audit's actor (MQTT 5 user property `sender`, response topic).
  const set = 'facegate/test-node/gate/front-door/set';
  await cmd.client.publishAsync(set, 'OPEN', { qos: 1, properties: { userProperties: { sender: 'ha-automation' }, responseTopic: 'ha/replies' } });
  await until('declared sender', () => calls.length >= 3);
  t.equal(calls[2], 'front-door open mqtt:ha-automation MQTT command (response topic ha/replies)');
  // Unstorable text at the entry: refused before it reaches the log. (A NUL in a user property
  // never gets here: Mosquitto drops the publisher's connection for the malformed packet.)
  const mark = r.logs.lines.length;
  await cmd.client.publishAsync(set, 'OP\u0000EN', { qos: 1 });
  await cmd.client.publishAsync(set, Buffer.from([0x4f, 0x50, 0x45, 0x4e, 0xc3]), { qos: 1 });
  await sleep(300); // a negative check: neither command reaches the manual action
  t.equal(calls.length, 3, 'a NUL in the payload and invalid UTF-8 refused');
  const invalid = r.logs.lines.slice(mark).filter((l) => /MQTT gate command refused \(further invalid/.test(String(l.msg)));
  t.equal(invalid.length, 1, 'one line for the window');
  t.match(invalid[0]?.reason, /payload contains a NUL character \(U\+0000\) at index 2/);

  // 300 OPENs at once (they opened the door 300 times): the burst (3, one used above) passes.
  const flood0 = performance.now();
  await Promise.all(Array.from({ length: 300 }, () => cmd.client.publishAsync(set, 'OPEN', { qos: 1 })));
  t.comment(`300 OPENs published in ${(performance.now() - flood0).toFixed(0)} ms`);
  await until('flood handled', () => r.logs.lines.some((l) => /over the rate limit in the last window/.test(String(l.msg))), 5000);
  t.equal(calls.filter((c) => c.startsWith('front-door open')).length - 1, 3, 'three opens since the restart: the burst, not 300');
  const limited = r.logs.lines.filter((l) => /over the rate limit/.test(String(l.msg)));
  t.equal(limited.length, 2, 'one line when the limit starts refusing, one with the count when the window ends');
  t.match(limited[0], { gate: 'front-door', action: 'open', limit: { perMinute: 12, burst: 3 } });
  t.match(limited[1], { gate: 'front-door', action: 'open', refused: 298 });
  await cmd.client.publishAsync(set, 'LOCK', { qos: 1 });
  await until('lock after the flood', () => calls.at(-1)?.startsWith('front-door close') === true);
  t.pass('an OPEN flood does not use up the LOCK budget');
  // Clear the retained OPEN (it arrives live as an empty, invalid command: nothing happens).
  await cmd.client.publishAsync(set, '', { qos: 1, retain: true });
});

t.test('a broker that drops what facegate publishes: a warning in the sink health, not a healthy-looking sink', async (t) => {
  // The facegate user may publish but not read its own topics: the broker accepts every publish
  // (PUBACK), so without the echo check the sink looked connected with lag 0.
  const acl = 'user fg\ntopic write facegate/#\ntopic readwrite homeassistant/#\n\nuser nev\ntopic readwrite facegate/test-node/available\ntopic readwrite facegate/test-node/echo/#\ntopic readwrite facegate/test-node/camera/#\ntopic readwrite facegate/test-node/gate/#\ntopic readwrite homeassistant/#\n';
  const broker = await Mosquitto.start({ users: { fg: 'fg-password-1', nev: 'nev-password-2' }, acl });
  t.teardown(() => broker.stop());
  const r = rig(broker.url, { username: 'fg', password: 'fg-password-1', echoCheck: { timeoutMs: 1000 } });
  t.teardown(() => r.close());
  await until('connected', () => connected(r));
  await until('echo warning', () => r.runner.health()[0].warning !== undefined, 5000);
  t.match(r.runner.health()[0], { connected: true, warning: /did not echo a test message on facegate\/test-node\/echo\/facegate-test-node within 1000 ms.*ACL/ });
  t.equal(r.logs.lines.filter((l) => /MQTT echo check failed/.test(String(l.msg))).length, 1, 'logged once');
  t.equal(systemHealthEvent({ nowMs: Date.now(), uptimeMs: 1, rssBytes: 1, cameras: [], sinks: r.runner.health(), modelP95Ms: {}, eventLogLastId: 0 }).data.status, 'degraded', 'system.health says degraded');

  // A prefix under $SYS (refused by the config; here past it): MQTT 5 gets the broker's refusal
  // of the first publish, so the sink is not connected, events stay in the log (lag) and the
  // health says why, instead of connected, lag 0 and events vanishing.
  await r.runner.stop();
  const parsed = parseConfig({ events: { outputs: { mqtt: { enabled: true, url: broker.url, nodeId: 'test-node', username: 'fg', password: 'fg-password-1' } } } }).events.outputs.mqtt;
  if (!parsed) throw new Error('no mqtt config');
  r.sink = createMqttSink({ config: { ...parsed, topicPrefix: '$SYS/facegate', discovery: { ...parsed.discovery, enabled: false } }, logger: createLogger({ level: 'silent' }), cursors: r.cursors, cameras: () => [], gates: () => [] });
  r.runner = runSinks([r.sink], { bus: r.bus, cursors: r.cursors, logger: createLogger({ level: 'silent' }) });
  for (let i = 0; i < 5; i++) r.bus.publish(health(i));
  await until('refusal in health', () => r.runner.health()[0].lastError !== undefined, 5000);
  await sleep(500); // a negative check: nothing is delivered after the refusal
  t.match(r.runner.health()[0], { connected: false, lag: 5, delivered: 0, lastError: /refused to publish \$SYS\/facegate\/available: .*Not authorized.*ACL/ });

  // An ACL that allows everything but <prefix>/events: connected, echo fine, the events refused
  // by the broker stay in the log and the reason is the sink's warning.
  await r.runner.stop();
  r.start({ username: 'nev', password: 'nev-password-2', types: ['system.*'] });
  await until('refused events in health', () => /refused a publish to facegate\/test-node\/events/.test(r.runner.health()[0].warning ?? ''), 10_000);
  t.match(r.runner.health()[0], { connected: true, lag: 5, delivered: 0, warning: /Not authorized/ });
});

t.test('last will: a facegate killed with SIGKILL turns <prefix>/available offline', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(join(tmpdir(), 'fg-outputs-will-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = resolve(fileURLToPath(new URL('../../src/', import.meta.url)));
  // A separate process, so it can die without a goodbye: only the broker can say it is gone.
  const script = join(dir, 'sink.ts');
  writeFileSync(
    script,
    `import { parseConfig } from '${src}/config/index.ts';
import { EventBus, EventLog } from '${src}/events/index.ts';
import { createLogger } from '${src}/log.ts';
import { CursorStore, createMqttSink, runSinks } from '${src}/outputs/index.ts';
const log = new EventLog('${dir}/events.sqlite');
const bus = new EventBus(log);
const cursors = new CursorStore('${dir}/outputs.sqlite');
const config = parseConfig({ events: { outputs: { mqtt: { enabled: true, url: '${broker.url}', nodeId: 'will-node' } } } }).events.outputs.mqtt!;
const sink = createMqttSink({ config, logger: createLogger({ level: 'silent' }), cursors, cameras: () => [], gates: () => [] });
const runner = runSinks([sink], { bus, cursors, logger: createLogger({ level: 'silent' }) });
const timer = setInterval(() => { if (runner.health()[0].connected) { process.stdout.write('connected\\n'); clearInterval(timer); } }, 20);
`,
  );
  const sub = await subscriber(broker.url, ['facegate/will-node/available']);
  t.teardown(() => sub.client.endAsync(true));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await until('child connected', () => out.includes('connected'), 30_000);
  await until('online', () => sub.got.at(-1)?.payload.toString() === 'online');
  child.kill('SIGKILL');
  await until('offline (last will)', () => sub.got.at(-1)?.payload.toString() === 'offline', 10_000);
  t.equal(sub.got.at(-1)?.retain, false, 'delivered live to the subscriber');
  const late = await subscriber(broker.url, ['facegate/will-node/available']);
  t.teardown(() => late.client.endAsync(true));
  await until('retained offline', () => late.got.length > 0);
  t.match(late.got[0], { retain: true }, 'and retained for those who come later');
  t.equal(late.got[0].payload.toString(), 'offline');
});

t.test('an unreadable password file: the sink says so in its health, the bus keeps going', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const r = rig(broker.url, { username: 'fg', passwordFile: '/nonexistent/facegate-mqtt.pw' });
  t.teardown(() => r.close());
  await until('health error', () => r.runner.health()[0].lastError !== undefined, 5000);
  t.match(r.runner.health()[0], { connected: false, lastError: /cannot read events\.outputs\.mqtt\.passwordFile .*ENOENT[\s\S]*fix: check the path/ });
  t.ok(r.logs.lines.some((l) => l.level === 50 && /sink failed to start/.test(String(l.msg))), 'logged as an error');
  r.bus.publish(health(1));
  t.equal(r.log.lastId(), 1);
});
