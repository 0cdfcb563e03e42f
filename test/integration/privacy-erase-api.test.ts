import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createIdentityApi } from '../../src/app/identities.ts';
import { withPrivacyApi } from '../../src/app/identity-privacy.ts';
import type { Event } from '../../src/events/index.ts';
import { apiRig } from '../helpers/api-rig.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * POST /v1/identities/:id/erase and GET /v1/identities/:id/export over encrypted storage: admin
 * only, the export a ZIP with her crop decrypted, the erasure's receipt published on the bus
 * without her name, then 404 for both. Real photo, real models.
 */

const NAME = 'Bernadette Rostenkowski';
const seen: Event[] = [];

const rig = apiRig(t, {
  prefix: 'fg-erase-api-',
  embedder: 'mobilefacenet_paddlex_128d',
  setup: async ({ bus }) => {
    bus.live().subscribe((e: Event) => seen.push(e));
  },
  deps: ({ gallery, enrollment, bus, log, snapshots, logger }) => {
    const publish = (e: Parameters<typeof bus.publish>[0]): Event => bus.publish(e);
    return {
      identities: withPrivacyApi(createIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish, logger }), { gallery, eventLog: log, snapshots, publish }),
      };
  },
});

t.test('export then erase through the API', async (t) => {
  const created = await fetch(rig.url(`/v1/identities?name=${encodeURIComponent(NAME)}&consent=form+3`), { method: 'POST', headers: { ...rig.auth('admin'), 'content-type': 'image/png' }, body: readFileSync(bbtPhoto('bernadette', 1)) });
  t.equal(created.status, 201);
  const { identity } = (await created.json()) as { identity: { id: string } };

  t.equal((await fetch(rig.url(`/v1/identities/${identity.id}/export`), { headers: rig.auth('viewer') })).status, 403, 'export: admin only');
  t.equal((await fetch(rig.url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: rig.auth('viewer') })).status, 403, 'erase: admin only');

  const exp = await fetch(rig.url(`/v1/identities/${identity.id}/export`), { headers: rig.auth('admin') });
  t.equal(exp.status, 200);
  t.equal(exp.headers.get('content-type'), 'application/zip');
  const zipFile = join(rig.dir, 'export.zip');
  writeFileSync(zipFile, Buffer.from(await exp.arrayBuffer()));
  const py = spawnSync('python3', ['-c', 'import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); c=[n for n in z.namelist() if n.startswith("crops/")]; print(json.dumps({"name": json.loads(z.read("profile.json"))["identity"]["name"], "crops": len(c), "jpeg": z.read(c[0])[:3].hex()}))', zipFile], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  t.same(JSON.parse(py.stdout), { name: NAME, crops: 1, jpeg: 'ffd8ff' }, 'profile and a decrypted JPEG crop');

  const json = { ...rig.auth('admin'), 'content-type': 'application/json' };
  const until = await fetch(rig.url(`/v1/identities/${identity.id}/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: '2027-01-31T18:00:00Z' }) });
  t.equal(until.status, 200);
  t.match(await until.json(), { id: identity.id, validUntil: Date.UTC(2027, 0, 31, 18) }, 'a visitor now');
  t.match(rig.log.query({ types: ['identity.updated'] }).at(-1), { identityId: identity.id, data: { actor: 'admin', validUntil: Date.UTC(2027, 0, 31, 18) } }, 'audited');
  t.equal((await fetch(rig.url(`/v1/identities/${identity.id}/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: 'soon' }) })).status, 400);
  t.equal((await fetch(rig.url(`/v1/identities/id_nobody/valid-until`), { method: 'POST', headers: json, body: JSON.stringify({ validUntil: null }) })).status, 404);

  const erased = await fetch(rig.url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: rig.auth('admin') });
  t.equal(erased.status, 200);
  const receipt = (await erased.json()) as Record<string, unknown>;
  t.match(receipt, { identityId: identity.id, reason: 'request', actor: 'admin', crops: 1, events: 2, secureDelete: true });
  const published = seen.find((e) => e.type === 'identity.erased');
  t.ok(published, 'identity.erased on the bus');
  t.notOk(JSON.stringify(published).includes(NAME), 'the published receipt does not name her');
  t.equal(rig.log.query({ types: ['identity.created'] })[0].data.name, '[erased]', 'the audit of her enrollment is tombstoned');
  t.equal((await fetch(rig.url(`/v1/identities/${identity.id}/erase`), { method: 'POST', headers: rig.auth('admin') })).status, 404, 'gone');
  t.equal((await fetch(rig.url(`/v1/identities/${identity.id}/export`), { headers: rig.auth('admin') })).status, 404);
});
