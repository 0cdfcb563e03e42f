// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * Door modes as an MQTT command (Home Assistant's select) over a real Mosquitto: the MQTT sink's
 * command path (src/outputs/mqtt.ts) takes `lockdown` on <prefix>/gate/<id>/door_mode/set and the
 * doors part (src/app/doors.ts) records door.mode_changed with the declared sender, as the API
 * does; the select's state topic follows; commands off, unknown modes, a gate without a
 * door and a flood past commandLimit change nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import { sleep, until } from '../../src/lib/time.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, createMqttSink, runSinks } from '../../src/outputs/index.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const PREFIX = 'fgtest/mode';
const MODE_SET = `${PREFIX}/gate/front/door_mode/set`;

async function rig(t: Test, broker: Mosquitto, commands: boolean) {
  const config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [
      { id: 'front', cameras: ['door'], door: { strikeMs: 1500 } },
      { id: 'turnstile', cameras: ['door'] },
    ],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, nodeId: 'mode-node', topicPrefix: PREFIX, commands, commandLimit: { perMinute: 1, burst: 2 }, discovery: { enabled: false } } } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'fg-door-mode-'));
  const logger = createLogger({ level: 'silent' });
  const { bus, events, doors, stop: stopDoors } = await startDoorsPart(t, config, { db: join(dir, 'events.sqlite'), logger });
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  const mqttConfig = config.events.outputs.mqtt;
  if (!mqttConfig) throw new Error('no mqtt config');
  const sink = createMqttSink({
    config: mqttConfig,
    logger,
    cursors,
    cameras: () => [],
    gates: () => [{ id: 'front', name: 'Front', door: true }, { id: 'turnstile', name: 'Turnstile' }],
    doorMode: (gateId, mode, by, reason) => doors.setMode(gateId, mode, by, reason),
    connectTimeoutMs: 2000,
  });
  const runner = runSinks([sink], { bus, cursors, logger, pageSize: 50 });
  const admin = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
  t.teardown(async () => {
    await admin.endAsync(true);
    await runner.stop();
    await stopDoors();
    cursors.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await until('the sink connected', () => runner.health()[0]?.connected === true, 10_000);
  const send = (topic: string, payload: string, opts: { retain?: boolean; sender?: string } = {}) =>
    admin.publishAsync(topic, payload, { qos: 1, retain: opts.retain ?? false, ...(opts.sender ? { properties: { userProperties: { sender: opts.sender } } } : {}) });
  const modes = () => events.filter((e) => e.type === 'door.mode_changed');
  return { doors, events, admin, send, modes };
}

t.test('door mode commands over MQTT', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());

  t.test('lockdown from the select, audited with the sender; the select state follows', async (t) => {
    const r = await rig(t, broker, true);
    const states: string[] = [];
    r.admin.on('message', (topic, payload) => topic === `${PREFIX}/gate/front/door_operator_mode` && states.push(payload.toString()));
    await r.admin.subscribeAsync(`${PREFIX}/gate/front/door_operator_mode`, { qos: 1 });
    await r.send(MODE_SET, 'lockdown', { sender: 'ha-admin' });
    await until('door.mode_changed', () => r.modes().length === 1, 5000);
    t.match(r.modes()[0], { gateId: 'front', data: { mode: 'lockdown', previous: 'normal', source: 'operator', by: 'mqtt:ha-admin', reason: 'MQTT command' } });
    t.equal(r.doors.state('front')?.operatorMode, 'lockdown');
    await until('the select state', () => states.at(-1) === 'lockdown', 5000);

    // Refused: unknown mode, the schedule's mode, a gate without a door.
    await r.send(MODE_SET, 'open-sesame');
    await r.send(MODE_SET, 'unlocked');
    await r.send(`${PREFIX}/gate/turnstile/door_mode/set`, 'normal');
    // A marker after them, unidentified: once it is in, the four before it were handled.
    await r.send(MODE_SET, 'unlock-all');
    await until('the marker', () => r.modes().length === 2, 5000);
    t.match(r.modes()[1], { data: { mode: 'unlock-all', previous: 'lockdown', by: 'mqtt:unidentified' } });
    t.equal(r.doors.state('front')?.released, true, 'unlock-all released the lock');

    // commandLimit burst 2, one per minute: the third mode command is refused.
    await r.send(MODE_SET, 'normal');
    await sleep(500);
    t.equal(r.modes().length, 2, 'over the rate limit: refused');
    t.equal(r.doors.state('front')?.operatorMode, 'unlock-all');
  });

  t.test('commands off: the mode topic is not listened to', async (t) => {
    const r = await rig(t, broker, false);
    await r.send(MODE_SET, 'lockdown', { sender: 'ha-admin' });
    await sleep(500);
    t.same(r.modes(), []);
    t.equal(r.doors.state('front')?.operatorMode, 'normal');
  });
});
