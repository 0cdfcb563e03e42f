// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The service's doors part (src/app/doors.ts) against a real Mosquitto 2 and the loopback Shelly
 * relay emulator: the contact and REX arrive as MQTT messages on the broker of
 * events.outputs.mqtt, grants as gate.granted on the real event bus, and the lock as Switch.Set
 * calls with toggle_after. Grant -> released -> open -> closed -> locked; the contact opening with
 * no grant -> door.forced_open; a relay that does not answer -> gate.actuation_failed + door.lock_failed.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { BehaviorSubject } from 'rxjs';
import t, { type Test } from 'tap';
import { gpiodTools, startServiceDoors } from '../../src/app/doors.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { EventBus, EventLog, type Event } from '../../src/events/index.ts';
import { Followers } from '../../src/lib/follow.ts';
import { Lifetime } from '../../src/lib/lifetime.ts';
import { until } from '../../src/lib/time.ts';
import { createLogger } from '../../src/log.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { RelayEmulator } from '../helpers/relay-emulator.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const CONTACT = 'zigbee2mqtt/front_door';
const REX = 'zigbee2mqtt/front_exit';

interface Rig {
  readonly bus: EventBus;
  readonly events: Event[];
  readonly sensor: MqttClient;
  readonly relay: RelayEmulator;
  readonly lifetime: Lifetime;
  readonly doors: ReturnType<typeof startServiceDoors>;
  readonly follow: Followers<Config>;
  doorTypes(): string[];
}

async function rig(t: Test, broker: Mosquitto, door: Record<string, unknown>, relayTimeoutMs = 1000): Promise<Rig> {
  const relay = await RelayEmulator.start();
  const config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [{ id: 'front', cameras: ['door'], door: { strikeMs: 1500, heldOpenMs: 60_000, contact: { mqtt: CONTACT, field: 'contact', open: 'false', closed: 'true' }, rex: { mqtt: REX, field: 'action', press: 'single' }, lock: { relay: { url: relay.url, switchId: 0, timeoutMs: relayTimeoutMs } }, ...door } }],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, topicPrefix: 'fgtest/box', clientId: `doors-test-${Math.random().toString(36).slice(2, 8)}` } } },
  });
  const { bus, events, lifetime, follow, doors, stop: stopDoors } = await startDoorsPart(t, config);
  const sensor = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
  t.teardown(async () => {
    await stopDoors();
    await sensor.endAsync(true);
    await relay.close();
  });
  return { bus, events, sensor, relay, lifetime, doors, follow, doorTypes: () => events.filter((e) => e.type.startsWith('door.')).map((e) => e.type) };
}

const contact = (r: Rig, open: boolean, retain = false) => r.sensor.publishAsync(CONTACT, JSON.stringify({ battery: 90, contact: !open }), { qos: 1, retain });
const grant = (r: Rig) => r.bus.publish({ type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: 'door:1', identityId: 'alice-id', timeMs: Date.now(), data: { name: 'Alice', score: 0.7, masked: false } });

