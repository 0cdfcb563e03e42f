// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The hub in process against a real nats-server and a real PostgreSQL, fed by two in-process edge
 * outboxes (event log + forwarder): every event of both edges lands in PostgreSQL exactly once
 * (ids checked against the edges' logs), across a PostgreSQL outage and a replay outside
 * JetStream's de-duplication window (the primary key drops it); the API and the WebSocket show
 * the events with their node ids; node status is kept; bad PostgreSQL credentials are a clear error;
 * an event PostgreSQL refuses for its content (a NUL, a lone surrogate) is quarantined, not retried.
 */
import t from 'tap';
import { watchEvents } from '../../src/client/watch.ts';
import { startHub } from '../../src/hub/hub.ts';
import { FLEET_SINK_NAME } from '../../src/fleet/forwarder.ts';
import { createLogger } from '../../src/log.ts';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ensureEventsStream } from '../../src/fleet/stream.ts';
import { natsClient, sleep, until } from '../helpers/fleet.ts';
import { edgeFleet, healthEvent, hubConfig, OPERATOR_TOKEN, testEdge, startFleetServers } from '../helpers/fleet-setup.ts';

const logger = createLogger({ level: 'silent' });

/** A logger whose lines the test can read (pino JSON, warn and above). */
function captureLogger(): { logger: ReturnType<typeof createLogger>; lines(): { level: number; msg?: unknown }[] } {
  const out: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (s: string) => void out.push(s) } });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as { level: number; msg?: unknown }) };
}

