import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { addWraps, dropOtherWraps, openGallery, reencryptRows, withGalleryDb, type Gallery, type GalleryEncryption } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { isPrivacyError, newKek } from '../../src/privacy/index.ts';
import { randomUnit, SHA_A, template } from '../helpers/gallery-data.ts';

const rand = mulberry32(7);
const v128 = () => randomUnit(128, rand);
const enc = (kek: Buffer): GalleryEncryption => ({ kek, source: 'test key' });
const bytesOf = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const crop = (fill: number) => ({ image: { data: new Uint8Array(112 * 112 * 3).map((_, i) => (i * 7 + fill) % 251), width: 112, height: 112 }, sourcePhotoSha256: SHA_A, quality: 0.7, masks: [] });

/** Every file of the gallery (db, -wal, -shm) concatenated. */
function onDisk(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isPrivacyError(e) || (e as { code?: string }).code ? String((e as { code: string }).code) : String(e);
  }
  return 'no error';
}

t.test('encrypted gallery: round trip across reopen; no plaintext template, centroid or crop on disk', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const kek = newKek();
  const ada = v128();
  const unk = v128();
  const c = crop(3);
  let g: Gallery = openGallery(path, { encryption: enc(kek) });
  t.ok(g.encrypted);
  const id = g.enroll({ name: 'Ada', templates: [template(ada)], crops: [c] }).id;
  g.enroll({ name: 'Bob', templates: [template(v128())] });
  g.upsertUnknown(unk, 'test_128d', 1000, 0.5);
  g.close();
  const disk = onDisk(dir);
  t.notOk(disk.includes(bytesOf(ada)), 'template bytes not on disk');
  t.notOk(disk.includes(bytesOf(unk)), 'centroid bytes not on disk');
  t.notOk(disk.includes(Buffer.from(c.image.data.subarray(0, 4096))), 'crop pixels not on disk');
  t.ok(disk.includes(Buffer.from('Ada')), 'names are not biometric data: stored in the clear');

  g = openGallery(path, { encryption: enc(kek) });
  t.teardown(() => g.close());
  const hit = g.search(ada, { modelId: 'test_128d', k: 1 })[0];
  t.equal(hit.identityId, id);
  t.ok(hit.score > 0.999);
  const tplId = g.listTemplates(id)[0].id;
  t.same(bytesOf(g.templateEmbedding(tplId)), bytesOf(ada));
  t.same(Buffer.from(g.cropImage(g.listCrops(id)[0].id).data), Buffer.from(c.image.data));
  t.same(bytesOf(g.listUnknowns()[0].centroid), bytesOf(unk));
});

t.test('a wrong key, no key, or a file opened without encryption: refused, never an empty gallery', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const kek = newKek();
  openGallery(path, { encryption: enc(kek) }).enroll({ name: 'Ada', templates: [template(v128())] });
  t.equal(codeOf(() => openGallery(path, { encryption: enc(newKek()) })), 'PRIVACY_WRONG_KEY');
  t.equal(codeOf(() => openGallery(path)), 'PRIVACY_MISSING_KEY');
  const again = openGallery(path, { encryption: enc(kek) });
  t.equal(again.stats().identities, 1);
  again.close();
});

t.test('blobs swapped between rows are caught at open', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const kek = newKek();
  const g = openGallery(path, { encryption: enc(kek) });
  g.enroll({ name: 'Ada', templates: [template(v128())] });
  g.enroll({ name: 'Bob', templates: [template(v128())] });
  g.close();
  const db = new Database(path);
  const rows = db.prepare<[], { id: string; embedding: Buffer }>('SELECT id, embedding FROM templates ORDER BY id').all();
  db.prepare('UPDATE templates SET embedding = ? WHERE id = ?').run(rows[1].embedding, rows[0].id);
  db.close();
  t.equal(codeOf(() => openGallery(path, { encryption: enc(kek) })), 'PRIVACY_CORRUPT');
});

