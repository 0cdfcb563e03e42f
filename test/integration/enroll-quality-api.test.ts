import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { createCheckedIdentityApi } from '../../src/app/dashboard.ts';
import { enrollmentRulesOf } from '../../src/app/identities.ts';
import { DEFAULT_EMBEDDER, parseConfig } from '../../src/config/index.ts';
import { calibratedThresholds } from '../../src/models/index.ts';
import { apiRig, rigToken } from '../helpers/api-rig.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * The enrollment checks through the API: a refused photo answers 422 with each failed check
 * (value, threshold, fix); a photo of someone already enrolled is refused naming them ("already
 * enrolled as Amy at 0.xx") unless `force=true`. Real photos, real models.
 */

const ADMIN = rigToken('admin');
let minEyeDistance = 30;

const rig = apiRig(t, {
  prefix: 'fg-enroll-api-',
  encrypted: false,
  // The rules are read per photo from the config section, as the service does.
  enrollment: { rules: () => enrollmentRulesOf(parseConfig({ recognition: { enrollment: { minEyeDistance } } }).recognition.enrollment) },
  deps: ({ gallery, enrollment, bus, logger }) => ({
    identities: createCheckedIdentityApi({ gallery, enroll: (photo) => enrollment.enroll(photo), publish: (e) => bus.publish(e), logger, threshold: () => calibratedThresholds(DEFAULT_EMBEDDER).unmasked }),
  }),
});

const upload = (query: string, body: Buffer) => fetch(`${rig.api.url}/v1/identities?${query}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'image/png' }, body });

t.test('a small face (eyes ~26 px apart): 422 with the eye-distance check; the limit is the config', async (t) => {
  const small = await sharp(bbtPhoto('penny', 1)).resize({ width: 64 }).png().toBuffer();
  const r = await upload('name=Penny', small);
  t.equal(r.status, 422);
  const body = (await r.json()) as { reason: string; message: string; checks: { check: string; value: number; threshold: number; message: string; fix: string }[] };
  t.equal(body.reason, 'too-small');
  t.match(body.checks.find((c) => c.check === 'eye-distance'), { threshold: 30, message: /^move closer: eyes \d+ px apart, at least 30 needed$/, fix: /closer/ });
  t.notMatch(body.message, /facegate-upload-/, 'no server path in the message');
  minEyeDistance = 10;
  const lenient = await upload('name=Penny', small);
  const lb = (await lenient.json()) as { checks?: { check: string }[] };
  t.notOk(lb.checks?.some((c) => c.check === 'eye-distance'), 'a lower configured limit lets the eye distance pass');
  minEyeDistance = 30;
});

t.test('a look-alike is refused naming the person, unless force=true', async (t) => {
  t.equal((await upload('name=Amy', readFileSync(bbtPhoto('amy', 1)))).status, 201);
  const dup = await upload('name=Amy%20Two', readFileSync(bbtPhoto('amy', 2)));
  t.equal(dup.status, 422);
  t.match(await dup.json(), { reason: 'looks-like', message: /already enrolled as Amy at 0\.\d\d.*force=true/ });
  t.equal((await upload('name=Amy%20Two&force=maybe', readFileSync(bbtPhoto('amy', 2)))).status, 400);
  const forced = await upload('name=Amy%20Two&force=true', readFileSync(bbtPhoto('amy', 2)));
  t.equal(forced.status, 201);
  t.same(rig.gallery.listIdentities().map((i) => i.name).filter((n) => n.startsWith('Amy')).sort(), ['Amy', 'Amy Two']);
});
