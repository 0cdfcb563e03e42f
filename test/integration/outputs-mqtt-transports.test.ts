// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The MQTT sink over its other transports, against a real Mosquitto 2: mqtts:// with a private CA
 * (tls.ca), mqtts:// with a client certificate the broker requires (tls.cert + tls.key), a TLS
 * broker whose CA the sink was not given (a clear certificate error in health, nothing blocked),
 * and MQTT over WebSocket (ws://). Certificates come from the real openssl, made per run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import { parseConfig } from '../../src/config/index.ts';
import { EventBus, EventLog, type Event } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, createMqttSink, runSinks, type SinkRunner } from '../../src/outputs/index.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';
import { until } from '../../src/lib/time.ts';


const certs = makeTestCerts();
t.teardown(() => rmSync(certs.dir, { recursive: true, force: true }));

/** A sink on its own temp event log; `mqttConfig` is the events.outputs.mqtt section. */
function startSink(mqttConfig: Record<string, unknown>): { bus: EventBus; runner: SinkRunner; close: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'fg-mqtt-tls-'));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  const logger = createLogger({ level: 'silent' });
  const config = parseConfig({ events: { outputs: { mqtt: { enabled: true, nodeId: 'tls-node', discovery: { enabled: false }, ...mqttConfig } } } }).events.outputs.mqtt;
  if (!config) throw new Error('no mqtt config');
  const sink = createMqttSink({ config, logger, cursors, cameras: () => [], gates: () => [], connectTimeoutMs: 3000 });
  const runner = runSinks([sink], { bus, cursors, logger });
  return {
    bus,
    runner,
    close: async () => {
      await runner.stop();
      cursors.close();
      log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Publish one event and wait until a subscriber on the plain listener has it by id. */
async function delivered(broker: Mosquitto, bus: EventBus): Promise<{ sent: Event; got: Event[] }> {
  const sub = await mqtt.connectAsync(broker.url, { connectTimeout: 5000 });
  const got: Event[] = [];
  sub.on('message', (topic, payload) => {
    if (topic === 'facegate/tls-node/events') got.push(JSON.parse(payload.toString()) as Event);
  });
  await sub.subscribeAsync('facegate/tls-node/events', { qos: 1 });
  const sent = bus.publish({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', details: {} } });
  try {
    await until(`event ${sent.id} on facegate/tls-node/events`, () => got.some((e) => e.id === sent.id));
  } finally {
    await sub.endAsync(true);
  }
  return { sent, got };
}

t.test('mqtts:// with a private CA (tls.ca) delivers events', async (t) => {
  const broker = await Mosquitto.start({ tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey } });
  t.teardown(() => broker.stop());
  const s = startSink({ url: broker.tlsUrl, tls: { ca: certs.ca } });
  t.teardown(() => s.close());
  await until('connected over TLS', () => s.runner.health()[0]?.connected === true);
  const { sent, got } = await delivered(broker, s.bus);
  t.ok(got.some((e) => e.id === sent.id), 'the event crossed the TLS listener');
});

t.test('mqtts:// with a client certificate the broker requires (tls.cert + tls.key)', async (t) => {
  const broker = await Mosquitto.start({ tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireClientCert: true } });
  t.teardown(() => broker.stop());
  // Without a client certificate the broker refuses the handshake: the real refusal, checked first.
  const refused = await mqtt.connectAsync(broker.tlsUrl ?? '', { ca: certs.ca, reconnectPeriod: 0, connectTimeout: 3000 }).then(
    async (c) => {
      await c.endAsync(true);
      return false;
    },
    () => true,
  );
  t.ok(refused, 'a client without a certificate is refused');
  const s = startSink({ url: broker.tlsUrl, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });
  t.teardown(() => s.close());
  await until('connected with a client certificate', () => s.runner.health()[0]?.connected === true);
  const { sent, got } = await delivered(broker, s.bus);
  t.ok(got.some((e) => e.id === sent.id), 'the event crossed with the client certificate');
});

t.test('a TLS broker whose CA the sink does not trust: certificate error in health, nothing blocked', async (t) => {
  const broker = await Mosquitto.start({ tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey } });
  t.teardown(() => broker.stop());
  const s = startSink({ url: broker.tlsUrl });
  t.teardown(() => s.close());
  await until('a TLS error in the sink health', () => /certificate|self.signed|unable to verify/i.test(s.runner.health()[0]?.lastError ?? ''));
  t.equal(s.runner.health()[0]?.connected, false);
  const t0 = Date.now();
  for (let i = 0; i < 50; i++) s.bus.publish({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', details: { i } } });
  t.ok(Date.now() - t0 < 2000, 'publishing is not held up by the sink');
  t.match(s.runner.health()[0]?.lastError ?? '', /certificate|self.signed|unable to verify/i, 'the reason names the certificate');
});

t.test('MQTT over WebSocket (ws://) delivers events', async (t) => {
  const broker = await Mosquitto.start({ websockets: true });
  t.teardown(() => broker.stop());
  const s = startSink({ url: broker.wsUrl });
  t.teardown(() => s.close());
  await until('connected over WebSocket', () => s.runner.health()[0]?.connected === true);
  const { sent, got } = await delivered(broker, s.bus);
  t.ok(got.some((e) => e.id === sent.id), 'the event crossed the WebSocket listener');
});
