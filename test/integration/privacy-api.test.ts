import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { createIdentityApi, requireConsentApi } from '../../src/app/identities.ts';
import { apiRig } from '../helpers/api-rig.ts';
import { dataPath } from '../helpers/data.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * The API over encrypted storage: snapshots come out decrypted (the JPEG that was saved, never
 * ciphertext), and with privacy.requireConsent a new identity needs a consent record, which is
 * stored and audited. Real photos, real models.
 */

let requireConsent = true;
let snapshotId = '';
let savedFace: Buffer;

const rig = apiRig(t, {
  prefix: 'fg-privacy-api-',
  embedder: 'mobilefacenet_paddlex_128d',
  setup: async ({ snapshots }) => {
    const { data, info } = await sharp(dataPath('groups/faceapi_bbt4.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    snapshotId = await snapshots.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [100, 40, 220, 190]);
    savedFace = await snapshots.read(snapshotId, 'face');
  },
  deps: ({ gallery, enrollment, bus, logger, snapshots, snapshotBytes }) => ({
    identities: requireConsentApi(createIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger }), () => requireConsent),
    snapshotBytes,
  }),
});
const auth = rig.auth('admin');

t.test('GET /v1/snapshots/:id serves the decrypted JPEG of an encrypted snapshot', async (t) => {
  t.ok(rig.snapshots.encrypted);
  const res = await fetch(`${rig.api.url}/v1/snapshots/${snapshotId}`, { headers: auth });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'image/jpeg');
  const body = Buffer.from(await res.arrayBuffer());
  t.same(body, savedFace, 'the JPEG that was saved');
  t.same(body.subarray(0, 3), Buffer.from([0xff, 0xd8, 0xff]));
  const frame = await fetch(`${rig.api.url}/v1/snapshots/${snapshotId}?kind=frame`, { headers: auth });
  t.equal(frame.status, 200);
  t.ok((await sharp(Buffer.from(await frame.arrayBuffer())).metadata()).width! > 0, 'the frame decodes');
  t.equal((await fetch(`${rig.api.url}/v1/snapshots/zzzzzzzzz-0000000000`, { headers: auth })).status, 404);
  t.equal((await fetch(`${rig.api.url}/v1/snapshots/${snapshotId}`)).status, 401, 'still needs a token');
});

t.test('requireConsent: a new identity without consent is refused; with it, stored and audited', async (t) => {
  const photo = readFileSync(bbtPhoto('amy', 1));
  const refused = await fetch(`${rig.api.url}/v1/identities?name=Amy&group=staff`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: photo });
  t.equal(refused.status, 422);
  t.match(await refused.json(), { ok: false, reason: 'consent-required' });
  t.equal(rig.gallery.stats().identities, 0, 'nothing enrolled');

  const q = new URLSearchParams({ name: 'Amy', group: 'staff', consent: 'signed form 2026-17', consentMethod: 'written' });
  const created = await fetch(`${rig.api.url}/v1/identities?${q}`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: photo });
  t.equal(created.status, 201);
  const body = (await created.json()) as { identity: { id: string; consent: Record<string, unknown> } };
  t.match(body.identity.consent, { recordedBy: 'admin', method: 'written', purpose: 'access control', expiresAt: null, text: 'signed form 2026-17' });
  t.match(rig.gallery.requireIdentity(body.identity.id).consent, { text: 'signed form 2026-17' }, 'stored with the identity');
  const [audit] = rig.log.query({ types: ['identity.created'], order: 'desc', limit: 1 });
  t.match(audit.data, { actor: 'admin', consent: { text: 'signed form 2026-17', method: 'written' } }, 'audited');
  t.equal((await fetch(`${rig.api.url}/v1/identities?name=X&consent=x&consentExpiresAt=2000-01-01`, { method: 'POST', headers: auth, body: photo })).status, 400, 'an expiry in the past is refused');

  requireConsent = false;
  const without = await fetch(`${rig.api.url}/v1/identities?name=Howard`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: readFileSync(bbtPhoto('howard', 1)) });
  t.equal(without.status, 201, 'allowed when the setting is off (read per request)');
  t.equal(((await without.json()) as { identity: { consent?: unknown } }).identity.consent, undefined);
});
