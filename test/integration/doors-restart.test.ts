/**
 * The door state across a restart of the service's doors part (src/app/doors.ts) on a real
 * Mosquitto and an event log file: a lockdown and a held-open alarm raised before the restart are
 * there after it (read back from the door.* events), the contact is re-read from the sensor's
 * retained state, and closing the door then clears the restored alarm.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { until } from '../../src/lib/time.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';

const CONTACT = 'sensors/restart_door';

t.test('door state survives a restart of the doors part', async (t) => {
  const broker = await Mosquitto.start();
  const dir = mkdtempSync(join(tmpdir(), 'fg-doors-restart-'));
  const db = join(dir, 'events.sqlite');
  const config: Config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [{ id: 'front', cameras: ['door'], door: { strikeMs: 500, heldOpenMs: 1000, contact: { mqtt: CONTACT } } }],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, topicPrefix: 'fgtest/restart', clientId: `doors-restart-${Math.random().toString(36).slice(2, 8)}` } } },
  });
  const sensor = await mqtt.connectAsync(broker.url);
  t.teardown(async () => {
    await sensor.endAsync(true);
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One run of the doors part over the event log file, as a service start would. */
  const start = (t: Test) => startDoorsPart(t, config, { db });

  // Before: an authorised opening held open past heldOpenMs, then an operator's lockdown.
  const first = await start(t);
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1, retain: true });
  await until('the first contact reading', () => first.doors.state('front')?.contact === 'closed', 5000);
  first.bus.publish({ type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: 'door:1', identityId: 'alice-id', timeMs: Date.now(), data: { name: 'Alice', score: 0.7, masked: false } });
  await sensor.publishAsync(CONTACT, 'ON', { qos: 1, retain: true });
  await until('door.held_open', () => first.events.some((e) => e.type === 'door.held_open'), 5000);
  first.doors.setMode('front', 'lockdown', 'admin-1', 'intruder reported');
  t.match(first.doors.state('front'), { operatorMode: 'lockdown', alarms: ['held_open'], contact: 'open' });
  await first.stop();

  // After: the same log, a new doors part.
  const second = await start(t);
  t.teardown(() => second.stop());
  t.match(second.doors.state('front'), { operatorMode: 'lockdown', mode: 'lockdown', alarms: ['held_open'], contact: 'open', released: false }, 'lockdown and the held-open alarm are back');
  t.match(second.events.filter((e) => e.type === 'door.mode_changed'), [{ gateId: 'front', data: { mode: 'lockdown', previous: 'normal', source: 'operator', by: 'admin-1', reason: 'restored after a restart: intruder reported' } }], 'the restored mode is audited once');
  t.notOk(second.events.some((e) => e.type === 'door.held_open' || e.type === 'door.forced_open'), 'the alarm is not raised a second time');
  // The retained contact (still open) is re-read: nothing changes.
  await new Promise((r) => setTimeout(r, 300));
  t.match(second.doors.state('front'), { contact: 'open', alarms: ['held_open'] });
  // The door closes: the restored alarm is cleared by a door.closed.
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1, retain: true });
  await until('door.closed', () => second.events.some((e) => e.type === 'door.closed'), 5000);
  t.match(second.events.find((e) => e.type === 'door.closed'), { data: { cleared: ['held_open'] } });
  t.match(second.doors.state('front'), { contact: 'closed', alarms: [], operatorMode: 'lockdown' });
  // A grant in the restored lockdown does not release.
  second.bus.publish({ type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: 'door:2', identityId: 'alice-id', timeMs: Date.now(), data: { name: 'Alice', score: 0.7, masked: false } });
  t.equal(second.doors.state('front')?.released, false);
});
