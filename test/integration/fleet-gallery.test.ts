// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * Gallery replication, hub -> edges, against a real nats-server and PostgreSQL: an identity
 * written at the hub (PostgreSQL + KV bucket) becomes searchable in an edge's SQLite gallery; a
 * change of groups and a removal follow; an edge that was offline catches up from its last
 * revision (not a full reload); a new edge bootstraps the whole gallery and drops local identities
 * the hub does not have; a bad record is skipped without holding the others back; a purged bucket
 * makes a new edge say it recognises nobody (not "in sync"), and the next hub republishes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Kvm } from '@nats-io/kv';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { startGalleryFollower, type GalleryFollower } from '../../src/fleet/gallery-follower.ts';
import { startHub } from '../../src/hub/hub.ts';
import { HubStore } from '../../src/hub/store.ts';
import type { StoredIdentity } from '../../src/fleet/gallery-kv.ts';
import { createLogger } from '../../src/log.ts';
import { CursorStore } from '../../src/outputs/index.ts';
import { natsClient, until } from '../helpers/fleet.ts';
import { edgeFleet, hubConfig, OPERATOR_TOKEN, startFleetServers } from '../helpers/fleet-setup.ts';
import { DEMO_CAST, demoDataDir } from '../../src/demo/demo.ts';
import { randomUnit } from '../helpers/gallery-data.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { validateJsonSchema } from '../helpers/events-jsonschema.ts';

