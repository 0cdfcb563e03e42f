/**
 * The MQTT sink inside the real service (real models, no camera frames): facegate starts while
 * the broker is down and runs anyway; manual gate actions through the HTTP API reach
 * <prefix>/events and flip the gate's retained state once the broker is up; an MQTT OPEN command
 * opens the gate through the same audited path as the API (gate.opened by mqtt:<clientId> in the
 * log); /metrics carries the sink's lag and counts.
 */
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import type { Config } from '../../src/config/index.ts';
import type { Event } from '../../src/events/index.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { withService } from '../helpers/service.ts';
import { until } from '../../src/lib/time.ts';

const OPERATOR = 'mqtt-svc-operator-token-0123456789';

t.test('service with events.outputs.mqtt: broker down at start, API gate actions and an MQTT OPEN arrive and are audited', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  await broker.kill(); // down when facegate starts
  const { service } = await withService(t, {
    prefix: 'fg-outputs-svc-',
    config: (dir) => ({
      auth: { tokens: [{ id: 'desk', role: 'operator', sha256: sha256Hex(OPERATOR) }] },
      // A camera whose clip does not exist: it goes down and retries, and a gate can name it.
      cameras: [{ id: 'door', source: { kind: 'file', path: join(dir, 'missing.mp4') } }],
      gates: [{ id: 'front-door', name: 'Front door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] } }],
      events: { outputs: { mqtt: { enabled: true, url: broker.url, nodeId: 'svc-node', clientId: 'fg-svc', commands: true } } },
    }),
  });
  const call = (path: string, init: RequestInit = {}) => fetch(`${service.api.url}${path}`, { ...init, headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' } });

  // Broker down: the service answers, and the API's gate action is logged.
  t.equal((await fetch(`${service.api.url}/healthz`)).status, 200, 'facegate runs without its broker');
  t.equal(service.sinks.health()[0].connected, false);
  t.equal((await call('/v1/gates/front-door/open', { method: 'POST', body: JSON.stringify({ reason: 'delivery' }) })).status, 200);
  await until('logged', () => service.log.query({ types: ['gate.opened'] }).length === 1);
  const apiOpen = service.log.query({ types: ['gate.opened'] })[0];
  t.match(apiOpen.data, { action: 'open', by: 'desk' });

  // Broker up: the backlog (the API open) arrives, state and discovery follow.
  await broker.restart();
  const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100, protocolVersion: 5 });
  t.teardown(() => sub.endAsync(true));
  const got: Array<{ topic: string; payload: string }> = [];
  sub.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  await sub.subscribeAsync(['facegate/svc-node/#', 'homeassistant/device/svc-node/config'], { qos: 1 });
  await until('connected', () => service.sinks.health()[0].connected === true, 40_000);
  const events = () => got.filter((m) => m.topic === 'facegate/svc-node/events').map((m) => JSON.parse(m.payload) as Event);
  await until('discovery', () => got.some((m) => m.topic === 'homeassistant/device/svc-node/config'));
  const disc = JSON.parse(got.find((m) => m.topic === 'homeassistant/device/svc-node/config')?.payload ?? '{}') as { cmps: Record<string, Record<string, unknown>> };
  t.match(disc.cmps['svc-node_gate_front-door_lock'], { p: 'lock', name: 'Front door', command_topic: 'facegate/svc-node/gate/front-door/set' });
  t.match(disc.cmps['svc-node_camera_door_status'], { p: 'binary_sensor', device_class: 'connectivity' });

  // An MQTT OPEN: audited like the API's, with the sender the message declares as actor (the
  // broker does not say who published; facegate's own client id 'fg-svc' is not the actor).
  await sub.publishAsync('facegate/svc-node/gate/front-door/set', 'OPEN', { qos: 1, properties: { userProperties: { sender: 'front-desk-tablet' } } });
  await until('mqtt open logged', () => service.log.query({ types: ['gate.opened'] }).length === 2);
  const mqttOpen = service.log.query({ types: ['gate.opened'] })[1];
  t.match(mqttOpen, { gateId: 'front-door', data: { action: 'open', by: 'mqtt:front-desk-tablet', reason: 'MQTT command' } });
  await until('mqtt open published', () => events().some((e) => e.id === mqttOpen.id));
  await until('gate state UNLOCKED', () => got.some((m) => m.topic === 'facegate/svc-node/gate/front-door/state' && m.payload === 'UNLOCKED'));
  t.match(JSON.parse(got.find((m) => m.topic === 'facegate/svc-node/gate/front-door/event')?.payload ?? '{}'), { event_type: 'opened' });
  // The API open made while the broker was down arrived too, before the MQTT one.
  const ids = events().map((e) => e.id);
  t.ok(ids.includes(apiOpen.id) && ids.indexOf(apiOpen.id) < ids.indexOf(mqttOpen.id), 'the outage backlog first, in id order');
  // The missing clip: camera.down in the log, `down` retained for Home Assistant's connectivity sensor.
  await until('camera.down logged', () => service.log.query({ types: ['camera.down'], cameraId: 'door' }).length > 0);
  await until('camera status down', () => got.some((m) => m.topic === 'facegate/svc-node/camera/door/status' && m.payload === 'down'));

  // (A subscriber can see a message before the broker's PUBACK reaches the sink: wait for the cursor.)
  await until('lag 0', () => service.sinks.health()[0].lag === 0, 5000);
  t.match(service.sinks.health()[0], { name: 'mqtt', connected: true, lag: 0, failed: 0 });
  const metrics = await (await call('/metrics')).text();
  t.match(metrics, /facegate_sink_connected\{sink="mqtt"\} 1/);
  t.match(metrics, /facegate_sink_delivered_total\{sink="mqtt"\} [1-9]/);
  t.match(metrics, /facegate_sink_lag_events\{sink="mqtt"\} 0/);
});

t.test('events.outputs changed on hot reload: the sink restarts from its cursor, the old Home Assistant device is removed, no restart needed', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const raw = (dir: string, nodeId: string, enabled = true) => ({
    auth: { tokens: [{ id: 'desk', role: 'operator', sha256: sha256Hex(OPERATOR) }] },
    cameras: [{ id: 'door', source: { kind: 'file', path: join(dir, 'missing.mp4') } }],
    gates: [{ id: 'front-door', name: 'Front door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, antiPassback: { area: 'hq-lobby', direction: 'entry', windowMs: 60_000 } }],
    events: { outputs: { mqtt: { enabled, url: broker.url, nodeId } } },
  });
  const rig = await withService(t, { prefix: 'fg-outputs-reload-', config: (dir) => raw(dir, 'node-a') });
  const { service, dir } = rig;
  let config = rig.config;
  const reload = async (next: Config) => {
    const restart = await service.update(next);
    config = next;
    return restart;
  };
  const open = async (reason: string) => {
    const r = await fetch(`${service.api.url}/v1/gates/front-door/open`, { method: 'POST', body: JSON.stringify({ reason }), headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' } });
    t.equal(r.status, 200);
    const logged = () => service.log.query({ types: ['gate.opened'] }).find((e) => (e.data as { reason?: string }).reason === reason);
    await until(`logged ${reason}`, () => logged() !== undefined);
    return logged()!;
  };
  const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100, protocolVersion: 5 });
  t.teardown(() => sub.endAsync(true));
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  sub.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await sub.subscribeAsync(['facegate/#', 'homeassistant/device/#'], { qos: 1 });
  const eventIds = (node: string) => got.filter((m) => m.topic === `facegate/${node}/events`).map((m) => (JSON.parse(m.payload) as Event).id);

  // (The gate API view says what anti-passback the gate has; an area without fleet mode is this box's.)
  const gatesView = (await (await fetch(`${service.api.url}/v1/gates`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { gates: { id: string; antiPassback: unknown }[] };
  t.same(gatesView.gates[0]?.antiPassback, { area: 'hq-lobby', direction: 'entry', state: 'local' }, 'GET /v1/gates: the area and its state');
  await until('node-a connected', () => service.sinks.health()[0].connected === true, 20_000);
  await until('node-a announced', () => got.some((m) => m.topic === 'homeassistant/device/node-a/config' && m.payload !== ''));
  const first = await open('before the change');
  await until('first event on node-a', () => eventIds('node-a').includes(first.id));

  // A new node id: applied at once; the device announced as node-a is deleted (empty retained config).
  t.same(await reload(rig.parse(raw(dir, 'node-b'))), [], 'no section needs a restart');
  await until('node-b announced', () => got.some((m) => m.topic === 'homeassistant/device/node-b/config' && m.payload !== ''), 20_000);
  await until('node-a deleted', () => got.some((m) => m.topic === 'homeassistant/device/node-a/config' && m.payload === ''));
  t.ok(got.some((m) => m.topic === 'facegate/node-a/available' && m.payload === 'offline'), 'the old sink said goodbye on its availability topic');
  const second = await open('after the change');
  await until('second event on node-b', () => eventIds('node-b').includes(second.id));
  t.notOk(eventIds('node-b').includes(first.id), 'the new sink resumed from the cursor: the first event is not sent again');

  // Turned off, then on again: what happened in between is delivered (the cursor was kept).
  t.same(await reload(rig.parse(raw(dir, 'node-b', false))), []);
  t.same(service.sinks.health(), [], 'no sink while mqtt is disabled');
  const third = await open('while the sink is off');
  t.same(await reload(rig.parse(raw(dir, 'node-b'))), []);
  await until('third event delivered after re-enabling', () => eventIds('node-b').includes(third.id), 20_000);
  t.equal(eventIds('node-b').filter((id) => id === second.id).length, 1, 'and nothing twice');
  // A retained empty config must stay retained: a fresh subscriber sees no node-a device.
  const late = await mqtt.connectAsync(broker.url);
  t.teardown(() => late.endAsync(true));
  const retained: string[] = [];
  late.on('message', (topic) => retained.push(topic));
  await late.subscribeAsync('homeassistant/device/#', { qos: 1 });
  await until('retained node-b config', () => retained.includes('homeassistant/device/node-b/config'));
  t.notOk(retained.includes('homeassistant/device/node-a/config'), 'no ghost device for node-a');
});
