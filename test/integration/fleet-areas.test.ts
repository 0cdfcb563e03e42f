// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * Anti-passback across boxes, against a real nats-server and a real PostgreSQL: the hub in process
 * and two in-process edges, each with the real edge wiring (startFleetEdge: forwarder, gallery and
 * passage followers on one NATS link, the cursor store beside its event log) and the real gate
 * operator fed recognitions directly (no cameras, no models), its decisions published to the
 * edge's event log like the service does.
 *
 * A person enters at edge A's entry gate and is then denied 'anti-passback' at edge B's entry gate
 * of the same area; after an exit at B, A lets them in again. NATS killed (a partition): both
 * edges keep deciding from local state, B grants an entry A made meanwhile (it cannot know), and
 * the decisions say the area state was stale; after the restart both catch up and are fresh again.
 * The hub stopped (NATS up): its heartbeat ends, the edges say stale; a new hub makes them fresh.
 * One warning per outage, not per decision.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Subject, type Subscription } from 'rxjs';
import { parseConfig } from '../../src/config/index.ts';
import { EventBus, EventLog } from '../../src/events/index.ts';
import { eventFromGate } from '../../src/pipeline/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { areaPassageKey, gateDecisions, parseGates, type GateDecision, type GateInput, type GatePolicy, type GateState } from '../../src/gates/index.ts';
import { startFleetEdge, type FleetEdge } from '../../src/fleet/edge.ts';
import { CursorStore, cursorStorePath, runSinks } from '../../src/outputs/index.ts';
import { startHub } from '../../src/hub/hub.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import type { Config } from '../../src/config/index.ts';
import { sleep, until } from '../helpers/fleet.ts';
import { hubConfig, natsSection, startFleetServers } from '../helpers/fleet-setup.ts';
import { NatsServer } from '../helpers/nats.ts';

const logger = createLogger({ level: 'silent' });
const AREA = 'hq-lobby';
// Short heartbeats so a stopped hub shows within a few seconds (the hub beats once per consumer
// turn, which waits up to 1 s for events).
const PASSAGES = { heartbeatMs: 200, staleAfterMs: 3000 };
const gate = (id: string, camera: string, direction: 'entry' | 'exit') => ({ id, cameras: [camera], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 0, antiPassback: { area: AREA, direction, windowMs: 3_600_000 } });

interface AreaEdge {
  readonly fleet: FleetEdge;
  /** The edge's warning lines (messages). */
  readonly warnings: string[];
  readonly log: EventLog;
  state(): GateState;
  /** One confirmed recognition of `who` at `camera` now; the decision it caused. */
  pass(camera: string, who: string): GateDecision;
  close(): Promise<void>;
}

