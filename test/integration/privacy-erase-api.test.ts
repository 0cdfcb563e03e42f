import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { createIdentityApi, createUploadEnrollment, type UploadEnrollment } from '../../src/app/identities.ts';
import { withPrivacyApi } from '../../src/app/identity-privacy.ts';
import { EventBus, EventLog, SnapshotStore, type Event } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { createLogger } from '../../src/log.ts';
import { newKek } from '../../src/privacy/index.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * POST /v1/identities/:id/erase and GET /v1/identities/:id/export over encrypted storage: admin
 * only, the export a ZIP with her crop decrypted, the erasure's receipt published on the bus
 * without her name, then 404 for both. Real photo, real models.
 */

const ADMIN = 'admin-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const NAME = 'Bernadette Rostenkowski';
const dir = mkdtempSync(join(tmpdir(), 'fg-erase-api-'));
const encryption = { kek: newKek(), source: 'test' };
let api: ApiServer;
let gallery: Gallery;
let log: EventLog;
let bus: EventBus;
let embedder: Embedder;
let enrollment: UploadEnrollment;
const seen: Event[] = [];

t.before(async () => {
  gallery = openGallery(join(dir, 'gallery.sqlite'), { encryption });
  log = new EventLog(join(dir, 'events.sqlite'));
  bus = new EventBus(log);
  bus.live().subscribe((e: Event) => seen.push(e));
  embedder = await createEmbedder('mobilefacenet_paddlex_128d');
  enrollment = createUploadEnrollment({ detectorOptions: {}, embedder });
  const snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100, encryption });
  const logger = createLogger({ level: 'silent' });
  const publish = (e: Parameters<typeof bus.publish>[0]): Event => bus.publish(e);
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => [
        { id: 'desk', role: 'admin' as const, sha256: sha256Hex(ADMIN) },
        { id: 'guard', role: 'viewer' as const, sha256: sha256Hex(VIEWER) },
      ],
      metrics: createMetrics({ defaultMetrics: false }),
      identities: withPrivacyApi(createIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish, logger }), { gallery, eventLog: log, snapshots, publish }),
      snapshotPath: (id, kind) => snapshots.path(id, kind),
    },
    { bind: '127.0.0.1', port: 0, allowedOrigins: [], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
  );
});

t.teardown(async () => {
  await api?.close();
  await enrollment?.close();
  await embedder?.close();
  bus?.close();
  log?.close();
  gallery?.close();
  rmSync(dir, { recursive: true, force: true });
});

const url = (p: string): string => `http://127.0.0.1:${api.port}${p}`;
const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

t.test('export then erase through the API', async (t) => {
  const created = await fetch(url(`/v1/identities?name=${encodeURIComponent(NAME)}&consent=form+3`), { method: 'POST', headers: { ...auth(ADMIN), 'content-type': 'image/png' }, body: readFileSync(bbtPhoto('bernadette', 1)) });
  t.equal(created.status, 201);
  const { identity } = (await created.json()) as { identity: { id: string } };

  t.equal((await fetch(url(`/v1/identities/${identity.id}/export`), { headers: auth(VIEWER) })).status, 403, 'export: admin only');
  t.equal((await fetch(url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: auth(VIEWER) })).status, 403, 'erase: admin only');

  const exp = await fetch(url(`/v1/identities/${identity.id}/export`), { headers: auth(ADMIN) });
  t.equal(exp.status, 200);
  t.equal(exp.headers.get('content-type'), 'application/zip');
  const zipFile = join(dir, 'export.zip');
  writeFileSync(zipFile, Buffer.from(await exp.arrayBuffer()));
  const py = spawnSync('python3', ['-c', 'import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); c=[n for n in z.namelist() if n.startswith("crops/")]; print(json.dumps({"name": json.loads(z.read("profile.json"))["identity"]["name"], "crops": len(c), "jpeg": z.read(c[0])[:3].hex()}))', zipFile], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  t.same(JSON.parse(py.stdout), { name: NAME, crops: 1, jpeg: 'ffd8ff' }, 'profile and a decrypted JPEG crop');

  const json = { ...auth(ADMIN), 'content-type': 'application/json' };
  const until = await fetch(url(`/v1/identities/${identity.id}/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: '2027-01-31T18:00:00Z' }) });
  t.equal(until.status, 200);
  t.match(await until.json(), { id: identity.id, validUntil: Date.UTC(2027, 0, 31, 18) }, 'a visitor now');
  t.match(log.query({ types: ['identity.updated'] }).at(-1), { identityId: identity.id, data: { actor: 'desk', validUntil: Date.UTC(2027, 0, 31, 18) } }, 'audited');
  t.equal((await fetch(url(`/v1/identities/${identity.id}/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: 'soon' }) })).status, 400);
  t.equal((await fetch(url(`/v1/identities/id_nobody/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: null }) })).status, 404);

  const erased = await fetch(url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: auth(ADMIN) });
  t.equal(erased.status, 200);
  const receipt = (await erased.json()) as Record<string, unknown>;
  t.match(receipt, { identityId: identity.id, reason: 'request', actor: 'desk', crops: 1, events: 2, secureDelete: true });
  const published = seen.find((e) => e.type === 'identity.erased');
  t.ok(published, 'identity.erased on the bus');
  t.notOk(JSON.stringify(published).includes(NAME), 'the published receipt does not name her');
  t.equal(log.query({ types: ['identity.created'] })[0].data.name, '[erased]', 'the audit of her enrollment is tombstoned');
  t.equal((await fetch(url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: auth(ADMIN) })).status, 404, 'gone');
  t.equal((await fetch(url(`/v1/identities/${identity.id}/export`), { headers: auth(ADMIN) })).status, 404);
});
