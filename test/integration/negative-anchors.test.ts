import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import t from 'tap';
import { notThisPersonRoutes } from '../../src/app/identities.ts';
import { DEFAULT_EMBEDDER } from '../../src/config/index.ts';
import { calibratedThresholds } from '../../src/models/index.ts';
import { apiRig, rigToken } from '../helpers/api-rig.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * 'Not this person' on the shared photos, through the API: a real impostor (Stuart) is recognised
 * as Howard above the calibrated threshold; POST /v1/events/:id/not-this-person on that
 * recognition anchors Stuart's face to Howard, after which Stuart's other photos no longer match
 * Howard while every enrolled person's held-out photo still matches its own identity. Real models,
 * encrypted gallery and snapshots, the real event log.
 */

const OPERATOR = rigToken('operator');
const VIEWER = rigToken('viewer');
const PEOPLE = ['amy', 'bernadette', 'howard', 'leonard', 'penny', 'raj', 'sheldon'] as const;
const threshold = calibratedThresholds(DEFAULT_EMBEDDER).unmasked;
const ids = new Map<string, string>();

const rig = apiRig(t, {
  prefix: 'fg-negative-anchors-',
  // Photos 1-4 enrolled; photo 5 of each is held out as the person's own probe.
  setup: async ({ gallery, enrollment }) => {
    for (const person of PEOPLE) {
      const verdicts = [];
      for (const n of [1, 2, 3, 4]) {
        const v = await enrollment.enroll(readFileSync(bbtPhoto(person, n)));
        if (v.ok) verdicts.push(v);
      }
      ids.set(person, gallery.enroll({ name: person, templates: verdicts.flatMap((v) => v.templates) }).id);
    }
  },
  deps: ({ gallery, log, bus, logger, snapshotBytes, enrollment }) => ({
    routes: notThisPersonRoutes({ gallery, event: (id) => log.get(id), faceSnapshot: (id) => snapshotBytes(id, 'face'), embedFace: enrollment.embedFace, publish: (e) => bus.publish(e), logger }),
  }),
});

async function probe(person: string, n: number): Promise<{ identity: string | undefined; score: number }> {
  const e = await rig.enrollment.embedFace!(readFileSync(bbtPhoto(person, n)));
  if (!e.ok) throw new Error(e.message);
  const [best] = rig.gallery.search(e.embedding, { modelId: e.modelId, k: 1 });
  return best && best.score >= threshold ? { identity: best.name, score: best.score } : { identity: undefined, score: best?.score ?? 0 };
}

const post = (path: string, token: string) => fetch(`${rig.api.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

t.test('an impostor recognised as Howard stops matching after "not this person"; nobody else is lost', async (t) => {
  const stuart = [];
  for (const n of [1, 2, 3, 4, 5]) stuart.push({ n, ...(await probe('stuart', n)) });
  const asHoward = stuart.filter((s) => s.identity === 'howard');
  t.ok(asHoward.length >= 2, `Stuart's photos recognised as Howard before: ${asHoward.map((s) => `stuart${s.n} ${s.score.toFixed(3)}`).join(', ')} (threshold ${threshold})`);
  const genuineBefore = await Promise.all(PEOPLE.map((p) => probe(p, 5)));
  t.ok(genuineBefore.filter((g, i) => g.identity === PEOPLE[i]).length >= PEOPLE.length - 1, 'the held-out photos match their own people');

  // The wrong recognition as the pipeline logs it: the face snapshot and a face.recognized event.
  const wrong = asHoward[0];
  const { data, info } = await sharp(bbtPhoto('stuart', wrong.n)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const snapshotId = await rig.snapshots.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [0, 0, info.width, info.height]);
  const event = rig.bus.publish({ type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', trackId: 't1', identityId: ids.get('howard')!, data: { name: 'howard', score: wrong.score, masked: false, snapshotId } });

  t.equal((await post(`/v1/events/${event.id}/not-this-person`, VIEWER)).status, 403, 'a viewer cannot');
  const res = await post(`/v1/events/${event.id}/not-this-person`, OPERATOR);
  t.equal(res.status, 201);
  t.match(await res.json(), { identityId: ids.get('howard'), name: 'howard', negativeAnchorsAdded: 1, negativeAnchors: 1 });
  const [audit] = rig.log.query({ types: ['identity.updated'], order: 'desc', limit: 1 });
  t.match(audit, { identityId: ids.get('howard'), data: { actor: 'operator', negativeAnchorsAdded: 1 } }, 'audited as identity.updated');
  const again = await post(`/v1/events/${event.id}/not-this-person`, OPERATOR);
  t.equal(again.status, 200, 'the same event twice adds nothing');
  t.match(await again.json(), { negativeAnchorsAdded: 0, negativeAnchors: 1 });

  const after = [];
  for (const s of stuart) after.push({ ...s, after: await probe('stuart', s.n) });
  t.same(after.filter((s) => s.after.identity === 'howard').map((s) => s.n), [], "none of Stuart's photos matches Howard any more");
  t.ok(after.filter((s) => s.n !== wrong.n && s.identity === 'howard').length >= 1, "including Stuart's other photos that matched before (not only the anchored one)");
  const genuineAfter = await Promise.all(PEOPLE.map((p) => probe(p, 5)));
  t.same(genuineAfter.map((g) => g.identity), genuineBefore.map((g) => g.identity), 'every held-out photo matches as before (Howard included)');
  t.equal(genuineAfter[PEOPLE.indexOf('howard')].identity, 'howard');
});

t.test('refusals: no such event, not a recognition', async (t) => {
  t.equal((await post('/v1/events/999999/not-this-person', OPERATOR)).status, 404);
  t.equal((await post('/v1/events/abc/not-this-person', OPERATOR)).status, 400);
  const unknown = rig.bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't2', data: { masked: false } });
  t.equal((await post(`/v1/events/${unknown.id}/not-this-person`, OPERATOR)).status, 409);
  const noSnapshot = rig.bus.publish({ type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', trackId: 't3', identityId: ids.get('amy')!, data: { name: 'amy', score: 0.5, masked: false } });
  const r = await post(`/v1/events/${noSnapshot.id}/not-this-person`, OPERATOR);
  t.equal(r.status, 409);
  t.match(((await r.json()) as { error: string }).error, /no face snapshot/);
});

t.test('the anchors are sealed at rest and erased with the identity', async (t) => {
  const howard = ids.get('howard')!;
  const db = new Database(join(rig.dir, 'gallery.sqlite'), { readonly: true });
  const row = db.prepare('SELECT dim, length(embedding) AS n FROM negative_anchors WHERE identity_id = ?').get(howard) as { dim: number; n: number };
  t.equal(row.n, row.dim * 4 + 33, 'an envelope, not the floats');
  rig.gallery.remove(howard);
  t.equal((db.prepare('SELECT count(*) AS n FROM negative_anchors').get() as { n: number }).n, 0);
  db.close();
});