const EVENT_SCHEMA = JSON.parse(readFileSync(new URL('../../src/events/schema.v1.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const logger = createLogger({ level: 'silent' });
const MODEL = 'w600k_mbf_dq';

const unit = (dim = 512): Float32Array => randomUnit(dim, Math.random);

const rid = (p: string) => `${p}_${randomBytes(8).toString('hex')}`;
function person(name: string, groups: string[] = ['staff']): StoredIdentity {
  const now = Date.now();
  return { id: rid('id'), name, groups, metadata: {}, createdMs: now, updatedMs: now, templates: [{ id: rid('tpl'), modelId: MODEL, masked: false, embedding: unit(), quality: 0.9, sourcePhotoSha256: null }] };
}

const best = (g: Gallery, v: Float32Array) => g.search(v, { modelId: MODEL, k: 1 })[0];

interface Edge {
  gallery: Gallery;
  state: CursorStore;
  follower: GalleryFollower;
  dir: string;
}

t.test('hub -> edges: put, update, remove, offline catch-up, bootstrap, bad record', async (t) => {
  const [s, p] = await startFleetServers(t);
  const hub = await startHub(hubConfig(s, p), { logger, port: 0 });
  t.teardown(() => hub.close());
  const edges: Edge[] = [];
  const startEdge = (node: string, dir = mkdtempSync(join(tmpdir(), `fg-gal-${node}-`)), gallery = openGallery(join(dir, 'gallery.sqlite'))): Edge => {
    const state = new CursorStore(join(dir, 'outputs.sqlite'));
    const follower = startGalleryFollower({ fleet: edgeFleet(s, node, 'hq'), gallery, state, logger });
    const e = { gallery, state, follower, dir };
    edges.push(e);
    return e;
  };
  const stopEdge = async (e: Edge): Promise<void> => {
    await e.follower.close();
    e.state.close();
  };
  t.teardown(async () => {
    for (const e of edges) {
      await e.follower.close();
      e.state.close();
      e.gallery.close();
      rmSync(e.dir, { recursive: true, force: true });
    }
  });

  const a = startEdge('door-1');
  await a.follower.synced(20_000);
  t.equal(a.gallery.identityIds().length, 0);

  // Put at the hub -> searchable at the edge.
  const alice = person('Alice');
  const t0 = Date.now();
  await hub.putIdentity(alice);
  await until('alice at the edge', () => best(a.gallery, alice.templates[0].embedding)?.identityId === alice.id, 10_000, 5);
  const ms = Date.now() - t0;
  t.ok(ms < 5000, `propagated in ${ms} ms`);
  const m = best(a.gallery, alice.templates[0].embedding);
  t.equal(m?.name, 'Alice');
  t.ok((m?.score ?? 0) > 0.99);
  t.equal(m?.templateId, alice.templates[0].id, 'same template id as at the hub');
  t.same((await hub.store.getIdentity(alice.id))?.name, 'Alice', 'PostgreSQL holds it');

  // Update (groups) and a second person.
  await hub.putIdentity({ ...alice, groups: ['staff', 'lab'], updatedMs: Date.now() });
  await until('groups at the edge', () => (a.gallery.getIdentity(alice.id)?.groups ?? []).includes('lab'), 10_000);

  // Offline edge: changes at the hub while it is away, then catch-up from its revision.
  const revBefore = a.follower.status().revision;
  await stopEdge(a);
  await hub.removeIdentity(alice.id);
  const bob = person('Bob');
  await hub.putIdentity(bob);
  const many = Array.from({ length: 40 }, (_, i) => person(`P${i}`));
  for (const x of many) await hub.putIdentity(x);
  t.equal(best(a.gallery, alice.templates[0].embedding)?.identityId, alice.id, 'offline: the edge keeps deciding with the last gallery it had');
  const a2 = startEdge('door-1', a.dir, a.gallery);
  await a2.follower.synced(20_000);
  await until('caught up', () => a2.gallery.identityIds().length === 41, 10_000);
  t.notOk(a2.gallery.getIdentity(alice.id), 'the removal arrived');
  t.equal(best(a2.gallery, bob.templates[0].embedding)?.identityId, bob.id);
  t.ok(a2.follower.status().revision > revBefore, 'resumed after its last revision');
  t.equal(a2.follower.status().applied, 42, 'only what changed was applied (41 puts + 1 removal), not a full reload');

  // A new edge with a stale local identity: bootstrap = the hub's gallery exactly.
  const dirB = mkdtempSync(join(tmpdir(), 'fg-gal-door-2-'));
  const galB = openGallery(join(dirB, 'gallery.sqlite'));
  galB.enroll({ name: 'Local Only', templates: [{ modelId: MODEL, masked: false, embedding: unit(), sourcePhotoSha256: 'a'.repeat(64), quality: 1 }] });
  const tB = Date.now();
  const b = startEdge('door-2', dirB, galB);
  await b.follower.synced(20_000);
  const syncMs = Date.now() - tB;
  t.equal(b.gallery.identityIds().length, 41, `bootstrapped 41 identities in ${syncMs} ms`);
  t.equal(b.gallery.findByName('Local Only').length, 0, 'the local-only identity went');
  t.ok(many.every((x) => best(b.gallery, x.templates[0].embedding)?.identityId === x.id), 'every one searchable');

  // A bad record in the bucket: skipped, the next good one applies.
  const nc = await natsClient(s);
  const kv = await new Kvm(nc).open('facegate-gallery');
  await kv.put('id_bad', '{"v":1,"id":"id_bad","name":"Bad","groups":[],"metadata":{},"templates":[{"id":"tpl_bad","modelId":"m","masked":false,"embedding":"AAA","quality":null}]}');
  const carol = person('Carol');
  await hub.putIdentity(carol);
  await until('carol after the bad record', () => best(b.gallery, carol.templates[0].embedding)?.identityId === carol.id, 10_000);
  t.ok(b.follower.status().skipped >= 1, 'the bad record was skipped');
  t.notOk(b.gallery.getIdentity('id_bad'));

  // The bucket purged (what an edge could do with `$JS.API.>`) while no hub runs: a new edge
  // bootstraps an empty gallery and says so, loudly, instead of "in sync with the hub"; the next
  // hub finds the bucket short of what PostgreSQL has and republishes it; the edge follows.
  await hub.close();
  await (await jetstreamManager(nc)).streams.purge('KV_facegate-gallery');
  await nc.close();
  const edgeLines: string[] = [];
  const dirC = mkdtempSync(join(tmpdir(), 'fg-gal-door-3-'));
  const galC = openGallery(join(dirC, 'gallery.sqlite'));
  const stateC = new CursorStore(join(dirC, 'outputs.sqlite'));
  const c = startGalleryFollower({ fleet: edgeFleet(s, 'door-3', 'hq'), gallery: galC, state: stateC, logger: createLogger({ level: 'info', destination: { write: (l: string) => void edgeLines.push(l) } }) });
  t.teardown(async () => {
    await c.close();
    stateC.close();
    galC.close();
    rmSync(dirC, { recursive: true, force: true });
  });
  await c.synced(20_000);
  t.equal(galC.identityIds().length, 0, 'the purged bucket gave nobody');
  t.match(c.status().warning, /empty and carries no hub manifest/, `status: ${c.status().warning}`);
  t.ok(edgeLines.some((l) => /"level":50/.test(l) && /recognises nobody/.test(l)), 'an error line says the box recognises nobody');
  t.notOk(edgeLines.some((l) => /in sync with the hub/.test(l)), 'not "in sync with the hub"');
  const hubLines: string[] = [];
  const hub2 = await startHub(hubConfig(s, p), { logger: createLogger({ level: 'warn', destination: { write: (l: string) => void hubLines.push(l) } }), port: 0 });
  t.teardown(() => hub2.close());
  const want = (await hub2.store.identityIds()).length;
  // The identities, the manifest and the edge's re-check arrive in their own time: wait for all three.
  await until('the hub republished the gallery and its manifest', () => galC.identityIds().length === want && c.status().hubIdentities === want && c.status().warning === undefined, 15_000);
  t.equal(want, 42, 'all 42 of PostgreSQL back on the new edge');
  t.equal(c.status().warning, undefined, 'the warning is gone');
  t.equal(c.status().hubIdentities, 42, "the hub's manifest");
  t.equal(hub2.status().galleryRepaired, 42, 'hub status counts the repair');
  t.ok(hubLines.some((l) => /"level":50/.test(l) && /lacked 42 of the 42 identities/.test(l)), 'the hub says the bucket was short, as an error');
  t.ok(edgeLines.some((l) => /has the hub's gallery again/.test(l)), 'the edge says it has the gallery again');
});

t.test('enrollment through the hub API (real models): create, rename + regroup, a photo, remove reach the edge; each is an audit event of the hub', async (t) => {
  const [s, p] = await startFleetServers(t);
  const hub = await startHub(hubConfig(s, p), { logger, port: 0 });
  t.teardown(() => hub.close());
  const dir = mkdtempSync(join(tmpdir(), 'fg-gal-api-'));
  const gallery = openGallery(join(dir, 'gallery.sqlite'));
  const state = new CursorStore(join(dir, 'fleet.sqlite'));
  const follower = startGalleryFollower({ fleet: edgeFleet(s, 'door-9', 'hq'), gallery, state, logger });
  t.teardown(async () => {
    await follower.close();
    state.close();
    gallery.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await follower.synced(20_000);
  const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
  // The hub's WebSocket, identity events only, from the start.
  const live: Record<string, unknown>[] = [];
  const w = watchEvents({ url: hub.api.url, token: OPERATOR_TOKEN, since: 0, filter: { types: ['identity.*'] }, onEvent: (e) => live.push(e) });
  t.teardown(() => w.close());
  const photo = readFileSync(join(demoDataDir(), DEMO_CAST.enrolled[0].photo));
  const created = await fetch(`${hub.api.url}/v1/identities?name=Angelina&group=staff`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: photo });
  t.equal(created.status, 201);
  const body = (await created.json()) as { ok: boolean; identity: { id: string; templateTotal: number } };
  const id = body.identity.id;
  t.ok(body.identity.templateTotal >= 1, `${body.identity.templateTotal} templates made at the hub`);
  await until('at the edge', () => gallery.getIdentity(id)?.name === 'Angelina', 20_000);
  const listed = (await (await fetch(`${hub.api.url}/v1/identities`, { headers: auth })).json()) as unknown;
  t.match(JSON.stringify(listed), /Angelina/, 'listed by the hub API');
  const patched = await fetch(`${hub.api.url}/v1/identities/${id}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Angelina J', groups: ['staff', 'night'] }) });
  t.equal(patched.status, 200);
  await until('renamed and regrouped at the edge', () => (gallery.getIdentity(id)?.groups ?? []).includes('night') && gallery.getIdentity(id)?.name === 'Angelina J', 20_000);
  t.same((await hub.store.getIdentity(id))?.groups, ['staff', 'night'], 'PostgreSQL has it');
  const more = await fetch(`${hub.api.url}/v1/identities/${id}/photos`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: photo });
  t.equal(more.status, 201, 'a photo added');
  const added = ((await more.json()) as { templates: number }).templates;
  t.equal((await hub.store.getIdentity(id))?.templates.length, body.identity.templateTotal + added, 'its templates added in PostgreSQL');
  t.equal((await hub.store.getIdentity(id))?.name, 'Angelina J', 'the name kept');
  const bad = await fetch(`${hub.api.url}/v1/identities?name=Nobody`, { method: 'POST', headers: { ...auth, 'content-type': 'image/jpeg' }, body: Buffer.from('not a photo') });
  t.equal(bad.status, 422, 'a photo without a usable face is rejected');
  const del = await fetch(`${hub.api.url}/v1/identities/${id}`, { method: 'DELETE', headers: auth });
  t.ok(del.status === 200 || del.status === 204, `removed (${del.status})`);
  await until('removed at the edge', () => gallery.getIdentity(id) === undefined, 20_000);
  t.equal(await hub.store.getIdentity(id), undefined);

  // Audit: four events of the hub's own origin (node 'hub', site 'hq'), actor = the token's id.
  await until('four identity events on the hub WebSocket', () => live.length >= 4, 10_000);
  const res = await fetch(`${hub.api.url}/v1/events?type=identity.*&node=hub`, { headers: auth });
  t.equal(res.status, 200);
  const stored = ((await res.json()) as { events: Record<string, unknown>[] }).events;
  for (const [how, events] of [['GET /v1/events', stored], ['WebSocket', live]] as const) {
    t.same(
      events.map((e) => ({ type: e.type, identityId: e.identityId, nodeId: e.nodeId, site: e.site, nodeEventId: e.nodeEventId, data: e.data })),
      [
        { type: 'identity.created', identityId: id, nodeId: 'hub', site: 'hq', nodeEventId: 1, data: { actor: 'ops', name: 'Angelina', groups: ['staff'], templates: body.identity.templateTotal } },
        { type: 'identity.updated', identityId: id, nodeId: 'hub', site: 'hq', nodeEventId: 2, data: { actor: 'ops', name: 'Angelina J', groups: ['staff', 'night'] } },
        { type: 'identity.updated', identityId: id, nodeId: 'hub', site: 'hq', nodeEventId: 3, data: { actor: 'ops', templatesAdded: added } },
        { type: 'identity.removed', identityId: id, nodeId: 'hub', site: 'hq', nodeEventId: 4, data: { actor: 'ops', name: 'Angelina J' } },
      ],
      `${how}: created, updated (renamed + regrouped, a photo), removed with the actor (the rejected photo made none)`,
    );
    t.notMatch(JSON.stringify(events), OPERATOR_TOKEN, `${how}: no token in them`);
  }
  t.same(live.map((e) => e.id), stored.map((e) => e.id), 'same hub ids live and stored');
  t.ok(stored.every((e, i) => i === 0 || Number(e.id) > Number(stored[i - 1].id)), 'hub ids in order');
  // The stored bodies are v1 events (the hub adds nodeId, site, nodeEventId around them).
  const rows = await hub.store.queryEvents({ nodeId: 'hub' });
  t.same(rows.flatMap((r) => validateJsonSchema(EVENT_SCHEMA, r.body)), [], 'the stored bodies validate against schema.v1.json');
  t.equal((await (await fetch(`${hub.api.url}/v1/events?type=identity.*&node=door-9`, { headers: auth })).json() as { events: unknown[] }).events.length, 0, 'filterable by node');

  // An edge claiming the hub's node id cannot write into its audit trail; a real edge's event after it arrives.
  const nc = await natsClient(s);
  const js = jetstream(nc);
  const forged = { v: 1, id: 5, type: 'identity.removed', time: new Date().toISOString(), timeMs: Date.now(), identityId: 'id_forged', data: { actor: 'ops' } };
  await js.publish('facegate.hq.hub.events.identity.removed', JSON.stringify(forged), { msgID: 'hub:5' });
  const real = { v: 1, id: 1, type: 'system.health', time: new Date().toISOString(), timeMs: Date.now(), data: { status: 'ok' } };
  await js.publish('facegate.hq.door-9.events.system.health', JSON.stringify(real), { msgID: 'door-9:1' });
  await nc.close();
  await until('door-9 event at the hub', async () => (await hub.store.eventCount('door-9')) === 1, 10_000);
  t.same((await hub.store.eventIds('hub')), [1, 2, 3, 4], "the forged 'hub' event was dropped");

  // Never a change without its record: an audit event that fails the schema fails the change too.
  const ghost = person('Ghost');
  await t.rejects(hub.store.putIdentity(ghost, { nodeId: 'hub', site: 'hq', event: { type: 'identity.created', timeMs: Date.now(), identityId: ghost.id, data: { actor: '', name: 'Ghost', groups: [], templates: 1 } } }), { code: 'EVENT_INVALID' });
  t.equal(await hub.store.getIdentity(ghost.id), undefined, 'nothing written without its audit event');

  // Another process writing to the hub's PostgreSQL (the CLI's `enroll --hub`): its audit event
  // reaches the running hub's WebSocket too (gallery NOTIFY -> the feed reads what it lacks).
  const other = new HubStore({ host: '127.0.0.1', port: p.port, database: p.database, user: p.user, password: p.password, poolSize: 2 }, logger);
  t.teardown(() => other.close());
  const carol = person('Carol');
  await other.putIdentity(carol, { nodeId: 'hub', site: 'hq', event: { type: 'identity.created', timeMs: Date.now(), identityId: carol.id, data: { actor: 'facegate-cli:test', name: 'Carol', groups: ['staff'], templates: 1 } } });
  await until("the other process's audit event on the hub WebSocket", () => live.some((e) => e.identityId === carol.id), 10_000);
  t.match(live.at(-1), { type: 'identity.created', nodeId: 'hub', nodeEventId: 5, data: { actor: 'facegate-cli:test' } }, 'live, with the next id of the hub origin');
});
