import sharp from 'sharp';
import t from 'tap';
import { createCheckedIdentityApi } from '../../src/app/dashboard.ts';
import { enrollFromEventRoute } from '../../src/app/identities.ts';
import { DEFAULT_EMBEDDER } from '../../src/config/index.ts';
import { calibratedThresholds } from '../../src/models/index.ts';
import { apiRig, rigToken } from '../helpers/api-rig.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * POST /v1/events/:id/enroll: the face an event kept becomes an identity (or more photos of one)
 * through the same checks as an upload: quality, look-alike unless force, audit. Real photos
 * saved as the pipeline's face snapshots, real models, the real event log.
 */

const ADMIN = rigToken('admin');
const OPERATOR = rigToken('operator');

const rig = apiRig(t, {
  prefix: 'fg-enroll-event-',
  encrypted: false,
  deps: ({ gallery, enrollment, bus, log, logger, snapshotBytes }) => {
    const identities = createCheckedIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger, threshold: () => calibratedThresholds(DEFAULT_EMBEDDER).unmasked });
    return { routes: [enrollFromEventRoute({ event: (id) => log.get(id), faceSnapshot: (id) => snapshotBytes(id, 'face'), identities })] };
  },
});

/** A face.unknown event whose face snapshot is the photo (resized to `width` when given). */
async function unknownEvent(photo: string, width?: number): Promise<number> {
  const img = width ? sharp(photo).resize({ width }) : sharp(photo);
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const snapshotId = await rig.snapshots.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [0, 0, info.width, info.height]);
  return rig.bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't', data: { masked: false, snapshotId } }).id;
}

const post = (id: number | string, body: unknown, token = ADMIN) => fetch(`${rig.api.url}/v1/events/${id}/enroll`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('a new identity from an event, then another event added to it; audited', async (t) => {
  const first = await unknownEvent(bbtPhoto('amy', 1));
  t.equal((await post(first, { name: 'Amy' }, OPERATOR)).status, 403, 'admin only');
  const r = await post(first, { name: 'Amy', groups: ['staff'] });
  t.equal(r.status, 201);
  const body = (await r.json()) as { identity: { id: string; name: string; groups: string[] } };
  t.match(body.identity, { name: 'Amy', groups: ['staff'] });
  t.match(rig.log.query({ types: ['identity.created'], order: 'desc', limit: 1 })[0]?.data, { actor: 'admin', name: 'Amy' });
  const second = await unknownEvent(bbtPhoto('amy', 2));
  const more = await post(second, { identityId: body.identity.id });
  t.equal(more.status, 201);
  t.match(await more.json(), { ok: true, templates: 4 });
  t.equal(rig.gallery.requireIdentity(body.identity.id).templateTotal, 8);
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
  const bare = rig.bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't', data: { masked: false } }).id;
  t.equal((await post(bare, { name: 'X' })).status, 409);
  const ev = await unknownEvent(bbtPhoto('raj', 1));
  t.equal((await post(ev, {})).status, 400);
  t.equal((await post(ev, { identityId: 'id_nobody' })).status, 404);
  t.equal((await post(ev, { name: 'Raj', force: 'yes' })).status, 400);
});
