/**
 * The card-number handoff against a real Mosquitto and a real gallery: a grant of an identity
 * whose metadata holds a credential publishes its Wiegand frame on door.credentialOutput.mqtt;
 * an identity without one, or with one out of range, publishes nothing; lockdown sends nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import { decodeWiegand } from '../../src/doors/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { sleep, until } from '../../src/lib/time.ts';
import { randomUnit } from '../helpers/gallery-data.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const TOPIC = 'panel/front/wiegand';

async function rig(t: Test, broker: Mosquitto, credentialOutput: Record<string, unknown> = { mqtt: TOPIC }) {
  const config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [{ id: 'front', cameras: ['door'], door: { strikeMs: 1500, credentialOutput } }],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, topicPrefix: 'fgtest/cred', clientId: `cred-test-${Math.random().toString(36).slice(2, 8)}` } } },
  });
  const gallery = openGallery(':memory:');
  const template = () => [{ modelId: 'test-model', masked: false, embedding: randomUnit(512, Math.random), sourcePhotoSha256: 'a'.repeat(64), quality: 1 }];
  const carded = gallery.enroll({ name: 'Carded', metadata: { credential: { number: 4095, facilityCode: 101, format: 'wiegand26' } }, templates: template() });
  const plain = gallery.enroll({ name: 'Plain', templates: template() });
  const wrong = gallery.enroll({ name: 'Wrong', metadata: { credential: { number: 70000, facilityCode: 1, format: 'wiegand26' } }, templates: template() });
  const { bus, doors, stop: stopDoors } = await startDoorsPart(t, config, { identities: gallery });
  const panel = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100 });
  const frames: Array<Record<string, unknown>> = [];
  panel.on('message', (topic, payload, packet) => {
    if (topic === TOPIC) frames.push({ ...JSON.parse(payload.toString()), retained: packet.retain });
  });
  await panel.subscribeAsync(TOPIC, { qos: 1 });
  t.teardown(async () => {
    await stopDoors();
    await panel.endAsync(true);
    gallery.close();
  });
  const grant = (identityId: string) => bus.publish({ type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: `door:${Math.random()}`, identityId, timeMs: Date.now(), data: { name: 'x', score: 0.7, masked: false } });
  return { doors, frames, grant, carded, plain, wrong };
}

t.test('card-number handoff over a real broker', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const r = await rig(t, broker);

  r.grant(r.carded.id);
  await until('the credential frame', () => r.frames.length > 0, 5000);
  // The Allegion 26A example: facility 101, card 4095 -> 0 01100101 0000111111111111 1.
  t.match(r.frames[0], { gateId: 'front', format: 'wiegand26', bits: '00110010100001111111111111', hex: 'ca1fff', bitLength: 26, retained: false });
  t.same(decodeWiegand(String(r.frames[0].bits)), { format: 'wiegand26', facilityCode: 101, cardNumber: 4095 }, 'the frame reads back with its parity');

  r.grant(r.plain.id);
  r.grant(r.wrong.id);
  // A marker grant after them: once its frame is here, the two before it would have arrived.
  r.grant(r.carded.id);
  await until('the marker frame', () => r.frames.length >= 2, 5000);
  await sleep(200);
  t.equal(r.frames.length, 2, 'no credential and an out-of-range credential send nothing');

  r.doors.setMode('front', 'lockdown', 'admin-token', 'drill');
  r.grant(r.carded.id);
  r.doors.setMode('front', 'normal', 'admin-token', 'drill over');
  r.grant(r.carded.id);
  await until('the frame after lockdown', () => r.frames.length >= 3, 5000);
  await sleep(200);
  t.equal(r.frames.length, 3, 'the grant in lockdown sent nothing');
});

t.test('card-number handoff to a command: {bits} and {hex} in its argv', async (t) => {
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(join(tmpdir(), 'fg-cred-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'frame.txt');
  // A real program run without a shell by facegate; sh only writes its two arguments to a file.
  const r = await rig(t, broker, { command: { argv: ['/bin/sh', '-c', 'printf "%s %s" "$1" "$2" > "$3"', 'wiegand-send', '{bits}', '0x{hex}', out], timeoutMs: 2000 } });
  r.grant(r.carded.id);
  const read = () => {
    try {
      return readFileSync(out, 'utf8');
    } catch {
      return '';
    }
  };
  await until('the command wrote the frame', () => read().length > 0, 5000);
  t.equal(read(), '00110010100001111111111111 0xca1fff', 'the Allegion 26A frame, as bits and as hex');
  t.same(r.frames, [], 'nothing on MQTT');
});
