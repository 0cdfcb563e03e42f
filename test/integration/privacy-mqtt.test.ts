// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * An erased person leaves no retained MQTT topic on a real Mosquitto 2: the camera whose retained
 * last_face named them (and its retained snapshot) is cleared by the identity.erased receipt the
 * erasure publishes on the bus; another camera's last face stays.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { eraseIdentity } from '../../src/app/erasure.ts';
import { parseConfig } from '../../src/config/index.ts';
import { EventBus, EventLog, SnapshotStore } from '../../src/events/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { until } from '../../src/lib/time.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, createMqttSink, runSinks } from '../../src/outputs/index.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';

t.test('identity.erased clears the retained last_face and snapshot that showed the person', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-erase-mqtt-'));
  const broker = await Mosquitto.start();
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  const gallery = openGallery(join(dir, 'gallery.sqlite'));
  const snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100 });
  const config = parseConfig({ events: { outputs: { mqtt: { enabled: true, url: broker.url, nodeId: 'n1' } } } }).events.outputs.mqtt;
  if (!config) throw new Error('no mqtt config');
  const logger = createLogger({ level: 'silent' });
  const sink = createMqttSink({ config, logger, cursors, cameras: () => [], gates: () => [], connectTimeoutMs: 2000 });
  const runner = runSinks([sink], { bus, cursors, logger, pageSize: 50 });
  t.teardown(async () => {
    await runner.stop();
    cursors.close();
    gallery.close();
    log.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const rand = mulberry32(7);
  const ada = gallery.enroll({ name: 'Ada Lovelace', templates: [template(randomUnit(128, rand))] });
  const bob = gallery.enroll({ name: 'Bob', templates: [template(randomUnit(128, rand))] });
  const now = Date.now();
  bus.publish({ type: 'face.recognized', timeMs: now, cameraId: 'door', trackId: 'd1', identityId: ada.id, data: { name: 'Ada Lovelace', score: 0.7, masked: false } });
  bus.publish({ type: 'face.recognized', timeMs: now, cameraId: 'lobby', trackId: 'l1', identityId: bob.id, data: { name: 'Bob', score: 0.7, masked: false } });
  bus.publish({ type: 'face.recognized', timeMs: now - 5000, cameraId: 'side', trackId: 's1', identityId: ada.id, data: { name: 'Ada Lovelace', score: 0.7, masked: false } });
  bus.publish({ type: 'face.recognized', timeMs: now, cameraId: 'side', trackId: 's2', identityId: bob.id, data: { name: 'Bob', score: 0.7, masked: false } });

  const retained = async (): Promise<Map<string, string>> => {
    const c = await mqtt.connectAsync(broker.url, { connectTimeout: 5000 });
    const got = new Map<string, string>();
    c.on('message', (topic, payload, packet) => {
      if (packet.retain) got.set(topic, payload.toString());
    });
    await c.subscribeAsync('facegate/n1/camera/+/last_face', { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    await c.endAsync(true);
    return got;
  };
  await until('last faces retained', async () => (await retained()).size === 3, 10_000);
  t.match((await retained()).get('facegate/n1/camera/door/last_face'), /Ada Lovelace/, 'the door shows Ada before');

  const receipt = await eraseIdentity({ gallery, eventLog: log, snapshots, publish: (e) => bus.publish(e) }, 'Ada Lovelace', { actor: 'test' });
  t.same(receipt.clearCameras, ['door'], "only the door's last face was hers (side's newest is Bob)");
  await until('door cleared', async () => !(await retained()).has('facegate/n1/camera/door/last_face'), 10_000);
  const after = await retained();
  t.same([...after.keys()].sort(), ['facegate/n1/camera/lobby/last_face', 'facegate/n1/camera/side/last_face']);
  t.notOk([...after.values()].some((v) => v.includes('Ada')), 'no retained topic names her');
});
