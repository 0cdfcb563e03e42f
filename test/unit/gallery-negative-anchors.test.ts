import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { DEFAULT_NEGATIVE_MARGIN, negativeAnchorVerdict, openGallery, type Gallery } from '../../src/gallery/index.ts';
import { NegativeAnchorPool } from '../../src/gallery/negative-anchors.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { l2normalize } from '../../src/lib/vectors.ts';
import { newKek } from '../../src/privacy/index.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';

const rand = mulberry32(11);
const v = () => randomUnit(64, rand);
/** A unit vector at roughly cosine `c` to `base` (mixed with a random direction). */
const near = (base: Float32Array, c: number): Float32Array => {
  const r = v();
  const s = Math.sqrt(1 - c * c);
  return l2normalize(base.map((x, i) => c * x + s * r[i]));
};
const MODEL = 'test-model';

t.test('negativeAnchorVerdict: the threshold and the lead over the anchors both decide', async (t) => {
  t.match(negativeAnchorVerdict(0.6, 0.2, 0.3, 0.05), { matches: true });
  t.match(negativeAnchorVerdict(0.6, 0.58, 0.3, 0.05), { matches: false });
  t.match(negativeAnchorVerdict(0.6, -Infinity, 0.3, 0.05), { matches: true, lead: Infinity }, 'no anchor: the threshold alone');
  t.match(negativeAnchorVerdict(0.25, -Infinity, 0.3, 0.05), { matches: false });
  t.match(negativeAnchorVerdict(0.75, 0.5, 0.3, 0.25), { matches: true }, 'a lead exactly at the margin keeps the match');
});

t.test('NegativeAnchorPool.filter drops only the identities the probe does not lead', async (t) => {
  const pool = new NegativeAnchorPool();
  const a = v();
  pool.set('ada', [{ id: 'n1', modelId: MODEL, embedding: a }]);
  const matches = [
    { identityId: 'ada', score: 0.5 },
    { identityId: 'bob', score: 0.4 },
  ];
  t.same(pool.filter(matches, a, MODEL, 0.05).map((m) => m.identityId), ['bob'], 'the probe is its own anchor: ada dropped');
  t.same(pool.filter(matches, a, 'other-model', 0.05).map((m) => m.identityId), ['ada', 'bob'], 'anchors of another model do not apply');
  pool.drop('ada');
  t.same(pool.filter(matches, a, MODEL, 0.05).length, 2);
});

t.test('gallery: an anchor removes the impostor, keeps the person, follows the identity', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const ada = v();
  const impostor = near(ada, 0.55);
  const impostorAgain = near(impostor, 0.8);
  let g: Gallery = openGallery(path);
  const id = g.enroll({ name: 'Ada', templates: [template(ada, { modelId: MODEL })] }).id;
  g.enroll({ name: 'Bob', templates: [template(v(), { modelId: MODEL })] }).id;
  t.equal(g.search(impostorAgain, { modelId: MODEL, k: 1 })[0]?.identityId, id, 'before: the impostor matches Ada');
  const stored = g.addNegativeAnchors(id, [{ embedding: impostor, modelId: MODEL, source: 'event:7' }]);
  t.match(stored, [{ identityId: id, modelId: MODEL, dim: 64, source: 'event:7' }]);
  t.notOk(g.search(impostorAgain, { modelId: MODEL, k: 2 }).some((m) => m.identityId === id), 'after: the impostor no longer matches Ada');
  t.equal(g.search(near(ada, 0.9), { modelId: MODEL, k: 1 })[0]?.identityId, id, 'Ada herself still does');
  t.equal(g.search(impostorAgain, { modelId: MODEL, k: 1 }).length, 1, 'k is still filled (Bob moves up)');

  // Another connection (the CLI while the service runs) sees it through the change log.
  const other = openGallery(path);
  t.same(other.listNegativeAnchors(id).length, 1);
  t.notOk(other.search(impostorAgain, { modelId: MODEL, k: 2 }).some((m) => m.identityId === id));
  g.addNegativeAnchors(id, [{ embedding: near(impostor, 0.9), modelId: MODEL }]);
  t.equal(other.search(near(ada, 0.9), { modelId: MODEL, k: 1 })[0]?.identityId, id, 'the other connection caught up');
  other.close();

  // Reopen: loaded from the file.
  g.close();
  g = openGallery(path);
  t.equal(g.listNegativeAnchors(id).length, 2);
  t.notOk(g.search(impostorAgain, { modelId: MODEL, k: 2 }).some((m) => m.identityId === id));

  // A wrong size, an unknown identity.
  t.throws(() => g.addNegativeAnchors(id, [{ embedding: randomUnit(32, rand), modelId: MODEL }]), { code: 'GALLERY_DIM_MISMATCH' });
  t.throws(() => g.addNegativeAnchors('id_nobody', [{ embedding: v(), modelId: MODEL }]), { code: 'GALLERY_NOT_FOUND' });

  // Removed with the identity.
  g.remove(id);
  g.close();
  const db = new Database(path, { readonly: true });
  t.equal((db.prepare('SELECT count(*) AS n FROM negative_anchors').get() as { n: number }).n, 0, 'no anchor left after the identity is removed');
  db.close();
});

t.test('the margin is an option of the gallery', async (t) => {
  const dir = t.testdir();
  const ada = v();
  const probe = near(ada, 0.6);
  const anchor = near(probe, 0.9);
  // probe . ada ~ 0.6, probe . anchor ~ 0.9: the anchor leads; with a margin of -1 the anchor can never win.
  const g = openGallery(join(dir, 'g.sqlite'), { negativeMargin: -1 });
  const id = g.enroll({ name: 'Ada', templates: [template(ada, { modelId: MODEL })] }).id;
  g.addNegativeAnchors(id, [{ embedding: anchor, modelId: MODEL }]);
  t.equal(g.search(probe, { modelId: MODEL, k: 1 })[0]?.identityId, id);
  g.close();
  t.ok(DEFAULT_NEGATIVE_MARGIN > 0);
});

t.test('encrypted gallery: anchors are sealed on disk, readable with the key', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const kek = newKek();
  const anchor = v();
  const g = openGallery(path, { encryption: { kek, source: 'test key' } });
  const id = g.enroll({ name: 'Ada', templates: [template(v(), { modelId: MODEL })] }).id;
  g.addNegativeAnchors(id, [{ embedding: anchor, modelId: MODEL }]);
  g.close();
  const raw = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
  t.equal(raw.indexOf(Buffer.from(anchor.buffer, anchor.byteOffset, anchor.byteLength)), -1, 'no plaintext anchor in the files');
  const db = new Database(path, { readonly: true });
  t.equal((db.prepare('SELECT length(embedding) AS n FROM negative_anchors').get() as { n: number }).n, 64 * 4 + 33, 'an envelope');
  db.close();
  const again = openGallery(path, { encryption: { kek, source: 'test key' } });
  t.equal(again.listNegativeAnchors(id).length, 1);
  again.close();
});
