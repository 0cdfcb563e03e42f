/**
 * Erasure across a fleet, against a real nats-server and PostgreSQL: a hub and two edges (in
 * process: gallery replica, event log, snapshot folder, sink runner, and the service's edge wiring,
 * startFleetEdge with the erasure handler of src/app/fleet.ts). One edge is
 * stopped during the erasure. After it: no PostgreSQL row names the person (every table searched
 * for the name; the identity id is left only in the erasure journal), the hub's snapshot folder and
 * object store no longer hold their snapshots, the online edge has erased them (gallery, events
 * tombstoned with the hub's erasure id, snapshots, journal), and the offline edge does so when it
 * comes back; a rerun at the hub answers the same receipt and logs no second one; an erasure
 * stopped half-way is completed by the next request; the CLI's erasure works beside the hub.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fleetErasureHandler } from '../../src/app/fleet.ts';
import type { FleetConfig } from '../../src/config/fleet.ts';
import { EventBus, EventLog, SnapshotStore } from '../../src/events/index.ts';
import { snapshotBytes, startFleetEdge } from '../../src/fleet/edge.ts';
import type { GalleryFollower } from '../../src/fleet/gallery-follower.ts';
import type { StoredIdentity } from '../../src/fleet/gallery-kv.ts';
import { openSnapshotStore, snapshotObjectName } from '../../src/fleet/snapshots.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { eraseAtHub, eraseFromCli } from '../../src/hub/erasure.ts';
import { HubFeed } from '../../src/hub/feed.ts';
import { openSnapshotFolder } from '../../src/hub/hub-api.ts';
import { startHub } from '../../src/hub/hub.ts';
import { HubStore } from '../../src/hub/store.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore, runSinks, type SinkRunner } from '../../src/outputs/index.ts';
import { natsClient, until } from '../helpers/fleet.ts';
import { edgeFleet, hubConfig, OPERATOR_TOKEN, startFleetServers } from '../helpers/fleet-setup.ts';
import { randomUnit } from '../helpers/gallery-data.ts';

const logger = createLogger({ level: 'silent' });
const MODEL = 'w600k_mbf_dq';
const NAME = 'Ada Lovelace';

const rid = (p: string): string => `${p}_${randomBytes(8).toString('hex')}`;
function person(name: string): StoredIdentity {
  const now = Date.now();
  return { id: rid('id'), name, groups: ['staff'], metadata: {}, createdMs: now, updatedMs: now, templates: [{ id: rid('tpl'), modelId: MODEL, masked: false, embedding: randomUnit(512, Math.random), quality: 0.9, sourcePhotoSha256: null }] };
}

/** A frame of noise: the snapshot store writes a real face crop and frame JPEG from it. */
function noiseFrame(): { data: Uint8Array; width: number; height: number } {
  return { data: new Uint8Array(randomBytes(96 * 96 * 3)), width: 96, height: 96 };
}

/** One edge box's data, kept across a stop and a start (the offline edge). */
interface EdgeData {
  readonly node: string;
  readonly dir: string;
  readonly fleet: FleetConfig;
  readonly gallery: Gallery;
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly snapshots: SnapshotStore;
  readonly cursors: CursorStore;
}

interface Running {
  runner: SinkRunner;
  follower: GalleryFollower;
  close(): Promise<void>;
}

function edgeData(s: Parameters<typeof edgeFleet>[0], node: string): EdgeData {
  const dir = mkdtempSync(join(tmpdir(), `fg-erase-${node}-`));
  const log = new EventLog(join(dir, 'events.sqlite'));
  return { node, dir, fleet: edgeFleet(s, node, 'hq'), gallery: openGallery(join(dir, 'gallery.sqlite')), log, bus: new EventBus(log), snapshots: new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 10_000 }), cursors: new CursorStore(join(dir, 'outputs.sqlite')) };
}

/** The edge's fleet parts as the service wires them (src/fleet/edge.ts, src/app/fleet.ts's erasure handler). */
function startEdge(e: EdgeData): Running {
  const runner = runSinks([], { bus: e.bus, cursors: e.cursors, logger, pageSize: 100, backoff: { baseMs: 50, maxMs: 500, factor: 2, jitter: 0 } });
  const edge = startFleetEdge({
    fleet: e.fleet,
    gallery: e.gallery,
    runner,
    cursors: e.cursors,
    logger,
    readSnapshot: (id, kind) => snapshotBytes(e.snapshots, id, kind),
    onErasure: fleetErasureHandler({ gallery: e.gallery, eventLog: e.log, bus: e.bus, snapshots: e.snapshots, log: logger }),
  });
  return {
    runner,
    follower: edge.follower,
    close: async () => {
      await edge.close();
      await runner.stop();
    },
  };
}

