/**
 * Fleet mode end to end, real processes and real models: `facegate hub` + two `facegate run` edges
 * (door clip of real people, gates local), a real nats-server and PostgreSQL.
 *
 * 1. People enrolled at the hub reach both (empty) edge galleries; both edges recognise Angelina on
 *    the clip and grant at their own gates; the hub's WebSocket shows it with the node ids.
 * 2. Partition: nats-server killed while both edges run the clip; the edges keep deciding; after
 *    the restart the hub holds every event of both edges exactly once (ids against their logs).
 * 3. Angelina removed at the hub: both edges drop her and stop granting her.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/api/auth.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { createDetector } from '../../src/detect/index.ts';
import { DEMO_CAST, demoDataDir, prepareDoorClip } from '../../src/demo/demo.ts';
import { enrollAtHub, removeAtHub } from '../../src/hub/enroll.ts';
import { HubStore } from '../../src/hub/store.ts';
import { createLogger } from '../../src/log.ts';
import { createEmbedder } from '../../src/recognize/index.ts';
import { sleep, until } from '../helpers/fleet.ts';
import { natsSection } from '../helpers/fleet-setup.ts';
import { ROOT, spawnFacegate, type Proc } from '../helpers/fleet-procs.ts';
import { NatsServer } from '../helpers/nats.ts';
import { freePort } from '../../src/dev/local-servers.ts';
import { Postgres } from '../helpers/postgres.ts';

const logger = createLogger({ level: 'silent' });
const TOKEN = 'fleet-e2e-admin';
const NODES = ['door-1', 'door-2'] as const;

function readLog(db: string, sql: string, ...params: unknown[]): Record<string, unknown>[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    d.close();
  }
}

t.test('hub + 2 edges on the door clip: enroll, grant, partition, exactly once, remove', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fleet-e2e-'));
  const [s, pg] = await Promise.all([NatsServer.start(), Postgres.start()]);
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await s.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const data = demoDataDir();
  const clip = await prepareDoorClip(join(ROOT, '.facegate/demo'), data);
  const pgSection = { host: '127.0.0.1', port: pg.port, database: pg.database, user: pg.user, password: pg.password };
  const auth = { tokens: [{ id: 'admin', role: 'admin', sha256: sha256Hex(TOKEN) }] };

  // The hub.
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, stringify({ server: { bind: '127.0.0.1', port: 0 }, auth, logging: { level: 'warn' }, fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection(s), hub: { postgres: pgSection, retryMs: 200 } } }));
  const hub = spawnFacegate(['hub', '--config', hubYaml]);
  procs.push(hub);
  await until('hub ready', () => hub.lines.some((l) => l.includes('"hub":"ready"')), 60_000);
  const hubUrl = (JSON.parse(hub.lines.find((l) => l.includes('"hub":"ready"')) ?? '{}') as { url: string }).url;
  const store = new HubStore({ ...pgSection, poolSize: 2 }, logger);
  t.teardown(() => store.close());

  // Enrollment at the hub (the models load in this process, like `facegate enroll --hub`).
  const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  const embedder = await createEmbedder('w600k_mbf_dq');
  const ids = new Map<string, string>();
  for (const p of DEMO_CAST.enrolled) {
    const r = await enrollAtHub(store, { name: p.name, groups: [...p.groups], photos: [join(data, p.photo)] }, { detector, embedder });
    t.ok(r.identity, `${p.name} enrolled at the hub`);
    ids.set(p.name, r.identity?.id ?? '');
  }
  await detector.close();
  await embedder.close();
  const enrolledAt = Date.now();

  // The hub's WebSocket, as an operator sees the fleet.
  const seen: { type: string; nodeId: string; identityId?: string }[] = [];
  const w = watchEvents({ url: hubUrl, token: TOKEN, since: 0, onEvent: (e) => seen.push({ type: e.type, nodeId: String(e.nodeId), identityId: e.identityId as string | undefined }) });
  t.teardown(() => w.close());

  // Two edges, empty galleries, the clip looping as a door camera.
  const edgeDb = (node: string, f: string) => join(dir, node, f);
  const edgePorts = new Map<string, number>();
  for (const node of NODES) {
    edgePorts.set(node, await freePort());
    const yaml = join(dir, `${node}.yaml`);
    writeFileSync(
      yaml,
      stringify({
        server: { bind: '127.0.0.1', port: edgePorts.get(node) },
        auth,
        logging: { level: 'warn' },
        cameras: [{ id: 'door', name: 'Front door', source: { kind: 'file', path: clip.path, loop: true, realtime: true }, fps: 5 }],
        gates: [{ id: 'front-door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, maskPolicy: 'allow', confirmation: { n: 2, m: 3 } }],
        events: { db: edgeDb(node, 'events.sqlite'), snapshots: { dir: edgeDb(node, 'snapshots') } },
        gallery: { db: edgeDb(node, 'gallery.sqlite') },
        fleet: { nodeId: node, site: node === 'door-1' ? 'hq' : 'lab', nats: natsSection(s) },
      }),
    );
    const p = spawnFacegate(['run', '--config', yaml, '--no-watch']);
    procs.push(p);
  }
  const galleryCount = (node: string) => {
    try {
      return Number(readLog(edgeDb(node, 'gallery.sqlite'), 'SELECT count(*) AS n FROM identities')[0]?.n ?? 0);
    } catch {
      return -1;
    }
  };
  await until('both edge galleries follow the hub', () => NODES.every((n) => galleryCount(n) === 3), 120_000, 200);
  t.pass(`both edges in sync ${Date.now() - enrolledAt} ms after the enrollment (model loading included)`);

  // 1. Recognised and granted at both doors, seen at the hub with node ids.
  const angelina = ids.get('Angelina') ?? '';
  await until('Angelina granted at both doors (hub view)', () => NODES.every((n) => seen.some((e) => e.type === 'gate.granted' && e.nodeId === n && e.identityId === angelina)), 150_000, 200);
  t.pass('both edges recognised Angelina and granted at their gates; the hub WebSocket shows both node ids');

  // Enrollment on an edge is refused with the fix (the hub is the source of truth).
  const refused = await fetch(`http://127.0.0.1:${edgePorts.get('door-1')}/v1/identities?name=Local&group=staff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'image/jpeg' },
    body: readFileSync(join(data, DEMO_CAST.enrolled[0].photo)),
  });
  const refusal = (await refused.json()) as { code?: string; hint?: string };
  t.equal(refusal.code, 'FLEET_REFUSED', `edge enrollment refused (${refused.status})`);
  t.match(refusal.hint, /enroll --hub/);
  t.equal(galleryCount('door-1'), 3, 'the edge gallery is unchanged');

  // 2. Partition while both edges run the clip.
  const lastIds = () => NODES.map((n) => Number(readLog(edgeDb(n, 'events.sqlite'), 'SELECT max(id) AS m FROM events')[0]?.m ?? 0));
  const gateCount = (n: string, after: number) => Number(readLog(edgeDb(n, 'events.sqlite'), "SELECT count(*) AS c FROM events WHERE id > ? AND type IN ('gate.granted', 'gate.denied')", after)[0]?.c ?? 0);
  await s.kill();
  const before = lastIds();
  await until('both edges keep deciding during the partition', () => NODES.every((n, i) => gateCount(n, before[i]) >= 2), 90_000, 500);
  t.pass('gates kept granting/denying locally while NATS was down');
  await s.restart();

  // Every event of both edges at the hub exactly once (ids against each edge's own log).
  const upTo = lastIds();
  for (const [i, n] of NODES.entries()) {
    await until(`${n}: all ${upTo[i]} events at the hub`, async () => (await store.eventIds(n).catch(() => [])).filter((x) => x <= upTo[i]).length >= upTo[i], 120_000, 500);
    const hubIds = (await store.eventIds(n)).filter((x) => x <= upTo[i]);
    const edgeIds = readLog(edgeDb(n, 'events.sqlite'), 'SELECT id FROM events WHERE id <= ? ORDER BY id', upTo[i]).map((r) => Number(r.id));
    t.same(hubIds, edgeIds, `${n}: the hub holds each of its ${edgeIds.length} events once`);
  }

  // Snapshots travel separately (object store) and the hub serves them like a box.
  for (const n of NODES) {
    const row = readLog(edgeDb(n, 'events.sqlite'), "SELECT body FROM events WHERE type = 'face.recognized' ORDER BY id LIMIT 1")[0];
    const snap = (JSON.parse(String(row?.body ?? '{}')) as { data?: { snapshotId?: string } }).data?.snapshotId ?? '';
    t.ok(snap, `${n}: a recognition with a snapshot`);
    let got: Buffer | undefined;
    await until(`${n}: snapshot at the hub`, async () => {
      const r = await fetch(`${hubUrl}/v1/snapshots/${snap}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      if (r.status !== 200) return false;
      got = Buffer.from(await r.arrayBuffer());
      return true;
    }, 30_000, 250);
    t.same(got, readFileSync(join(edgeDb(n, 'snapshots'), `${snap}.face.jpg`)), `${n}: the hub serves the edge's face snapshot, byte for byte`);
  }

  // 3. Removed at the hub -> both edges drop her and deny.
  const removedId = await removeAtHub(store, 'Angelina');
  t.equal(removedId, angelina);
  await until('both edges dropped Angelina', () => NODES.every((n) => galleryCount(n) === 2), 30_000, 200);
  const afterRemoval = lastIds();
  await sleep(clip.durationMs + 5000);
  for (const [i, n] of NODES.entries()) {
    const rows = readLog(edgeDb(n, 'events.sqlite'), "SELECT type, identity_id FROM events WHERE id > ? AND type IN ('gate.granted', 'gate.denied')", afterRemoval[i]);
    t.notOk(rows.some((r) => r.type === 'gate.granted' && r.identity_id === angelina), `${n}: no grant for Angelina after her removal`);
    t.ok(rows.some((r) => r.type === 'gate.denied'), `${n}: denials after the removal (${rows.filter((r) => r.type === 'gate.denied').length})`);
  }
  for (const p of procs.slice(1)) await p.kill('SIGTERM');
  await hub.kill('SIGTERM');
});
