import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { strandedNotice } from '../../src/app/models.ts';
import { exportSubject } from '../../src/app/subject-export.ts';
import { dropCropsLine, reenrollWarning } from '../../src/cli/gallery.ts';
import { privacySchema } from '../../src/config/privacy-schema.ts';
import { EventLog, SnapshotStore } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { newKek } from '../../src/privacy/index.ts';
import { randomUnit, SHA_A, template } from '../helpers/gallery-data.ts';

const SHA_B = 'b'.repeat(64);

const rand = mulberry32(22);
const v128 = () => randomUnit(128, rand);
// A crop whose pixels are distinctive enough to be searched for in the file's bytes.
const crop = (fill: number, sha = SHA_A) => ({ image: { data: new Uint8Array(112 * 112 * 3).map((_, i) => (i * 13 + fill) % 251), width: 112, height: 112 }, sourcePhotoSha256: sha, quality: 0.7, masks: [] });
const pixelsOf = (c: ReturnType<typeof crop>) => Buffer.from(c.image.data.subarray(0, 4096));

/** Every file of a folder (db, -wal, -shm) concatenated. */
function onDisk(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

t.test('privacy.keepEnrollmentCrops: true by default, false accepted', async (t) => {
  t.equal(privacySchema.parse({}).keepEnrollmentCrops, true);
  t.equal(privacySchema.parse({ keepEnrollmentCrops: false }).keepEnrollmentCrops, false);
  t.throws(() => privacySchema.parse({ keepEnrollmentCrops: 'no' }));
});

t.test('template-only gallery: enroll and addTemplates keep the templates, never the crops (none on disk)', async (t) => {
  for (const encrypted of [false, true]) {
    const dir = t.testdir();
    const path = join(dir, 'g.sqlite');
    const kek = newKek();
    const opts = { keepCrops: false, ...(encrypted ? { encryption: { kek, source: 'test' } } : {}) };
    const g = openGallery(path, opts);
    const ada = v128();
    const c1 = crop(1);
    const c2 = crop(2, SHA_B);
    const id = g.enroll({ name: 'Ada', templates: [template(ada)], crops: [c1] }).id;
    g.addTemplates(id, [template(v128(), { sourcePhotoSha256: SHA_B })], [c2]);
    const [many] = g.enrollMany([{ name: 'Bob', templates: [template(v128())], crops: [crop(3)] }]);
    t.equal(g.listTemplates(id).length, 2, `${encrypted ? 'encrypted' : 'plain'}: both templates stored`);
    t.same(g.listCrops(), [], 'no crop stored');
    t.equal(g.cropCoverage().identitiesWithoutCrops.length, 2);
    t.equal(g.search(ada, { modelId: 'test_128d', k: 1 })[0].identityId, id, 'recognition unchanged');
    t.ok(many.id);
    g.checkpointTruncate();
    g.close();
    const disk = onDisk(dir);
    t.notOk(disk.includes(pixelsOf(c1)) || disk.includes(pixelsOf(c2)), 'no crop pixels in the files');
  }
});

t.test('turning it off keeps existing crops; dropCrops removes them (and their bytes), templates stay', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'g.sqlite');
  const c = crop(5);
  let g: Gallery = openGallery(path);
  const ada = v128();
  const id = g.enroll({ name: 'Ada', templates: [template(ada)], crops: [c] }).id;
  g.enroll({ name: 'Bob', templates: [template(v128())], crops: [crop(6)] });
  g.close();

  g = openGallery(path, { keepCrops: false });
  t.teardown(() => g.close());
  t.equal(g.listCrops().length, 2, 'the setting deletes nothing by itself');
  t.same(g.cropCounts(), { crops: 2, identities: 2 });
  t.same(g.dropCrops(), { crops: 2, identities: 2 });
  t.same(g.listCrops(), []);
  t.equal(g.listTemplates(id).length, 1);
  t.equal(g.search(ada, { modelId: 'test_128d', k: 1 })[0].identityId, id);
  t.same(g.dropCrops(), { crops: 0, identities: 0 }, 'idempotent');
  t.same(g.cropCounts(), { crops: 0, identities: 0 });
  t.equal(g.checkpointTruncate().busy, false);
  t.notOk(onDisk(dir).includes(pixelsOf(c)), 'secure_delete + WAL truncate: the pixels are gone from the files');
  // A change of embedder now finds nobody it could re-embed.
  t.same(g.strandedFor('other_model').map((s) => s.name), ['Ada', 'Bob']);
});

t.test('messages where the embedder changes name how many need re-enrollment', async (t) => {
  t.equal(reenrollWarning('m2', []), undefined);
  const w = reenrollWarning('m2', [{ name: 'Ada' }, { name: 'Bob' }]) ?? '';
  t.match(w, /^2 identities need re-enrollment/);
  t.match(w, /privacy\.keepEnrollmentCrops: false/);
  t.match(w, /Ada, Bob$/);
  t.match(reenrollWarning('m2', [{ name: 'Ada' }]) ?? '', /^1 identity needs re-enrollment/);
  t.equal(strandedNotice('m2', 0, 5), undefined);
  t.equal(strandedNotice('m2', 3, 5), undefined, 'some can still be recognised: the warning names the others');
  t.equal(strandedNotice('m2', 0, 0), undefined, 'an empty gallery is not an error');
  t.match(strandedNotice('m2', 5, 5) ?? '', /all 5 need re-enrollment; until then nobody is recognised/);
  t.equal(dropCropsLine({ crops: 0, identities: 0 }, true), 'no enrollment crops stored: nothing to drop');
  t.match(dropCropsLine({ crops: 3, identities: 1 }, true), /^dropped 3 enrollment crop\(s\) of 1 identity; templates kept/);
  t.match(dropCropsLine({ crops: 3, identities: 2 }, false), /WAL still holds/);
});

t.test('subject-access export of a person without crops: says so, no crash', async (t) => {
  const dir = t.testdir();
  const gallery = openGallery(join(dir, 'g.sqlite'), { keepCrops: false });
  const eventLog = new EventLog(join(dir, 'events.sqlite'));
  t.teardown(() => (eventLog.close(), gallery.close()));
  const snapshots = new SnapshotStore(join(dir, 'snaps'), { retentionMs: 86_400_000, maxFiles: 100 });
  const id = gallery.enroll({ name: 'Ada', templates: [template(v128())], crops: [crop(7)] }).id;
  const out = await exportSubject({ gallery, eventLog, snapshots }, id);
  t.equal(out.counts.crops, 0);
  t.equal(out.counts.templates, 1);
  const text = out.zip.toString('latin1');
  t.notOk(text.includes('crops/'), 'no crop entry');
  t.match(text, /"cropsNote": "no enrollment photo of this person is stored \(template-only mode\)/);
});

t.test('keepCrops as a function is read at each enrollment (a config reload applies at once)', async (t) => {
  let keep = true;
  const g = openGallery(join(t.testdir(), 'g.sqlite'), { keepCrops: () => keep });
  t.teardown(() => g.close());
  const a = g.enroll({ name: 'Ada', templates: [template(v128())], crops: [crop(8)] }).id;
  keep = false;
  const b = g.enroll({ name: 'Bob', templates: [template(v128())], crops: [crop(9)] }).id;
  g.addTemplates(a, [template(v128(), { sourcePhotoSha256: SHA_B })], [crop(10, SHA_B)]);
  t.equal(g.listCrops(a).length, 1, 'kept while on; none added once off');
  t.equal(g.listCrops(b).length, 0);
});