/** Events about a person on an edge: two recognitions with snapshots, one decision. */
async function sightings(e: EdgeData, p: StoredIdentity): Promise<string[]> {
  const snaps: string[] = [];
  for (let i = 0; i < 2; i++) {
    const snapshotId = await e.snapshots.save(noiseFrame(), [20, 20, 70, 70]);
    snaps.push(snapshotId);
    e.bus.publish({ type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', trackId: `t${i}`, identityId: p.id, data: { name: p.name, score: 0.8, masked: false, snapshotId } });
  }
  e.bus.publish({ type: 'gate.granted', timeMs: Date.now(), cameraId: 'door', gateId: 'front', trackId: 't0', identityId: p.id, data: { name: p.name, score: 0.8, masked: false } });
  return snaps;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

t.test('an erasure at the hub reaches PostgreSQL, the object store and every edge, one of them offline', async (t) => {
  const [s, p] = await startFleetServers(t);
  const hub = await startHub(hubConfig(s, p), { logger, port: 0 });
  t.teardown(() => hub.close());
  const a = edgeData(s, 'door-a');
  const b = edgeData(s, 'door-b');
  let runA: Running | undefined = startEdge(a);
  let runB: Running | undefined = startEdge(b);
  t.teardown(async () => {
    await runA?.close();
    await runB?.close();
    for (const e of [a, b]) {
      e.cursors.close();
      e.log.close();
      e.gallery.close();
      rmSync(e.dir, { recursive: true, force: true });
    }
  });

  await until('the hub ready', () => hub.status().postgres.ready && hub.status().nats.connected, 20_000);
  const ada = person(NAME);
  const bob = person('Bob Other');
  await hub.putIdentity(ada);
  await hub.putIdentity(bob);
  for (const e of [a, b]) await until(`${e.node} has Ada and Bob`, () => e.gallery.getIdentity(ada.id) !== undefined && e.gallery.getIdentity(bob.id) !== undefined, 20_000);

  const snapsA = await sightings(a, ada);
  const snapsB = await sightings(b, ada);
  const bobSnaps = await sightings(a, bob);
  const adaSnaps = [...snapsA.map((id) => ({ node: a.node, id })), ...snapsB.map((id) => ({ node: b.node, id }))];
  await until('every event at the hub', async () => (await hub.store.eventCount()) >= 9, 20_000);
  await until('every snapshot mirrored at the hub', () => hub.status().snapshotsMirrored >= 12, 20_000);
  const hubSnapDir = hubConfig(s, p).events.snapshots.dir;
  t.ok(existsSync(join(hubSnapDir, `${snapsB[0]}.face.jpg`)), 'the hub holds the offline-to-be edge\'s snapshot before');

  // The searches below find the person before the erasure (so their silence after it means something).
  const namedBefore = await hub.store.pool.query<{ n: string }>('SELECT count(*) AS n FROM events x WHERE x::text LIKE $1', [`%${NAME}%`]);
  t.ok(Number(namedBefore.rows[0]?.n) >= 6, 'before: the hub\'s event rows name the person');
  t.match(JSON.stringify(hub.feed.queryWindow({ limit: 10_000 })), NAME, 'before: the API window names the person');
  t.ok(filesUnder(a.dir).some((f) => readFileSync(f).includes(Buffer.from(NAME))), 'before: edge A\'s data folder holds the name');

  // Edge B goes offline (its data stays); the erasure happens at the hub meanwhile.
  await runB.close();
  runB = undefined;

  const erase = () => fetch(`${hub.api.url}/v1/identities/${ada.id}/erase`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  const res = await erase();
  t.equal(res.status, 200, 'the hub erases (admin)');
  const text = await res.text();
  t.notMatch(text, NAME, 'the receipt does not name the person');
  const receipt = JSON.parse(text) as { erasureId: string; tombstone: string; templates: number; events: number; snapshots: number };
  t.match(receipt, { templates: 1, events: 6, snapshots: 4 }, 'counts: one template, six events (three per edge), four snapshots');
  t.equal(receipt.tombstone, `erased:${receipt.erasureId}`);

  // The hub's PostgreSQL: no row anywhere holds the name; the id only in the erasure journal.
  const pg = hub.store.pool;
  const tables = (await pg.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")).rows.map((r) => r.t);
  t.ok(tables.includes('events') && tables.includes('erasures'));
  for (const table of tables) {
    const named = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} x WHERE x::text LIKE $1`, [`%${NAME}%`]);
    t.equal(Number(named.rows[0]?.n), 0, `no ${table} row names the person`);
    const byId = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} x WHERE x::text LIKE $1`, [`%${ada.id}%`]);
    if (table !== 'erasures') t.equal(Number(byId.rows[0]?.n), 0, `no ${table} row holds the identity id`);
  }
  const tomb = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE identity_id = $1', [receipt.tombstone]);
  t.equal(Number(tomb.rows[0]?.n), 7, 'six tombstoned rows (decisions kept) and the receipt');
  t.ok((await hub.store.getIdentity(bob.id)) !== undefined, 'another person is untouched');
  // The hub's snapshots: the folder and the object store.
  for (const sn of adaSnaps) for (const kind of ['face', 'frame'] as const) t.notOk(existsSync(join(hubSnapDir, `${sn.id}.${kind}.jpg`)), `hub folder: ${sn.node} ${sn.id} ${kind} gone`);
  const nc = await natsClient(s);
  t.teardown(() => nc.close());
  const os = await openSnapshotStore(nc, a.fleet);
  for (const sn of adaSnaps) {
    const info = await os.info(snapshotObjectName(sn.node, sn.id, 'face'));
    t.ok(info === null || info.deleted, `object store: ${sn.node} ${sn.id} deleted`);
  }
  // GET /v1/events (PostgreSQL) and the API's in-memory window (WebSocket replay) no longer name them.
  const listed = await fetch(`${hub.api.url}/v1/events?limit=100`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  t.notMatch(await listed.text(), NAME, 'GET /v1/events at the hub does not name the person');
  t.notMatch(JSON.stringify(hub.feed.queryWindow({ limit: 10_000 })), NAME, 'the API window does not name the person');

  // The online edge: erased at once, under the hub's erasure id.
  const erasedOn = (e: EdgeData): boolean => e.gallery.listErasures().some((x) => x.id === receipt.erasureId && x.finishedAt !== null);
  await until('edge A erased', () => erasedOn(a), 10_000);
  const checkEdge = (e: EdgeData, snaps: readonly string[], events: number): void => {
    t.notOk(e.gallery.getIdentity(ada.id), `${e.node}: the identity is gone`);
    t.ok(e.gallery.getIdentity(bob.id), `${e.node}: Bob stays`);
    t.equal(e.log.about(ada.id).length, 0, `${e.node}: no event carries the identity id`);
    t.equal(e.log.query({ identityId: receipt.tombstone, limit: 100 }).filter((x) => x.type !== 'identity.erased').length, events, `${e.node}: its ${events} events carry the hub's tombstone`);
    t.equal(e.log.query({ types: ['identity.erased'], limit: 10 }).length, 1, `${e.node}: one receipt`);
    for (const id of snaps) t.notOk(existsSync(e.snapshots.path(id, 'face')), `${e.node}: snapshot ${id} gone`);
    for (const f of filesUnder(e.dir)) t.notOk(readFileSync(f).includes(Buffer.from(NAME)), `${e.node}: ${f.slice(e.dir.length)} does not hold the name`);
  };
  checkEdge(a, snapsA, 3);

  // The offline edge still has the person until it comes back; then it erases them.
  t.ok(b.gallery.getIdentity(ada.id), 'edge B (offline) still has the person');
  // Offline, it still recognises them (and forwards that when it is back, racing its own replay of
  // the erasure): the hub stores such a late event tombstoned.
  b.bus.publish({ type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', trackId: 't9', identityId: ada.id, data: { name: NAME, score: 0.8, masked: false } });
  runB = startEdge(b);
  await until('edge B erased after coming back', () => erasedOn(b), 20_000);
  checkEdge(b, snapsB, 4);
  // Its receipt and tombstoned rows reach the hub; still nothing names the person there.
  await until('edge B\'s receipt at the hub', async () => Number((await pg.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE type = 'identity.erased'")).rows[0]?.n) === 3, 20_000);
  const after = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events x WHERE x::text LIKE $1', [`%${NAME}%`]);
  t.equal(Number(after.rows[0]?.n), 0, 'the hub still holds no row naming the person');

  // Whichever wins that race, a late row about the person is stored tombstoned at the hub.
  const [late] = await hub.store.insertEvents([{ nodeId: 'door-c', site: 'hq', eventId: 1, type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', identityId: ada.id, body: { v: 1, id: 1, type: 'face.recognized', time: new Date().toISOString(), timeMs: Date.now(), cameraId: 'door', trackId: 't1', identityId: ada.id, data: { name: NAME, score: 0.8, masked: false } } }]);
  t.equal(late?.row.identityId, receipt.tombstone, 'a row arriving after the erasure is stored with the tombstone');
  const lateRow = await pg.query<{ body: { data: { name: string } } }>('SELECT body FROM events WHERE node_id = $1', ['door-c']);
  t.equal(lateRow.rows[0]?.body.data.name, '[erased]', 'and without the name');

  // A rerun: the same receipt, no second identity.erased at the hub.
  const again = await erase();
  t.equal(again.status, 200);
  t.same(await again.json(), receipt, 'a rerun answers the same receipt');
  const hubReceipts = await pg.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE type = 'identity.erased' AND node_id = 'hub'");
  t.equal(Number(hubReceipts.rows[0]?.n), 1, 'the hub logged its receipt once');
  const unknown = await fetch(`${hub.api.url}/v1/identities/id_0000000000000000/erase`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  t.equal(unknown.status, 404, 'an unknown identity is 404');

  // The CLI's erasure (`facegate hub-identities erase`) beside the running hub, by name: its
  // publisher sends the record to the edges, and its API window is rewritten from the NOTIFY.
  const cfg = hubConfig(s, p);
  const cliStore = new HubStore(cfg.fleet?.hub?.postgres as NonNullable<NonNullable<typeof cfg.fleet>['hub']>['postgres'], logger, { auditOrigin: { nodeId: 'hub', site: 'hq' } });
  t.teardown(() => cliStore.close());
  t.match(JSON.stringify(hub.feed.queryWindow({ limit: 10_000 })), 'Bob Other', 'before: the window names Bob');
  const cliReceipt = await eraseFromCli({ store: cliStore, snapshots: openSnapshotFolder(cfg), fleet: cfg.fleet as FleetConfig, log: logger }, 'Bob Other', 'facegate-cli:test');
  t.match(cliReceipt, { identityId: bob.id, templates: 1, events: 3, snapshots: 2 }, 'the CLI erases by name');
  for (const e of [a, b]) await until(`${e.node} replays the CLI's erasure`, () => e.gallery.listErasures().some((x) => x.id === cliReceipt?.erasureId && x.finishedAt !== null), 20_000);
  t.notOk(a.gallery.getIdentity(bob.id), 'edge A: Bob is gone');
  for (const id of bobSnaps) t.notOk(existsSync(a.snapshots.path(id, 'face')), `edge A: Bob's snapshot ${id} gone`);
  await until('the running hub\'s window rewritten', () => !JSON.stringify(hub.feed.queryWindow({ limit: 10_000 })).includes('Bob Other'), 10_000);
  const bobRows = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events x WHERE x::text LIKE $1', ['%Bob Other%']);
  t.equal(Number(bobRows.rows[0]?.n), 0, 'no row names Bob either');
  // A crash half-way (after the identity's rows and the snapshots went, before the events): the
  // journal row stays pending; the next request completes the same erasure, once.
  const cy = person('Cy Crash');
  await hub.putIdentity(cy);
  await until('edge A has Cy', () => a.gallery.getIdentity(cy.id) !== undefined, 20_000);
  await sightings(a, cy);
  await until('Cy\'s events at the hub', async () => (await hub.store.personEvents(cy.id, null)).length === 3, 20_000);
  const crash = new Error('killed');
  const deps = { store: cliStore, snapshots: openSnapshotFolder(cfg), feed: new HubFeed(1), publish: async () => undefined, deleteObjects: async () => 0, origin: { nodeId: 'hub', site: 'hq' }, log: logger };
  const crashAt = (st: string): void => {
    if (st === 'snapshots') throw crash;
  };
  await t.rejects(eraseAtHub({ ...deps, onStep: crashAt }, cy.id, { actor: 'ops' }), crash);
  const [pendingCy] = (await cliStore.pendingErasures()).filter((x) => x.identityId === cy.id);
  t.ok(pendingCy && pendingCy.name === 'Cy Crash' && pendingCy.plan !== null, 'the crash left a pending journal row with its plan');
  const resumed = await (await fetch(`${hub.api.url}/v1/identities/${cy.id}/erase`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json() as { erasureId: string; events: number };
  t.match(resumed, { erasureId: pendingCy?.id, events: 3 }, 'the rerun completes the same erasure');
  const cyRows = await pg.query<{ n: string }>('SELECT count(*) AS n FROM events x WHERE x::text LIKE $1', ['%Cy Crash%']);
  t.equal(Number(cyRows.rows[0]?.n), 0, 'no row names Cy after the rerun');
  t.equal(Number((await pg.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE type = 'identity.erased' AND identity_id = $1", [`erased:${resumed.erasureId}`])).rows[0]?.n), 1, 'one receipt');
  await until('edge A replays Cy\'s erasure', () => a.gallery.listErasures().some((x) => x.id === resumed.erasureId && x.finishedAt !== null), 20_000);

  t.equal(await eraseFromCli({ store: cliStore, snapshots: openSnapshotFolder(cfg), fleet: cfg.fleet as FleetConfig, log: logger }, 'Bob Other', 'facegate-cli:test'), undefined, 'the name is not kept: a second erasure by name finds no one');
});
