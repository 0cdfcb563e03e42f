/**
 * MQTT door input loss in system.health: the doors part's input client on a real Mosquitto that
 * the test kills and starts again. While the broker is gone, each gate with an MQTT input has a
 * not-connected entry naming the gate and the broker, and system.health is degraded with it;
 * once the broker is back the entry is connected again and the contact is seen again.
 */
import mqtt from 'mqtt';
import t from 'tap';
import { systemHealthEvent, type SinkHealthSample } from '../../src/app/health.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { until } from '../../src/lib/time.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const CONTACT = 'sensors/health_door';

const health = (sinks: readonly SinkHealthSample[]) => systemHealthEvent({ nowMs: Date.now(), uptimeMs: 1000, rssBytes: 1, cameras: [], sinks, modelP95Ms: {}, eventLogLastId: 0 });

t.test('door input loss is reported in system.health, and its return', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const config: Config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [
      { id: 'front', cameras: ['door'], door: { contact: { mqtt: CONTACT } } },
      { id: 'plain', cameras: ['door'] },
    ],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, topicPrefix: 'fgtest/health', clientId: `doors-health-${Math.random().toString(36).slice(2, 8)}` } } },
  });
  const { doors, stop: stopDoors } = await startDoorsPart(t, config);
  t.teardown(async () => {
    await stopDoors();
  });

  await until('the input client connected', () => doors.health()[0]?.connected === true, 5000);
  t.same(doors.health().map((h) => h.name), ['door-input.front'], 'one entry per gate with an MQTT input');
  const up = health(doors.health());
  t.equal(up.data.status, 'ok');
  t.equal(up.data.details?.['input.door-input.front.connected'], true);

  await broker.kill();
  await until('the loss seen', () => doors.health()[0]?.connected === false, 5000);
  const [lost] = doors.health();
  t.match(lost.lastError, new RegExp(`broker ${broker.url.replace(/[.]/g, '\\.')}`), 'names the broker');
  const down = health(doors.health());
  t.equal(down.data.status, 'degraded');
  t.match(down.data.message, /door input of gate front not connected \(broker mqtt:\/\/127\.0\.0\.1:\d+ not reachable/, 'names the gate and the broker');
  t.equal(down.data.details?.['input.door-input.front.connected'], false);

  await broker.restart();
  await until('back after the broker restarted', () => doors.health()[0]?.connected === true, 15_000);
  const back = health(doors.health());
  t.equal(back.data.status, 'ok');
  t.equal(back.data.message, undefined);
  // Subscribed again: a contact reading arrives.
  const sensor = await mqtt.connectAsync(broker.url);
  t.teardown(() => sensor.endAsync(true));
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1 });
  await until('the contact seen after the return', () => doors.state('front')?.contact === 'closed', 5000);
  t.pass('contact seen again');
});