t.test('doors over a real broker and the relay emulator', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());

  t.test('grant -> released -> open -> closed -> locked, the relay released with toggle_after', async (t) => {
    const r = await rig(t, broker, {});
    // The sensor's retained state arrives first after subscribing: closed, no event.
    await contact(r, false, true);
    await until('the first contact reading', () => r.doors.state('front')?.contact === 'closed', 5000);
    t.same(r.doorTypes(), []);

    grant(r);
    t.equal(r.doors.state('front')?.phase, 'released');
    const [release] = await r.relay.waitForCalls(1);
    t.match(release, { id: 0, on: true, toggleAfter: 1.5 }, 'fail-secure strike: relay on for strikeMs, flipping back by itself');

    await contact(r, true);
    await until('door.opened', () => r.doorTypes().includes('door.opened'), 5000);
    await contact(r, false);
    await until('door.closed', () => r.doorTypes().includes('door.closed'), 5000);
    t.equal(r.doors.state('front')?.phase, 'closed', 'closed while the strike still runs');
    await until('door.locked', () => r.doorTypes().includes('door.locked'), 5000);
    t.same(r.doorTypes(), ['door.released', 'door.opened', 'door.closed', 'door.locked']);
    const released = r.events.find((e) => e.type === 'door.released');
    t.match(released, { gateId: 'front', identityId: 'alice-id', data: { by: 'grant' } });
    t.match(r.events.find((e) => e.type === 'door.opened'), { data: { authorised: true } });
    await r.relay.waitForCalls(2);
    t.same(r.relay.outputs.get(0), false, 'the relay is off (locked) again');
    t.match(r.relay.calls[1], { on: false, toggleAfter: undefined }, 'the lock command after the strike');
    t.notOk(r.events.some((e) => e.type === 'gate.actuation_failed'), 'nothing failed');
  });

  t.test('Home Assistant mirror: retained door, lock and mode, alarms as HA events', async (t) => {
    const watcher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
    t.teardown(() => watcher.endAsync(true));
    const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
    watcher.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await watcher.subscribeAsync('fgtest/box/gate/front/#', { qos: 1 });
    const r = await rig(t, broker, {});
    await contact(r, false, true);
    await until('the mirrored lock state', () => got.some((m) => m.topic.endsWith('/door_lock') && m.payload === 'LOCKED'), 5000);
    await contact(r, true);
    await until('the forced-open alarm', () => got.some((m) => m.topic === 'fgtest/box/gate/front/door_alarm'), 5000);
    t.same(JSON.parse(got.find((m) => m.topic === 'fgtest/box/gate/front/door_alarm')!.payload), { event_type: 'forced_open' });
    await until('the door open', () => got.some((m) => m.topic === 'fgtest/box/gate/front/door' && m.payload === 'open'), 5000);
    t.ok(got.some((m) => m.topic === 'fgtest/box/gate/front/door_mode' && m.payload === 'normal'));
    // A later subscriber (Home Assistant after a restart) gets the retained state at once.
    const late = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
    t.teardown(() => late.endAsync(true));
    const retained = new Map<string, string>();
    late.on('message', (topic, payload, packet) => packet.retain && retained.set(topic, payload.toString()));
    await late.subscribeAsync('fgtest/box/gate/front/#', { qos: 1 });
    await until('retained door state', () => retained.size >= 3, 5000);
    t.equal(retained.get('fgtest/box/gate/front/door'), 'open');
    t.equal(retained.get('fgtest/box/gate/front/door_lock'), 'LOCKED');
    t.equal(retained.get('fgtest/box/gate/front/door_mode'), 'normal');
    t.notOk(retained.has('fgtest/box/gate/front/door_alarm'), 'alarms are events, not retained');
  });

  t.test('facegate stops during a release: the relay re-locks on its own timer', async (t) => {
    const r = await rig(t, broker, {});
    grant(r);
    await r.relay.waitForCalls(1);
    await r.lifetime.close();
    t.equal(r.relay.outputs.get(0), true, 'released when facegate stopped');
    await until('the relay flipped back by itself', () => r.relay.flipBacks.length === 1, 5000);
    t.equal(r.relay.outputs.get(0), false, 'locked again with nobody telling it');
    t.equal(r.relay.calls.length, 1, 'no command came after the stop');
  });

  t.test('contact opens with no grant -> door.forced_open; REX then releases', async (t) => {
    const r = await rig(t, broker, {});
    await contact(r, false, true);
    await until('the first contact reading', () => r.doors.state('front')?.contact === 'closed', 5000);
    await contact(r, true);
    await until('door.forced_open', () => r.doorTypes().includes('door.forced_open'), 5000);
    t.same(r.doorTypes(), ['door.opened', 'door.forced_open']);
    t.match(r.events.find((e) => e.type === 'door.opened'), { gateId: 'front', data: { authorised: false } });
    t.same(r.relay.calls, [], 'a forced opening never moves the lock');
    await contact(r, false);
    await until('door.closed', () => r.doorTypes().includes('door.closed'), 5000);
    t.match(r.events.find((e) => e.type === 'door.closed'), { data: { cleared: ['forced_open'] } });

    await r.sensor.publishAsync(REX, JSON.stringify({ action: 'double' }), { qos: 1 });
    await r.sensor.publishAsync(REX, JSON.stringify({ action: 'single' }), { qos: 1 });
    await until('door.rex', () => r.doorTypes().includes('door.rex'), 5000);
    t.equal(r.doorTypes().filter((x) => x === 'door.rex').length, 1, 'only the configured press counts');
    t.match(r.events.find((e) => e.type === 'door.released'), { data: { by: 'rex' } });
    await r.relay.waitForCalls(1);
  });

  t.test('lockdown: a grant does not release, an operator mode is audited', async (t) => {
    const r = await rig(t, broker, {});
    r.doors.setMode('front', 'lockdown', 'guard1', 'incident');
    grant(r);
    t.same(r.doorTypes(), ['door.mode_changed']);
    t.match(r.events[r.events.length - 2], { type: 'door.mode_changed', data: { mode: 'lockdown', previous: 'normal', source: 'operator', by: 'guard1', reason: 'incident' } });
    await new Promise((res) => setTimeout(res, 200));
    t.same(r.relay.calls, []);
  });

  t.test('a relay that does not answer: gate.actuation_failed (target relay) and door.lock_failed, never a silent success', async (t) => {
    const r = await rig(t, broker, {}, 300);
    r.relay.behaviour = 'silent';
    grant(r);
    await until('the failure', () => r.events.some((e) => e.type === 'door.lock_failed'), 5000);
    const failed = r.events.find((e) => e.type === 'gate.actuation_failed');
    t.match(failed, { gateId: 'front', data: { action: 'open', trigger: 'door.released', outcomes: [{ target: 'relay', ok: false, error: /no answer within 300 ms/ }] } });
    t.match(r.events.find((e) => e.type === 'door.lock_failed'), { data: { action: 'release', error: /Switch.Set on failed/ } });
    r.relay.behaviour = 'rpc-error';
    r.bus.publish({ type: 'gate.opened', gateId: 'front', timeMs: Date.now(), data: { action: 'close', by: 'guard1', reason: 'test' } });
    await until('the second failure', () => r.events.filter((e) => e.type === 'door.lock_failed').length === 2, 5000);
    t.match(r.events.filter((e) => e.type === 'door.lock_failed')[1], { data: { action: 'lock', error: /RPC error -114/ } });
  });

  t.test('a door input that is not built, or MQTT inputs without a broker, fail the start with the fix', async (t) => {
    const base = { cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }] };
    const start = (c: Config) => startServiceDoors(c, { bus: new EventBus(new EventLog(':memory:')), log: createLogger({ level: 'silent' }) }, new Followers(new BehaviorSubject(c), () => {}), new Lifetime());
    const gpio = parseConfig({ ...base, gates: [{ id: 'front', cameras: ['door'], door: { contact: { gpio: { chip: 'gpiochip0', line: 4 } } } }] });
    // Refused where the libgpiod tools are missing (this CI machine); a board with them starts it (doors-gpio.test.ts).
    const toolsHere = ((): boolean => {
      try {
        gpiodTools();
        return true;
      } catch {
        return false;
      }
    })();
    if (!toolsHere) t.throws(() => start(gpio), { code: 'DOOR_INPUT_UNSUPPORTED', message: /door.contact from gpio/, hint: /mqtt: TOPIC/ });
    // `facegate config check` refuses it first (the path and the fix); the start still checks what it is given.
    t.throws(() => parseConfig({ ...base, gates: [{ id: 'front', cameras: ['door'], door: { rex: { mqtt: REX } } }] }), { message: /gates\[0\]\.door\.rex\.mqtt/ });
    const withBroker = parseConfig({ ...base, gates: [{ id: 'front', cameras: ['door'], door: { rex: { mqtt: REX } } }], events: { outputs: { mqtt: { enabled: true, url: broker.url } } } });
    const mqttOff = withBroker.events.outputs.mqtt ? { ...withBroker.events.outputs.mqtt, enabled: false } : undefined;
    const noBroker: Config = { ...withBroker, events: { ...withBroker.events, outputs: { ...withBroker.events.outputs, mqtt: mqttOff } } };
    t.throws(() => start(noBroker), { code: 'DOOR_INPUT_UNSUPPORTED', message: /events.outputs.mqtt is not enabled/, hint: /events.outputs.mqtt/ });
  });

  t.test('fail-safe maglock: released by switching the relay off', async (t) => {
    const r = await rig(t, broker, { failMode: 'safe' });
    grant(r);
    const [release] = await r.relay.waitForCalls(1);
    t.match(release, { on: false, toggleAfter: 1.5 });
  });
});
