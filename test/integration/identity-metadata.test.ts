/**
 * PATCH /v1/identities/:id with `metadata`: merged (a key set to null is removed), a card
 * credential checked when it is written (the field, the range and the fix), the audit naming the
 * keys but never a card number. Real photo, real models.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { createIdentityApi } from '../../src/app/identities.ts';
import { apiRig } from '../helpers/api-rig.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

const rig = apiRig(t, {
  prefix: 'fg-identity-metadata-',
  encrypted: false,
  deps: ({ gallery, enrollment, bus, logger }) => ({
    identities: createIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger }),
  }),
});

t.test('metadata through PATCH: merged, a credential checked on write, audited by key', async (t) => {
  const created = await fetch(rig.url('/v1/identities?name=Amy'), { method: 'POST', headers: { ...rig.auth('admin'), 'content-type': 'image/png' }, body: readFileSync(bbtPhoto('amy', 1)) });
  t.equal(created.status, 201);
  const { identity } = (await created.json()) as { identity: { id: string } };
  const patch = (body: unknown, role: 'admin' | 'operator' = 'admin') =>
    fetch(rig.url(`/v1/identities/${identity.id}`), { method: 'PATCH', headers: { ...rig.auth(role), 'content-type': 'application/json' }, body: JSON.stringify(body) });

  t.equal((await patch({ metadata: { employeeId: 'E123' } }, 'operator')).status, 403, 'admin only');
  const card = { number: 4095, facilityCode: 101, format: 'wiegand26' };
  const ok = await patch({ metadata: { employeeId: 'E123', credential: card } });
  t.equal(ok.status, 200);
  t.same(rig.gallery.requireIdentity(identity.id).metadata, { employeeId: 'E123', credential: card });

  const wide = await patch({ metadata: { credential: { ...card, facilityCode: 300 } } });
  t.equal(wide.status, 400);
  t.match(await wide.json(), { code: 'DOOR_CREDENTIAL_INVALID', error: /credential\.facilityCode: 300 is out of range for wiegand26 \(0-255\)/, hint: /wiegand34/ });
  t.same(rig.gallery.requireIdentity(identity.id).metadata.credential, card, 'a refused credential changes nothing');
  t.equal((await patch({ metadata: ['x'] })).status, 400, 'metadata must be an object');

  const removed = await patch({ metadata: { credential: null } });
  t.equal(removed.status, 200);
  t.same(rig.gallery.requireIdentity(identity.id).metadata, { employeeId: 'E123' }, 'null removes the key, the rest stays');

  const audits = rig.log.query({ types: ['identity.updated'], order: 'asc' });
  t.same(audits.map((e) => e.data.metadataKeys), [['credential', 'employeeId'], ['credential']], 'each accepted change audited by key');
  t.notOk(JSON.stringify(audits).includes('4095'), 'the audit never carries the card number');
});
