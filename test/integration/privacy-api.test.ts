import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { createIdentityApi, createUploadEnrollment, requireConsentApi, type UploadEnrollment } from '../../src/app/identities.ts';
import { EventBus, EventLog, isEventsError, SnapshotStore } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { createLogger } from '../../src/log.ts';
import { newKek } from '../../src/privacy/index.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import { dataPath } from '../helpers/data.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * The API over encrypted storage: snapshots come out decrypted (the JPEG that was saved, never
 * ciphertext), and with privacy.requireConsent a new identity needs a consent record, which is
 * stored and audited. Real photos, real models.
 */

const ADMIN = 'admin-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'fg-privacy-api-'));
const encryption = { kek: newKek(), source: 'test' };
let requireConsent = true;
let api: ApiServer;
let gallery: Gallery;
let log: EventLog;
let bus: EventBus;
let embedder: Embedder;
let enrollment: UploadEnrollment;
let snapshots: SnapshotStore;
let snapshotId = '';
let savedFace: Buffer;

t.before(async () => {
  gallery = openGallery(join(dir, 'gallery.sqlite'), { encryption });
  log = new EventLog(join(dir, 'events.sqlite'));
  bus = new EventBus(log);
  embedder = await createEmbedder('mobilefacenet_paddlex_128d');
  enrollment = createUploadEnrollment({ detectorOptions: {}, embedder });
  snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100, encryption });
  const { data, info } = await sharp(dataPath('groups/faceapi_bbt4.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  snapshotId = await snapshots.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [100, 40, 220, 190]);
  savedFace = await snapshots.read(snapshotId, 'face');
  const logger = createLogger({ level: 'silent' });
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => [{ id: 'desk', role: 'admin' as const, sha256: sha256Hex(ADMIN) }],
      metrics: createMetrics({ defaultMetrics: false }),
      identities: requireConsentApi(createIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger }), () => requireConsent),
      snapshotPath: (id, kind) => snapshots.path(id, kind),
      snapshotBytes: (id, kind) => snapshots.read(id, kind).catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e))),
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

const auth = { authorization: `Bearer ${ADMIN}` };

t.test('GET /v1/snapshots/:id serves the decrypted JPEG of an encrypted snapshot', async (t) => {
  t.ok(snapshots.encrypted);
  const res = await fetch(`${api.url}/v1/snapshots/${snapshotId}`, { headers: auth });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'image/jpeg');
  const body = Buffer.from(await res.arrayBuffer());
  t.same(body, savedFace, 'the JPEG that was saved');
  t.same(body.subarray(0, 3), Buffer.from([0xff, 0xd8, 0xff]));
  const frame = await fetch(`${api.url}/v1/snapshots/${snapshotId}?kind=frame`, { headers: auth });
  t.equal(frame.status, 200);
  t.ok((await sharp(Buffer.from(await frame.arrayBuffer())).metadata()).width! > 0, 'the frame decodes');
  t.equal((await fetch(`${api.url}/v1/snapshots/zzzzzzzzz-0000000000`, { headers: auth })).status, 404);
  t.equal((await fetch(`${api.url}/v1/snapshots/${snapshotId}`)).status, 401, 'still needs a token');
});

t.test('requireConsent: a new identity without consent is refused; with it, stored and audited', async (t) => {
  const photo = readFileSync(bbtPhoto('amy', 1));
  const refused = await fetch(`${api.url}/v1/identities?name=Amy&group=staff`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: photo });
  t.equal(refused.status, 422);
  t.match(await refused.json(), { ok: false, reason: 'consent-required' });
  t.equal(gallery.stats().identities, 0, 'nothing enrolled');

  const q = new URLSearchParams({ name: 'Amy', group: 'staff', consent: 'signed form 2026-17', consentMethod: 'written' });
  const created = await fetch(`${api.url}/v1/identities?${q}`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: photo });
  t.equal(created.status, 201);
  const body = (await created.json()) as { identity: { id: string; consent: Record<string, unknown> } };
  t.match(body.identity.consent, { recordedBy: 'desk', method: 'written', purpose: 'access control', expiresAt: null, text: 'signed form 2026-17' });
  t.match(gallery.requireIdentity(body.identity.id).consent, { text: 'signed form 2026-17' }, 'stored with the identity');
  const [audit] = log.query({ types: ['identity.created'], order: 'desc', limit: 1 });
  t.match(audit.data, { actor: 'desk', consent: { text: 'signed form 2026-17', method: 'written' } }, 'audited');
  t.equal((await fetch(`${api.url}/v1/identities?name=X&consent=x&consentExpiresAt=2000-01-01`, { method: 'POST', headers: auth, body: photo })).status, 400, 'an expiry in the past is refused');

  requireConsent = false;
  const without = await fetch(`${api.url}/v1/identities?name=Howard`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: readFileSync(bbtPhoto('howard', 1)) });
  t.equal(without.status, 201, 'allowed when the setting is off (read per request)');
  t.equal(((await without.json()) as { identity: { consent?: unknown } }).identity.consent, undefined);
});
