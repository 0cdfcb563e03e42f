/**
 * POST /v1/events/:id/enroll: the face an event kept becomes an identity (or more photos of one)
 * through the same checks as an upload: quality, look-alike unless force, audit. Real photos
 * saved as the pipeline's face snapshots, real models, the real event log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { createCheckedIdentityApi } from '../../src/app/dashboard.ts';
import { createUploadEnrollment, enrollFromEventRoute, type UploadEnrollment } from '../../src/app/identities.ts';
import { DEFAULT_EMBEDDER } from '../../src/config/index.ts';
import { EventBus, EventLog, isEventsError, SnapshotStore } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { createLogger } from '../../src/log.ts';
import { calibratedThresholds } from '../../src/models/index.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcd';
const dir = mkdtempSync(join(tmpdir(), 'fg-enroll-event-'));
let api: ApiServer;
let gallery: Gallery;
let log: EventLog;
let bus: EventBus;
let embedder: Embedder;
let enrollment: UploadEnrollment;
let snapshots: SnapshotStore;

t.before(async () => {
  gallery = openGallery(join(dir, 'gallery.sqlite'));
  log = new EventLog(join(dir, 'events.sqlite'));
  bus = new EventBus(log);
  embedder = await createEmbedder(DEFAULT_EMBEDDER);
  enrollment = createUploadEnrollment({ detectorOptions: {}, embedder });
  snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100 });
  const identities = createCheckedIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger: createLogger({ level: 'silent' }), threshold: () => calibratedThresholds(DEFAULT_EMBEDDER).unmasked });
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => [
        { id: 'desk', role: 'admin' as const, sha256: sha256Hex(ADMIN) },
        { id: 'guard', role: 'operator' as const, sha256: sha256Hex(OPERATOR) },
      ],
      metrics: createMetrics({ defaultMetrics: false }),
      routes: [enrollFromEventRoute({ event: (id) => log.get(id), faceSnapshot: (id) => snapshots.read(id, 'face').catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e))), identities })],
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

/** A face.unknown event whose face snapshot is the photo (resized to `width` when given). */
async function unknownEvent(photo: string, width?: number): Promise<number> {
  const img = width ? sharp(photo).resize({ width }) : sharp(photo);
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const snapshotId = await snapshots.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [0, 0, info.width, info.height]);
  return bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't', data: { masked: false, snapshotId } }).id;
}

const post = (id: number | string, body: unknown, token = ADMIN) => fetch(`${api.url}/v1/events/${id}/enroll`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('a new identity from an event, then another event added to it; audited', async (t) => {
  const first = await unknownEvent(bbtPhoto('amy', 1));
  t.equal((await post(first, { name: 'Amy' }, OPERATOR)).status, 403, 'admin only');
  const r = await post(first, { name: 'Amy', groups: ['staff'] });
  t.equal(r.status, 201);
  const body = (await r.json()) as { identity: { id: string; name: string; groups: string[] } };
  t.match(body.identity, { name: 'Amy', groups: ['staff'] });
  t.match(log.query({ types: ['identity.created'], order: 'desc', limit: 1 })[0]?.data, { actor: 'desk', name: 'Amy' });
  const second = await unknownEvent(bbtPhoto('amy', 2));
  const more = await post(second, { identityId: body.identity.id });
  t.equal(more.status, 201);
  t.match(await more.json(), { ok: true, templates: 4 });
  t.equal(gallery.requireIdentity(body.identity.id).templateTotal, 8);
});

t.test('the checks of an upload: a look-alike unless force, a small face with its check', async (t) => {
  const third = await unknownEvent(bbtPhoto('amy', 3));
  const dup = await post(third, { name: 'Someone Else' });
  t.equal(dup.status, 422);
  t.match(await dup.json(), { reason: 'looks-like', message: /already enrolled as Amy/ });
  t.equal((await post(third, { name: 'Someone Else', force: true })).status, 201, 'force=true enrols it anyway');
  const small = await unknownEvent(bbtPhoto('penny', 1), 64);
  const r = await post(small, { name: 'Penny' });
  t.equal(r.status, 422);
  t.match(await r.json(), { reason: 'too-small', checks: [{ check: 'eye-distance' }] });
});

t.test('refusals: no event, no snapshot, no name, an unknown identity', async (t) => {
  t.equal((await post(99999, { name: 'X' })).status, 404);
  const bare = bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't', data: { masked: false } }).id;
  t.equal((await post(bare, { name: 'X' })).status, 409);
  const ev = await unknownEvent(bbtPhoto('raj', 1));
  t.equal((await post(ev, {})).status, 400);
  t.equal((await post(ev, { identityId: 'id_nobody' })).status, 404);
  t.equal((await post(ev, { name: 'Raj', force: 'yes' })).status, 400);
});