t.test('a plaintext gallery is encrypted in place at first open with a key; nothing of it lingers', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const vecs = Array.from({ length: 50 }, v128);
  const c = crop(9);
  const plain = openGallery(path);
  const ids = vecs.map((v, i) => plain.enroll({ name: `P${i}`, templates: [template(v)], ...(i === 0 ? { crops: [c] } : {}) }).id);
  plain.upsertUnknown(vecs[3], 'test_128d', 5, 0.99);
  plain.close();
  t.ok(onDisk(dir).includes(bytesOf(vecs[7])), 'the plaintext gallery holds the raw template');
  const kek = newKek();
  const g = openGallery(path, { encryption: enc(kek) });
  t.ok(g.encrypted);
  vecs.forEach((v, i) => t.equal(g.search(v, { modelId: 'test_128d', k: 1 })[0].identityId, ids[i]));
  g.close();
  const disk = onDisk(dir);
  t.notOk(vecs.some((v) => disk.includes(bytesOf(v))), 'no template left in the file, the WAL or free pages');
  t.notOk(disk.includes(Buffer.from(c.image.data.subarray(0, 4096))), 'no crop left');
  t.equal(codeOf(() => openGallery(path)), 'PRIVACY_MISSING_KEY', 'from now on the key is needed');
});

t.test('rotation steps: both KEKs open the file mid-rotation; re-encryption retires the old data key', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const oldKek = newKek();
  const newKekBytes = newKek();
  const vecs = Array.from({ length: 30 }, v128);
  const g0 = openGallery(path, { encryption: enc(oldKek) });
  const ids = vecs.map((v, i) => g0.enroll({ name: `P${i}`, templates: [template(v)] }).id);
  g0.close();
  const step1 = withGalleryDb(path, { encryption: enc(oldKek) }, (db) => addWraps(db, path, oldKek, newKekBytes, { newDataKey: true, now: 1 }));
  t.same(step1, { keyIds: [1, 2], active: 2 });
  for (const k of [oldKek, newKekBytes]) {
    const g = openGallery(path, { encryption: enc(k) });
    t.equal(g.search(vecs[5], { modelId: 'test_128d', k: 1 })[0].identityId, ids[5], 'opens mid-rotation');
    g.close();
  }
  // Re-encrypt in batches of 7, stopping after the first batch as a kill would.
  let batches = 0;
  t.throws(() =>
    withGalleryDb(path, { encryption: enc(newKekBytes) }, (db) =>
      reencryptRows(db, path, newKekBytes, {
        batch: 7,
        onBatch: () => {
          if (++batches === 1) throw new Error('killed');
        },
      }),
    ),
  );
  const mixed = openGallery(path, { encryption: enc(newKekBytes) });
  vecs.forEach((v, i) => t.equal(mixed.search(v, { modelId: 'test_128d', k: 1 })[0].identityId, ids[i]));
  mixed.close();
  const done = withGalleryDb(path, { encryption: enc(newKekBytes) }, (db) => reencryptRows(db, path, newKekBytes, { batch: 7 }));
  t.equal(done.rows, 23, 'the 7 of the first batch are not done again');
  t.same(done.retired, [1]);
  withGalleryDb(path, { encryption: enc(newKekBytes) }, (db) => dropOtherWraps(db, newKekBytes));
  t.equal(codeOf(() => openGallery(path, { encryption: enc(oldKek) })), 'PRIVACY_WRONG_KEY', 'the old KEK is retired');
  const g = openGallery(path, { encryption: enc(newKekBytes) });
  t.teardown(() => g.close());
  vecs.forEach((v, i) => t.equal(g.search(v, { modelId: 'test_128d', k: 1 })[0].identityId, ids[i]));
});

t.test('a connection opened before a re-encryption follows it (reloads the keyring) and never writes under a retired key', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const kek = newKek();
  const service = openGallery(path, { encryption: enc(kek) });
  t.teardown(() => service.close());
  const a = v128();
  service.enroll({ name: 'A', templates: [template(a)] });
  withGalleryDb(path, { encryption: enc(kek) }, (db) => {
    addWraps(db, path, kek, kek, { newDataKey: true, now: 2 });
    reencryptRows(db, path, kek, { batch: 100 });
  });
  const b = v128();
  const bob = service.enroll({ name: 'B', templates: [template(b)] });
  const other = openGallery(path, { encryption: enc(kek) });
  t.teardown(() => other.close());
  t.equal(other.search(b, { modelId: 'test_128d', k: 1 })[0].identityId, bob.id, 'written under the new key, readable by a fresh connection');
  t.equal(other.search(a, { modelId: 'test_128d', k: 1 })[0].name, 'A');
});