t.test('two edges -> hub -> PostgreSQL, exactly once; PG outage; replay outside the window; API + WS', async (t) => {
  const [s, p] = await startFleetServers(t);
  const win = 1500;
  // A 100-event window: GET /v1/events must read PostgreSQL for the other 400. An ack wait of 1 s,
  // far shorter than the PostgreSQL outage below, which the batch in the hub's hand outlasts.
  const hub = await startHub(hubConfig(s, p, { duplicateWindowMs: win, ackWaitMs: 1000 }), { logger, port: 0, windowSize: 100 });
  t.teardown(() => hub.close());
  const a = testEdge(edgeFleet(s, 'door-1', 'hq', { duplicateWindowMs: win }), logger);
  const b = testEdge(edgeFleet(s, 'door-2', 'lab', { duplicateWindowMs: win }), logger);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });

  const seen: { id: number; nodeId?: unknown; nodeEventId?: unknown }[] = [];
  const w = watchEvents({ url: hub.api.url, token: OPERATOR_TOKEN, since: 0, onEvent: (e) => seen.push({ id: e.id, nodeId: e.nodeId, nodeEventId: e.nodeEventId }) });
  t.teardown(() => w.close());

  for (let i = 0; i < 150; i++) {
    a.bus.publish(healthEvent(i));
    b.bus.publish(healthEvent(i));
  }
  await until('300 at the hub', async () => (await hub.store.eventCount().catch(() => 0)) === 300, 30_000);
  t.same(await hub.store.eventIds('door-1'), Array.from({ length: 150 }, (_, i) => i + 1));
  t.same(await hub.store.eventIds('door-2'), Array.from({ length: 150 }, (_, i) => i + 1));

  // PostgreSQL down: the hub holds the batch, edges keep forwarding into JetStream.
  await p.kill('immediate');
  const down = await fetch(`${hub.api.url}/v1/events?limit=10`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  t.equal(down.status, 503, 'GET /v1/events while PostgreSQL is down: 503, the API stays up');
  t.equal(down.headers.get('retry-after'), '5');
  t.notMatch(await down.text(), new RegExp(p.password), 'no password in the answer');
  for (let i = 0; i < 100; i++) {
    a.bus.publish(healthEvent(i));
    b.bus.publish(healthEvent(i));
  }
  await until('the outage is reported', () => /PostgreSQL/.test(hub.status().postgres.lastError ?? ''), 20_000);
  t.match(hub.status().postgres.lastError, /fix:/);
  t.notMatch(hub.status().postgres.lastError, new RegExp(p.password), 'no password in the error');
  await until('edges delivered to JetStream anyway', () => a.cursors.get(FLEET_SINK_NAME) === 250 && b.cursors.get(FLEET_SINK_NAME) === 250, 20_000);
  await p.restart();
  await until('500 at the hub after PostgreSQL came back', async () => (await hub.store.eventCount().catch(() => 0)) === 500, 30_000);
  // A negative check (no redelivery shows up): a fixed wait past one more ack wait.
  await sleep(1500);
  t.same([hub.status().received, hub.status().duplicates], [500, 0], 'the batch held through the outage, past its ack wait, came once: no redelivery, no duplicate');
  const probe = await natsClient(s);
  const consumerInfo = await (await jetstreamManager(probe)).consumers.info('FACEGATE_EVENTS', 'facegate-hub');
  await probe.close();
  t.equal(consumerInfo.config.ack_wait, 1000 * 1e6, 'the durable consumer was made with the configured ack wait');

  // A replay after the de-duplication window: JetStream takes it, the primary key drops it. A fixed
  // wait: the window is time on the server, with nothing to poll.
  await sleep(win + 500);
  const dupsBefore = hub.status().duplicates;
  await a.restartForwarder();
  a.cursors.set(FLEET_SINK_NAME, 200, Date.now());
  await a.restartForwarder();
  await until('the replay reached the hub', () => hub.status().duplicates >= dupsBefore + 50, 20_000);
  t.equal(await hub.store.eventCount(), 500, 'still every event exactly once');
  t.same(await hub.store.eventIds('door-1'), Array.from({ length: 250 }, (_, i) => i + 1));

  // The API: events carry node ids; the WebSocket saw each once, in hub id order.
  const res = await fetch(`${hub.api.url}/v1/events?limit=1000`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const body = (await res.json()) as { events: { id: number; nodeId: string; site: string; nodeEventId: number }[] };
  t.equal(body.events.length, 500);
  t.same(new Set(body.events.map((e) => e.nodeId)), new Set(['door-1', 'door-2']));
  t.ok(body.events.every((e) => (e.nodeId === 'door-1' ? e.site === 'hq' : e.site === 'lab')));
  // Filters by origin: ?node= and ?site= on GET /v1/events.
  const only = async (q: string) => ((await (await fetch(`${hub.api.url}/v1/events?limit=1000&${q}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json()) as { events: { nodeId: string }[] }).events;
  const door2 = await only('node=door-2');
  t.equal(door2.length, 250, '?node=door-2: that edge only');
  t.ok(door2.every((e) => e.nodeId === 'door-2'));
  t.same(new Set((await only('site=hq')).map((e) => e.nodeId)), new Set(['door-1']), '?site=hq: the edges of that site');
  t.equal((await only('node=elsewhere')).length, 0, 'an unknown node: nothing');
  t.equal(hub.feed.size(), 100, 'the in-memory window holds 100: the 500 above came from PostgreSQL');
  const newest = await only('order=desc&node=door-1');
  t.same(newest.slice(0, 3).map((e) => (e as { nodeEventId?: number }).nodeEventId), [250, 249, 248], 'newest first, per node');
  t.equal((await only('type=gate.*')).length, 0, 'a type family that matches nothing');
  t.equal((await only('type=system.*')).length, 500, 'a family that matches all (system.health)');
  t.equal((await (await fetch(`${hub.api.url}/v1/events?type=bad..pattern`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json() as { code?: string }).code, 'EVENT_FILTER_INVALID', 'a bad pattern is the client\'s error');
  await until('the WebSocket saw 500', () => seen.length >= 500);
  // A client joining now with since=0: 400 of the 500 are older than the 100-event window, read
  // from PostgreSQL first; then the window; one of each, in hub id order.
  const late: number[] = [];
  const w2 = watchEvents({ url: hub.api.url, token: OPERATOR_TOKEN, since: 0, onEvent: (e) => late.push(e.id) });
  t.teardown(() => w2.close());
  await until('the late client got 500', () => late.length >= 500, 20_000);
  t.same(late, seen.map((e) => e.id), 'a replay from before the window: every event once, in order');
  const fromMiddle: number[] = [];
  const w3 = watchEvents({ url: hub.api.url, token: OPERATOR_TOKEN, since: seen[249]!.id, onEvent: (e) => fromMiddle.push(e.id) });
  t.teardown(() => w3.close());
  await until('since = the 250th id', () => fromMiddle.length >= 250, 20_000);
  t.same(fromMiddle, seen.slice(250).map((e) => e.id), 'since inside the history: the rest, once each');
  t.equal(seen.length, 500);
  t.equal(new Set(seen.map((e) => `${String(e.nodeId)}:${String(e.nodeEventId)}`)).size, 500);
  t.same(seen.map((e) => e.id), [...seen.map((e) => e.id)].sort((x, y) => x - y), 'hub ids increase');

  // The hub's figures on /metrics.
  // The node list behind the per-node gauge refreshes on its own interval: wait for it to show.
  const metricsText = async (): Promise<string> => (await fetch(`${hub.api.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).text();
  let prom = '';
  await until('the per-node gauge on /metrics', async () => /facegate_fleet_hub_node_last_seen_seconds\{node="door-1",site="hq"\}/.test((prom = await metricsText())), 10_000, 100);
  t.match(prom, /facegate_fleet_hub_events_inserted 500/);
  t.match(prom, /facegate_fleet_hub_duplicates [1-9]/);
  t.match(prom, /facegate_fleet_hub_nats_connected 1/);
  t.match(prom, /facegate_fleet_hub_postgres_ready 1/);
  t.match(prom, /facegate_fleet_hub_node_last_seen_seconds\{node="door-1",site="hq"\}/);

  // Node status.
  const nodes = await hub.store.nodes();
  t.same(nodes.map((n) => [n.nodeId, n.site, n.lastEventId, n.events]), [['door-1', 'hq', 250, 250], ['door-2', 'lab', 250, 250]]);
  t.equal(nodes[0].version, '0.1.0');
});

t.test('wrong PostgreSQL password: a clear error, the hub keeps running and retrying', async (t) => {
  const [s, p] = await startFleetServers(t);
  const c = hubConfig(s, p);
  const bad = { ...c, fleet: { ...c.fleet!, hub: { ...c.fleet!.hub!, postgres: { ...c.fleet!.hub!.postgres, password: 'not-it' } } } };
  const hub = await startHub(bad, { logger, port: 0 });
  t.teardown(() => hub.close());
  await until('an auth error', () => /refused the credentials/.test(hub.status().postgres.lastError ?? ''), 20_000);
  t.match(hub.status().postgres.lastError, /fix: check fleet.hub.postgres user and passwordFile/);
  t.notMatch(hub.status().postgres.lastError ?? '', /not-it/);
  const r = await fetch(`${hub.api.url}/healthz`);
  t.equal(r.status, 200, 'the API still answers');
  t.equal((await fetch(`${hub.api.url}/readyz`)).status, 503, 'not ready without PostgreSQL');
});

t.test('NATS down at the hub start, then poison messages, its consumer deleted, then wrong NATS credentials: the API answers, clear errors, bad content quarantined, the consumer recreated, the hub catches up', async (t) => {
  const [s, p] = await startFleetServers(t);
  await s.kill();
  const hubLog = captureLogger();
  const hub = await startHub(hubConfig(s, p), { logger: hubLog.logger, port: 0 });
  t.teardown(() => hub.close());
  await until('the outage is reported', () => /cannot reach NATS/.test(hub.status().nats.lastError ?? ''), 20_000);
  const live = await fetch(`${hub.api.url}/healthz`);
  t.equal(live.status, 200, 'the hub API answers while NATS is down');
  const ready = await fetch(`${hub.api.url}/readyz`);
  t.not(ready.status, 200, 'but is not ready');
  await s.restart();
  const edge = testEdge(edgeFleet(s, 'late-1', 'hq'), logger);
  t.teardown(() => edge.close());
  for (let i = 0; i < 20; i++) edge.bus.publish(healthEvent(i));
  await until('events at the hub once NATS is up', async () => (await hub.store.eventCount().catch(() => 0)) === 20, 30_000);

  // Poison: an edge publishes events PostgreSQL's jsonb refuses (a NUL, a lone surrogate: valid
  // JSON, valid NATS payloads) on its own subject, in one batch between good ones. The hub
  // quarantines them with the reason and the raw bytes, alarms, and everything else keeps flowing.
  const nc = await natsClient(s);
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const raw = new Map<number, Uint8Array>();
  // ... and one nested 10,000 deep (valid JSON under NATS' 1 MB; JSON.stringify cannot take it).
  for (let id = 1; id <= 6; id++) {
    const reason = id === 2 ? 'nul\u0000here' : id === 4 ? 'lone \ud800 surrogate' : 'fine';
    const body = { v: 1, id, type: 'gate.opened', time: new Date().toISOString(), timeMs: Date.now(), gateId: 'g1', data: { reason, source: 'manual' } };
    const json = JSON.stringify(body);
    raw.set(id, new TextEncoder().encode(id === 6 ? `${json.slice(0, -2)},"deep":${'['.repeat(10_000)}${']'.repeat(10_000)}}}` : json));
    await js.publish('facegate.hq.rogue-1.events.gate.opened', raw.get(id)!, { msgID: `rogue-1:${id}` });
  }
  for (let i = 0; i < 20; i++) edge.bus.publish(healthEvent(100 + i));
  await until('the good events around the poison arrive', async () => (await hub.store.eventIds('rogue-1').catch(() => [])).length === 3 && (await hub.store.eventCount('late-1').catch(() => 0)) === 40, 15_000);
  t.same(await hub.store.eventIds('rogue-1'), [1, 3, 5], 'the rest of the batch is stored');
  // The dead letters are written in their own transaction after the good rows: wait for them too.
  await until('the three dead letters', async () => (await hub.store.deadLetters()).length >= 3, 15_000);
  const dead = await hub.store.deadLetters();
  t.same(dead.map((d) => [d.nodeId, d.eventId, d.subject]), [2, 4, 6].map((id) => ['rogue-1', id, 'facegate.hq.rogue-1.events.gate.opened']), 'all three in the dead-letter table');
  t.match(dead[0].reason, /data\.reason.*NUL/, `the reason names the field: ${dead[0].reason}`);
  t.match(dead[1].reason, /data\.reason.*lone surrogate/);
  t.same([...dead[0].raw], [...raw.get(2)!], 'the raw message is kept byte for byte');
  t.same([...dead[1].raw], [...raw.get(4)!]);
  t.match(dead[2].reason, /cannot be serialised as JSON/);
  t.equal(dead[2].raw.length, raw.get(6)!.length);
  t.equal(hub.status().deadLetters.count, 3, 'hub status counts them');
  t.equal(hub.status().postgres.ready, true, 'PostgreSQL is not reported unavailable');
  t.equal(hub.status().postgres.lastError, undefined);
  const prom = await (await fetch(`${hub.api.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).text();
  t.match(prom, /facegate_fleet_hub_dead_letters 3/, 'and /metrics');
  t.match(prom, /facegate_fleet_hub_postgres_ready 1/);
  const alarms = hubLog.lines().filter((l) => l.level >= 50 && /quarantined/.test(String(l.msg)));
  t.equal(alarms.length, 3, 'one error line per quarantined message');
  t.notOk(hubLog.lines().some((l) => /PostgreSQL not available/.test(String(l.msg))), 'never "PostgreSQL not available"');
  // A redelivery (or a second publish after the de-duplication window) is not a second dead letter.
  t.equal(await hub.store.quarantine([{ subject: dead[0].subject, streamSeq: dead[0].streamSeq, nodeId: 'rogue-1', site: 'hq', eventId: 2, msgId: 'rogue-1:2', headers: {}, reason: dead[0].reason, raw: dead[0].raw }]), 0);

  // The hub's durable consumer deleted behind its back (what an edge with `$JS.API.>` could do):
  // the hub notices, recreates it from where it had acknowledged, says so loudly, and the events
  // published meanwhile arrive.
  await jetstreamManager(nc).then((jsm) => jsm.consumers.delete('FACEGATE_EVENTS', 'facegate-hub'));
  const tDeleted = Date.now();
  for (let i = 0; i < 10; i++) edge.bus.publish(healthEvent(200 + i));
  await until('events after the consumer was deleted', async () => (await hub.store.eventCount('late-1').catch(() => 0)) === 50, 15_000);
  t.pass(`the 10 events published after the deletion arrived ${Date.now() - tDeleted} ms later`);
  t.equal(hub.status().consumer.recreated, 1, 'hub status: recreated once');
  const lost = hubLog.lines().filter((l) => l.level >= 50 && /consumer .*disappeared/.test(String(l.msg)));
  t.equal(lost.length, 1, `one error line: ${String(lost[0]?.msg)}`);
  t.match((await (await fetch(`${hub.api.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).text()), /facegate_fleet_hub_consumer_recreated 1/, 'and /metrics');
  t.equal(await hub.store.eventCount('late-1'), 50, 'each event once (a replay from the ack floor is dropped by the primary key)');

  const c = hubConfig(s, p);
  const bad = { ...c, fleet: { ...c.fleet!, nats: { ...c.fleet!.nats, password: 'wrong-nats-password' } } };
  const hub2 = await startHub(bad, { logger, port: 0 });
  t.teardown(() => hub2.close());
  await until('an auth error', () => /refused the credentials/.test(hub2.status().nats.lastError ?? ''), 20_000);
  t.notMatch(hub2.status().nats.lastError ?? '', /wrong-nats-password/, 'the password is never shown');
});

t.test("the hub's durable consumer takes fleet.hub.ackWaitMs, also when it already exists with another", async (t) => {
  const [s, p] = await startFleetServers(t);
  const nc = await natsClient(s);
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  // The durable as an older hub made it (JetStream's usual 30 s ack wait).
  const config = hubConfig(s, p, { ackWaitMs: 1500 });
  if (!config.fleet) throw new Error('no fleet section');
  await ensureEventsStream(nc, config.fleet);
  await jsm.consumers.add('FACEGATE_EVENTS', { durable_name: 'facegate-hub', ack_policy: AckPolicy.Explicit, ack_wait: 30_000 * 1e6 });
  const ackWaitMs = async (): Promise<number> => ((await jsm.consumers.info('FACEGATE_EVENTS', 'facegate-hub')).config.ack_wait ?? 0) / 1e6;
  t.equal(await ackWaitMs(), 30_000);
  const hub = await startHub(config, { logger, port: 0 });
  t.teardown(() => hub.close());
  await until('the ack wait updated', async () => (await ackWaitMs()) === 1500, 20_000);
  t.pass('the existing durable took the configured 1.5 s');
});
