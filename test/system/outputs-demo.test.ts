/**
 * `facegate demo --mqtt URL` against a real Mosquitto: the shipped demo (loopback RTSP door clip
 * of real people, gallery enrolled from other photos, gate front-door for staff) publishes its
 * Home Assistant discovery, a granted decision on <prefix>/events that flips
 * .../gate/front-door/state to UNLOCKED, the last face and its JPEG snapshot.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import t from 'tap';
import { runDemo } from '../../src/demo/demo.ts';
import type { Event } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';

const STATE = resolve(fileURLToPath(new URL('../../.facegate/test-cache/outputs-demo/', import.meta.url)));

t.test('demo --mqtt: discovery, granted on <prefix>/events, the gate state flips, last face + snapshot', async (t) => {
  mkdirSync(STATE, { recursive: true });
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
  t.teardown(() => sub.endAsync(true));
  const got: Array<{ topic: string; payload: Buffer; at: number }> = [];
  sub.on('message', (topic, payload) => got.push({ topic, payload, at: Date.now() }));
  await sub.subscribeAsync(['facegate/demo-node/#', 'homeassistant/device/demo-node/config'], { qos: 1 });

  const lines: string[] = [];
  const r = await runDemo({ logger: createLogger({ level: 'error' }), port: 0, stateDir: STATE, mqtt: broker.url, print: (l) => lines.push(l), nodeId: 'demo-node' });
  t.ok(r.granted >= 1, `the demo granted (${r.granted}) and denied (${r.denied})`);
  t.match(lines.join('\n'), /MQTT: mqtt:\/\/127\.0\.0\.1:\d+, topics facegate\/demo-node\/#/);

  const events = got.filter((m) => m.topic === 'facegate/demo-node/events').map((m) => JSON.parse(m.payload.toString()) as Event);
  const granted = events.filter((e) => e.type === 'gate.granted' && e.gateId === 'front-door');
  t.ok(granted.length >= 1, 'gate.granted for front-door on <prefix>/events');
  t.ok(got.some((m) => m.topic === 'homeassistant/device/demo-node/config'), 'discovery announced');
  const states = got.filter((m) => m.topic === 'facegate/demo-node/gate/front-door/state').map((m) => m.payload.toString());
  t.equal(states[0], 'LOCKED', 'announced LOCKED first');
  t.ok(states.includes('UNLOCKED'), 'the grant flipped the gate to UNLOCKED');
  const faces = got.filter((m) => m.topic === 'facegate/demo-node/camera/door/last_face').map((m) => JSON.parse(m.payload.toString()) as { name: string });
  t.ok(faces.some((f) => f.name === 'Angelina'), 'last_face named the recognised person');
  const snap = got.find((m) => m.topic === 'facegate/demo-node/camera/door/snapshot');
  t.ok(snap && snap.payload[0] === 0xff && snap.payload[1] === 0xd8, 'snapshot: JPEG bytes');
  // The demo runs encrypted at rest under its own key: the snapshot MQTT got was decrypted on the way out.
  const onDisk = readdirSync(join(STATE, 'snapshots'), { recursive: true }).map(String);
  t.ok(existsSync(join(STATE, 'facegate.key')), 'the demo made its own key');
  t.ok(onDisk.some((f) => f.endsWith('.jpg.enc')) && !onDisk.some((f) => f.endsWith('.jpg')), 'snapshots sealed on disk, no plain JPEG');
  t.same([...new Set(events.map((e) => e.id))].length, events.length, 'no event twice in one clean run');
});