function areaEdge(s: NatsServer, node: string, gates: GatePolicy[]): AreaEdge {
  const warnings: string[] = [];
  const logger: Logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(String((JSON.parse(line) as { msg?: unknown }).msg)) } });
  const dir = mkdtempSync(join(tmpdir(), `fg-area-${node}-`));
  const eventsDb = join(dir, 'events.sqlite');
  const log = new EventLog(eventsDb);
  const bus = new EventBus(log);
  const gallery = openGallery(join(dir, 'gallery.sqlite'));
  const fleetConfig = parseConfig({ fleet: { nodeId: node, site: 'hq', nats: natsSection(s), forward: { ackTimeoutMs: 2000 }, passages: PASSAGES } }).fleet;
  if (!fleetConfig) throw new Error('no fleet');
  // The service's wiring: one cursor store beside the event log and one sink runner.
  const cursors = new CursorStore(cursorStorePath(eventsDb));
  const runner = runSinks([], { bus, cursors, logger });
  const fleet = startFleetEdge({ fleet: fleetConfig, gallery, runner, cursors, logger });
  const inputs = new Subject<GateInput>();
  let state: GateState | undefined;
  let last: GateDecision | undefined;
  const sub: Subscription = inputs.pipe(gateDecisions(gates, { areaInputs: fleet.passages.inputs$, onState: (x) => (state = x) })).subscribe((e) => {
    if (e.type === 'gate.opened') return;
    last = e;
    bus.publish(eventFromGate(e));
  });
  let track = 0;
  return {
    fleet,
    warnings,
    log,
    state: () => {
      if (!state) throw new Error('no gate state yet');
      return state;
    },
    pass: (camera, who) => {
      last = undefined;
      inputs.next({ type: 'face.recognized', cameraId: camera, trackId: `${camera}:${++track}`, identityId: who, name: who, groups: ['staff'], score: 0.8, masked: false, timeMs: Date.now() });
      if (!last) throw new Error(`no decision at ${camera}`);
      return last;
    },
    close: async () => {
      sub.unsubscribe();
      await fleet.close();
      await runner.stop();
      cursors.close();
      bus.close();
      log.close();
      gallery.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const verdict = (d: GateDecision): string => `${d.type === 'gate.denied' ? `denied:${d.reason}` : 'granted'}@${d.area?.state ?? '-'}`;

t.test('anti-passback area across two edges through the hub; partition; catch-up', async (t) => {
  const [s, p] = await startFleetServers(t);
  const hubCfg = (): Config => {
    const c = hubConfig(s, p);
    if (!c.fleet) throw new Error('no fleet');
    return { ...c, fleet: { ...c.fleet, passages: { ...c.fleet.passages, ...PASSAGES } } };
  };
  const hub = await startHub(hubCfg(), { logger, port: 0 });
  t.teardown(() => hub.close());
  const a = areaEdge(s, 'door-a', parseGates([gate('a-in', 'cam-a', 'entry')]));
  const b = areaEdge(s, 'door-b', parseGates([gate('b-in', 'cam-b-in', 'entry'), gate('b-out', 'cam-b-out', 'exit')]));
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await Promise.all([a.fleet.passages.fresh(20_000), b.fleet.passages.fresh(20_000)]);

  const known = (e: AreaEdge, who: string) => e.state().passages.get(areaPassageKey(AREA, who));
  // Entry at A; B learns of it through the hub, then denies a second entry.
  const entered = a.pass('cam-a', 'alice');
  t.equal(verdict(entered), 'granted@fresh', 'entry at A, area state fresh');
  const t0 = performance.now();
  await until('B knows the entry at A', () => known(b, 'alice')?.timeMs === entered.timeMs, 10_000, 5);
  const toB = performance.now() - t0;
  t.match(known(b, 'alice'), { nodeId: 'door-a', gateId: 'a-in', direction: 'entry' });
  const denied = b.pass('cam-b-in', 'alice');
  t.equal(verdict(denied), 'denied:anti-passback@fresh', 'entry at B of the same area: anti-passback');

  // Exit at B; A lets her in again once it knows.
  t.equal(verdict(b.pass('cam-b-out', 'alice')), 'granted@fresh', 'exit at B');
  const t1 = performance.now();
  await until('A knows the exit at B', () => known(a, 'alice')?.direction === 'exit', 10_000, 5);
  const toA = performance.now() - t1;
  t.equal(verdict(a.pass('cam-a', 'alice')), 'granted@fresh', 'entry at A again after the exit at B');
  await until('B knows the new entry', () => known(b, 'alice')?.direction === 'entry', 10_000, 5);
  t.comment(`propagation (grant at one edge -> in the other edge's gate state): A->B ${toB.toFixed(0)} ms, B->A ${toA.toFixed(0)} ms`);

  // The events at the hub carry the area; the bucket holds one passage per area and person.
  await until('the grants at the hub', async () => (await hub.store.eventCount().catch(() => 0)) >= 4, 10_000);

  // Partition: NATS down. Both edges say stale; decisions go on from local state.
  await s.kill();
  await until('A and B stale', () => a.fleet.passages.status().mode === 'stale' && b.fleet.passages.status().mode === 'stale', 10_000);
  t.match(b.fleet.passages.status().reason, /NATS/);
  t.equal(verdict(b.pass('cam-b-in', 'alice')), 'denied:anti-passback@stale', 'what B knew before the partition still holds');
  t.equal(verdict(a.pass('cam-a', 'bob')), 'granted@stale', 'bob enters at A during the partition');
  await sleep(5); // B's passage is the newer one (equal capture times keep what each box has)
  const bobAtB = b.pass('cam-b-in', 'bob');
  t.equal(verdict(bobAtB), 'granted@stale', 'B cannot know: grants from local state and says the area state was stale');
  const staleEvent = b.log.query({ types: ['gate.granted'], order: 'desc', limit: 1 })[0];
  t.match(staleEvent.data, { area: { id: AREA, direction: 'entry', state: 'stale' } }, 'the stale state is in the logged event');

  // Back: both catch up (the outbox delivers the partition's grants, the hub writes them).
  await s.restart();
  await Promise.all([a.fleet.passages.fresh(20_000), b.fleet.passages.fresh(20_000)]);
  await until('A learns of bob at B (newer than its own entry)', () => known(a, 'bob')?.nodeId === 'door-b' && known(a, 'bob')?.timeMs === bobAtB.timeMs, 15_000);
  t.equal(known(b, 'bob')?.timeMs, bobAtB.timeMs, "B keeps its own newer passage (A's older one changed nothing)");
  t.equal(verdict(a.pass('cam-a', 'bob')), 'denied:anti-passback@fresh', 'fresh again and consistent');
  t.ok(hub.status().nats.connected);

  // The hub stopped, NATS up: no heartbeat, so the edges say stale (and still decide).
  await hub.close();
  await until('A and B stale without a hub', () => a.fleet.passages.status().mode === 'stale' && b.fleet.passages.status().mode === 'stale', 10_000);
  t.match(b.fleet.passages.status().reason, /hub is not processing/);
  t.equal(verdict(b.pass('cam-b-out', 'bob')), 'granted@stale', 'exit while the hub is down: decided locally, said stale');
  const hub2 = await startHub(hubCfg(), { logger, port: 0 });
  t.teardown(() => hub2.close());
  await Promise.all([a.fleet.passages.fresh(20_000), b.fleet.passages.fresh(20_000)]);
  await until('A learns of the exit made while the hub was down', () => known(a, 'bob')?.direction === 'exit', 15_000);
  t.equal(verdict(a.pass('cam-a', 'bob')), 'granted@fresh');

  const staleWarnings = (e: AreaEdge) => e.warnings.filter((m) => /area state is stale/.test(m)).length;
  t.equal(staleWarnings(b), 2, 'B warned once per outage (partition, hub down), not per decision');
  t.equal(staleWarnings(a), 2, 'A too');
});
