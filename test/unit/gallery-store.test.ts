import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { openGallery, isGalleryError, SCHEMA_VERSION, type Gallery, type GalleryErrorCode, type TemplateInput } from '../../src/gallery/index.ts';
import type { GallerySearch } from '../../src/recognize/index.ts';
import { cosine, near, randomUnit, SHA_A, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(t: Test, path = ':memory:', opts: Parameters<typeof openGallery>[1] = {}): Gallery {
  const g = openGallery(path, opts);
  t.teardown(() => g.close());
  return g;
}

/** The GalleryError code `fn` throws (or a marker when it throws something else / nothing). */
function codeOf(fn: () => unknown): GalleryErrorCode | string {
  try {
    fn();
  } catch (e) {
    return isGalleryError(e) ? e.code : `not a GalleryError: ${String(e)}`;
  }
  return 'no error';
}


const rand = mulberry32(2024);
const v128 = () => randomUnit(128, rand);

t.test('enroll, get, list, find, rename, groups, metadata, remove', async (t) => {
  let clock = 1_000;
  const g = open(t, ':memory:', { now: () => clock });
  const ada = g.enroll({
    name: '  Ada Lovelace ',
    groups: ['staff', 'night', 'staff'],
    metadata: { employeeId: 'E1', badges: [1, 2], nested: { ok: true, none: null } },
    templates: [template(v128()), template(v128(), { masked: true }), template(v128(), { masked: true })],
  });
  t.match(ada.id, /^id_[0-9a-f]{16}$/);
  t.equal(ada.name, 'Ada Lovelace', 'trimmed');
  t.same(ada.groups, ['staff', 'night'], 'deduplicated, order kept');
  t.same(ada.metadata, { employeeId: 'E1', badges: [1, 2], nested: { ok: true, none: null } });
  t.same(ada.templateCounts, [
    { modelId: 'test_128d', masked: false, count: 1 },
    { modelId: 'test_128d', masked: true, count: 2 },
  ]);
  t.equal(ada.templateTotal, 3);
  t.equal(ada.createdAt, 1_000);

  clock = 2_000;
  const bob = g.enroll({ name: 'Bob', templates: [template(v128())] });
  t.same(bob.groups, []);
  t.same(bob.metadata, {});
  t.same(g.listIdentities().map((i) => i.name), ['Ada Lovelace', 'Bob'], 'sorted by name');
  t.same(g.findByName('Bob').map((i) => i.id), [bob.id]);
  t.same(g.findByName(' Ada Lovelace').map((i) => i.id), [ada.id]);
  t.same(g.findByName('nobody'), []);
  t.same(g.getIdentity(ada.id), ada);
  t.equal(g.getIdentity('id_nope'), undefined);

  clock = 3_000;
  const renamed = g.rename(ada.id, 'Ada King');
  t.equal(renamed.name, 'Ada King');
  t.equal(renamed.updatedAt, 3_000);
  t.equal(renamed.createdAt, 1_000);
  t.same(g.setGroups(ada.id, ['board']).groups, ['board']);
  t.same(g.setMetadata(ada.id, { floor: 3 }).metadata, { floor: 3 });
  const hit = g.search(g.templateEmbedding(g.listTemplates(ada.id)[0].id), { modelId: 'test_128d', k: 1 });
  t.equal(hit[0].name, 'Ada King', 'search sees the new name');
  t.same(hit[0].groups, ['board'], 'and the new groups');

  const tpls = g.listTemplates(ada.id);
  t.equal(tpls.length, 3);
  t.same(tpls.map((x) => x.masked), [false, true, true]);
  t.equal(tpls[0].sourcePhotoSha256, SHA_A);
  t.equal(tpls[0].dim, 128);
  t.equal(tpls[0].quality, 0.8);

  const more = g.addTemplates(bob.id, [template(v128()), template(randomUnit(512, rand), { modelId: 'other_512d' })]);
  t.same(more.templateCounts, [
    { modelId: 'other_512d', masked: false, count: 1 },
    { modelId: 'test_128d', masked: false, count: 2 },
  ]);

  g.removeTemplate(tpls[2].id);
  t.equal(g.requireIdentity(ada.id).templateTotal, 2);
  g.remove(ada.id);
  t.equal(g.getIdentity(ada.id), undefined);
  t.same(g.listIdentities().map((i) => i.name), ['Bob']);
  t.same(g.stats().identities, 1);
  t.equal(g.stats().templates, 3, 'cascade removed Ada\'s templates');
});

t.test('embeddings are stored L2-normalised, direction kept', async (t) => {
  const g = open(t);
  const raw = Float32Array.from({ length: 128 }, (_, i) => (i % 7) - 3);
  const scaled = raw.map((x) => x * 37);
  const id = g.enroll({ name: 'n', templates: [template(scaled)] }).id;
  const stored = g.templateEmbedding(g.listTemplates(id)[0].id);
  const norm = Math.sqrt(stored.reduce((s, x) => s + x * x, 0));
  t.ok(Math.abs(norm - 1) < 1e-6, `unit length (${norm})`);
  t.ok(cosine(stored, raw) > 0.999999);
  t.ok(Math.abs(g.search(raw, { modelId: 'test_128d', k: 1 })[0].score - 1) < 1e-5, 'unnormalised probe is normalised too');
});

t.test('every bad input is a clear typed error, and nothing is written', async (t) => {
  const g = open(t);
  const good = [template(v128())];
  const bad = (name: string, templates: TemplateInput[] = good, extra: object = {}) => codeOf(() => g.enroll({ name, templates, ...extra }));
  t.equal(bad(''), 'GALLERY_INVALID_NAME');
  t.equal(bad('   '), 'GALLERY_INVALID_NAME');
  t.equal(bad('x'.repeat(201)), 'GALLERY_INVALID_NAME');
  t.equal(bad('a\nb'), 'GALLERY_INVALID_NAME');
  t.equal(bad(42 as unknown as string), 'GALLERY_INVALID_NAME');
  t.equal(bad('x'.repeat(200)), 'no error', '200 characters is fine');
  t.equal(bad('ok', good, { groups: 'staff' }), 'GALLERY_INVALID_GROUPS');
  t.equal(bad('ok', good, { groups: [''] }), 'GALLERY_INVALID_GROUPS');
  t.equal(bad('ok', good, { groups: [7] }), 'GALLERY_INVALID_GROUPS');
  t.equal(bad('ok', good, { metadata: [1] }), 'GALLERY_INVALID_METADATA');
  t.equal(bad('ok', good, { metadata: { when: new Date() } }), 'GALLERY_INVALID_METADATA');
  t.equal(bad('ok', good, { metadata: { n: Number.NaN } }), 'GALLERY_INVALID_METADATA');
  t.equal(bad('ok', []), 'GALLERY_NO_TEMPLATES');
  t.equal(bad('ok', [{ ...good[0], embedding: [1, 2, 3] as unknown as Float32Array }]), 'GALLERY_INVALID_EMBEDDING');
  t.equal(bad('ok', [template(Float32Array.of(1, Number.NaN))]), 'GALLERY_INVALID_EMBEDDING');
  t.equal(bad('ok', [template(Float32Array.of(Number.POSITIVE_INFINITY, 1))]), 'GALLERY_INVALID_EMBEDDING');
  t.equal(bad('ok', [template(new Float32Array(128))]), 'GALLERY_INVALID_EMBEDDING');
  t.equal(bad('ok', [template(new Float32Array(0))]), 'GALLERY_INVALID_EMBEDDING');
  t.equal(bad('ok', [template(v128(), { modelId: '' })]), 'GALLERY_INVALID_TEMPLATE');
  t.equal(bad('ok', [template(v128(), { sourcePhotoSha256: 'abc' })]), 'GALLERY_INVALID_TEMPLATE');
  t.equal(bad('ok', [template(v128(), { quality: Number.NaN })]), 'GALLERY_INVALID_TEMPLATE');
  t.equal(bad('ok', [template(v128(), { quality: -1 })]), 'GALLERY_INVALID_TEMPLATE');
  t.equal(bad('ok', [{ ...good[0], masked: 'yes' as unknown as boolean }]), 'GALLERY_INVALID_TEMPLATE');
  t.equal(bad('ok', [template(v128()), template(randomUnit(64, rand))]), 'GALLERY_DIM_MISMATCH', 'two dims for one model in one batch');
  const before = g.stats();
  t.equal(bad('late', [template(randomUnit(64, rand))]), 'GALLERY_DIM_MISMATCH', 'dim differs from the stored templates of the model');
  t.same(g.stats(), before, 'no failed enrollment left anything behind');
  t.same(g.findByName('late'), []);
  try {
    g.enroll({ name: 'late', templates: [template(randomUnit(64, rand))] });
  } catch (e) {
    t.match(String((e as Error).message), /64-d embedding, but model "test_128d" makes 128-d/);
    t.match(isGalleryError(e) ? e.describe() : '', /fix: a model id must always name the same embedder/);
  }
  t.equal(bad('ok', [template(randomUnit(64, rand), { modelId: 'small_64d' })]), 'no error', 'another model id may have another dim');

  const id = g.listIdentities()[0].id;
  t.equal(codeOf(() => g.rename('id_missing', 'x')), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.rename(id, '')), 'GALLERY_INVALID_NAME');
  t.equal(codeOf(() => g.remove('id_missing')), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.setGroups('id_missing', [])), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.addTemplates('id_missing', good)), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.removeTemplate('tpl_missing')), 'GALLERY_TEMPLATE_NOT_FOUND');
  t.equal(codeOf(() => g.requireIdentity('id_missing')), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.search(v128(), { modelId: 'test_128d', k: 0 })), 'GALLERY_BAD_ARGUMENT');
  t.equal(codeOf(() => g.search(v128(), { modelId: 'test_128d', k: 2.5 })), 'GALLERY_BAD_ARGUMENT');
  t.equal(codeOf(() => g.search(v128(), { modelId: 'test_128d', masked: 'masked' as 'plain' })), 'GALLERY_BAD_ARGUMENT');
  t.equal(codeOf(() => g.search(randomUnit(64, rand), { modelId: 'test_128d' })), 'GALLERY_DIM_MISMATCH');
  t.equal(codeOf(() => g.search(new Float32Array(128), { modelId: 'test_128d' })), 'GALLERY_INVALID_EMBEDDING');
  t.equal(codeOf(() => g.upsertUnknown(v128(), 'test_128d', Number.NaN, 0.5)), 'GALLERY_BAD_ARGUMENT');
  t.equal(codeOf(() => g.upsertUnknown(v128(), 'test_128d', 0, 1.5)), 'GALLERY_BAD_ARGUMENT');
  t.equal(codeOf(() => g.upsertUnknown(randomUnit(64, rand), 'test_128d', 0, 0.5)), 'GALLERY_DIM_MISMATCH');
  t.equal(codeOf(() => g.promoteUnknown('unk_9', 'x')), 'GALLERY_UNKNOWN_NOT_FOUND');
  g.close();
  t.equal(codeOf(() => g.listIdentities()), 'GALLERY_CLOSED');
  t.equal(codeOf(() => g.search(v128(), { modelId: 'test_128d' })), 'GALLERY_CLOSED');
});

t.test('a failure inside the transaction rolls back the database and leaves memory untouched', async (t) => {
  let failNext = false;
  const g = open(t, ':memory:', {
    beforeCommit: () => {
      if (failNext) throw new Error('power cut simulation');
    },
  });
  const keep = g.enroll({ name: 'keep', templates: [template(v128())] });
  const probe = v128();
  failNext = true;
  t.throws(() => g.enroll({ name: 'lost', templates: [template(probe), template(v128())] }), /power cut simulation/);
  t.throws(() => g.remove(keep.id), /power cut simulation/);
  t.throws(() => g.rename(keep.id, 'renamed'), /power cut simulation/);
  failNext = false;
  t.same(g.listIdentities().map((i) => i.name), ['keep']);
  t.equal(g.stats().templates, 1);
  const hits = g.search(probe, { modelId: 'test_128d', k: 5 });
  t.same(hits.map((h) => h.name), ['keep'], 'the rolled-back identity is not searchable and the kept one still is');
});

t.test('file gallery: WAL, FULL sync, foreign keys, schema version; reopen keeps everything', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'gallery.db');
  const g = openGallery(path);
  t.equal(g.pragma('journal_mode'), 'wal');
  t.equal(g.pragma('synchronous'), 2, 'FULL');
  t.equal(g.pragma('foreign_keys'), 1);
  t.equal(g.pragma('user_version'), SCHEMA_VERSION);
  const people = Array.from({ length: 20 }, (_, i) =>
    g.enroll({ name: `p${i}`, groups: [`g${i % 3}`], metadata: { i }, templates: [template(v128()), template(v128(), { masked: true }), template(randomUnit(512, rand), { modelId: 'big_512d' })] }),
  );
  g.remove(people[3].id);
  g.rename(people[4].id, 'renamed');
  const u = g.upsertUnknown(v128(), 'test_128d', 5_000, 0.5);
  const probes = Array.from({ length: 10 }, () => v128());
  const before = probes.map((p) => g.search(p, { modelId: 'test_128d', k: 5, masked: 'plain+masked' }));
  const listed = g.listIdentities();
  const unknowns = g.listUnknowns();
  g.close();

  const again = open(t, path, { create: false });
  t.same(again.listIdentities(), listed);
  t.same(again.listUnknowns(), unknowns);
  t.equal(again.listUnknowns()[0].id, u.id);
  t.same(probes.map((p) => again.search(p, { modelId: 'test_128d', k: 5, masked: 'plain+masked' })), before, 'same search results from the rebuilt index');
  t.same(again.stats().indexes, [
    { modelId: 'big_512d', masked: false, dim: 512, rows: 19 },
    { modelId: 'test_128d', masked: false, dim: 128, rows: 19 },
    { modelId: 'test_128d', masked: true, dim: 128, rows: 19 },
  ]);
  const raw = new Database(path, { readonly: true });
  t.teardown(() => raw.close());
  t.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
  t.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'WAL is persistent in the file');
});

t.test('opening: missing file without create, newer schema, not a database', async (t) => {
  const dir = tempDir(t);
  t.equal(codeOf(() => openGallery(join(dir, 'missing.db'), { create: false })), 'GALLERY_OPEN_FAILED');
  const newer = join(dir, 'newer.db');
  const db = new Database(newer);
  db.pragma('user_version = 99');
  db.close();
  t.equal(codeOf(() => openGallery(newer)), 'GALLERY_SCHEMA_TOO_NEW');
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'this is not sqlite, just some text that is long enough to look like a header......'.repeat(20));
  t.equal(codeOf(() => openGallery(junk)), 'GALLERY_NOT_A_GALLERY');
});

t.test('model ids never mix; modelsNeedingReembed lists who a model change strands', async (t) => {
  const g = open(t);
  const shared = v128();
  const a = g.enroll({ name: 'A', templates: [template(shared, { modelId: 'old_128d' })] });
  const b = g.enroll({ name: 'B', templates: [template(randomUnit(512, rand), { modelId: 'new_512d' })] });
  const c = g.enroll({ name: 'C', templates: [template(v128(), { modelId: 'old_128d' }), template(randomUnit(512, rand), { modelId: 'new_512d' })] });
  // Same dim, different model: identical vectors must still never be compared.
  const d = g.enroll({ name: 'D', templates: [template(shared, { modelId: 'other_128d' })] });

  const old = g.search(shared, { modelId: 'old_128d', k: 10 });
  t.same(old.map((m) => m.name).sort(), ['A', 'C']);
  t.equal(old[0].identityId, a.id);
  t.ok(Math.abs(old[0].score - 1) < 1e-5);
  const other = g.search(shared, { modelId: 'other_128d', k: 10 });
  t.same(other.map((m) => m.identityId), [d.id], 'only other_128d templates');
  t.same(g.search(randomUnit(512, rand), { modelId: 'new_512d', k: 10 }).map((m) => m.name).sort(), ['B', 'C']);
  t.same(g.search(shared, { modelId: 'never_seen', k: 10 }), [], 'no templates of the model: no matches (not an error)');

  t.same(g.modelsNeedingReembed('new_512d'), [
    { identityId: a.id, name: 'A', modelIds: ['old_128d'] },
    { identityId: d.id, name: 'D', modelIds: ['other_128d'] },
  ]);
  t.same(g.modelsNeedingReembed('old_128d').map((r) => r.identityId), [b.id, d.id]);
  t.same(g.modelsNeedingReembed('brand_new').map((r) => r.name), ['A', 'B', 'C', 'D']);
  t.same(g.modelsNeedingReembed('brand_new')[2].modelIds, ['new_512d', 'old_128d']);
  g.addTemplates(a.id, [template(randomUnit(512, rand), { modelId: 'new_512d' })]);
  t.same(g.modelsNeedingReembed('new_512d').map((r) => r.name), ['D'], 're-embedded A is no longer listed');
  t.ok(c);
});

t.test('masked routing: plain searches plain templates only; plain+masked adds masked ones', async (t) => {
  const g = open(t);
  const probe = v128();
  // X: plain template unrelated to the probe, masked template = the probe.
  const x = g.enroll({ name: 'X', templates: [template(v128()), template(probe, { masked: true })] });
  // Y: plain template moderately similar to the probe.
  const y = g.enroll({ name: 'Y', templates: [template(near(probe, 0.12, rand))] });
  // Z: masked templates only.
  const z = g.enroll({ name: 'Z', templates: [template(near(probe, 0.01, rand), { masked: true })] });

  const plain = g.search(probe, { modelId: 'test_128d', k: 5 });
  t.same(plain.map((m) => m.identityId), [y.id, x.id], 'Z has no plain template; X only by its plain one');
  t.ok(plain.every((m) => !m.masked));
  t.ok(plain[1].score < 0.4, `X's plain score is low (${plain[1].score.toFixed(3)})`);

  const both = g.search(probe, { modelId: 'test_128d', k: 5, masked: 'plain+masked' });
  t.same(both.map((m) => m.identityId), [x.id, z.id, y.id]);
  t.equal(both[0].masked, true);
  t.ok(Math.abs(both[0].score - 1) < 1e-5);
  t.equal(both[0].templateId, g.listTemplates(x.id)[1].id, 'the masked template gave the best score');
  t.equal(both.length, 3, 'one match per identity, not per template');
});

t.test('another process changing the file is seen by the next search', async (t) => {
  const path = join(tempDir(t), 'shared.db');
  const server = open(t, path);
  const cli = open(t, path);
  const probe = v128();
  t.same(server.search(probe, { modelId: 'test_128d' }), []);
  const added = cli.enroll({ name: 'added by the CLI', templates: [template(probe)] });
  t.same(server.search(probe, { modelId: 'test_128d' }).map((m) => m.name), ['added by the CLI']);
  cli.rename(added.id, 'renamed by the CLI');
  t.same(server.search(probe, { modelId: 'test_128d' }).map((m) => m.name), ['renamed by the CLI']);
  const mine = server.enroll({ name: 'server side', templates: [template(near(probe, 0.1, rand))] });
  cli.remove(added.id);
  t.same(server.search(probe, { modelId: 'test_128d' }).map((m) => m.identityId), [mine.id], 'removal seen; own enrollment kept');
  t.same(cli.search(probe, { modelId: 'test_128d' }).map((m) => m.identityId), [mine.id]);
  t.same(server.stats().sync, { fullLoads: 1, incrementalSyncs: 3 }, 'the server caught up from the change log, never reloading everything');
  t.same(cli.stats().sync, { fullLoads: 1, incrementalSyncs: 1 });

  // Unknowns and promotion made elsewhere are seen too.
  const stranger = v128();
  const sighting = cli.upsertUnknown(stranger, 'test_128d', 10, 0.6);
  t.equal(server.upsertUnknown(near(stranger, 0.02, rand), 'test_128d', 20, 0.6).id, sighting.id, 'the server joins the CLI\'s unknown');
  cli.promoteUnknown(sighting.id, 'named elsewhere');
  t.equal(server.search(stranger, { modelId: 'test_128d', k: 1 })[0].name, 'named elsewhere');
  t.same(server.listUnknowns(), []);
});

t.test('a reader too far behind the change log reloads in full, and ends up identical', async (t) => {
  const path = join(tempDir(t), 'behind.db');
  const reader = open(t, path);
  const writer = open(t, path);
  const probe = randomUnit(8, rand);
  const first = writer.enroll({ name: 'first', templates: [template(probe, { modelId: 'tiny_8d' })] });
  t.equal(reader.search(probe, { modelId: 'tiny_8d', k: 1 })[0].identityId, first.id);
  // 12,000 changes: more than the log keeps (10,000), so the reader cannot catch up entry by entry.
  for (let i = 0; i < 12; i++) writer.enrollMany(Array.from({ length: 1000 }, (_, j) => ({ name: `bulk ${i}-${j}`, templates: [template(randomUnit(8, rand), { modelId: 'tiny_8d' })] })));
  writer.rename(first.id, 'first, renamed');
  const hits = reader.search(probe, { modelId: 'tiny_8d', k: 3 });
  t.same(reader.stats().sync, { fullLoads: 2, incrementalSyncs: 1 });
  t.same(hits, writer.search(probe, { modelId: 'tiny_8d', k: 3 }));
  t.equal(hits[0].name, 'first, renamed');
  t.equal(reader.stats().indexes[0].rows, 12_001);
});

t.test('resolve: by id, exact name, case-insensitive name; ambiguous and missing names are errors', async (t) => {
  const g = open(t);
  const a1 = g.enroll({ name: 'Alice', templates: [template(v128())] });
  const a2 = g.enroll({ name: 'Alice', templates: [template(v128())] });
  const b = g.enroll({ name: 'Bob', templates: [template(v128())] });
  t.equal(g.resolve(a1.id).id, a1.id);
  t.equal(g.resolve('bob').id, b.id);
  t.equal(g.resolve(' Bob ').id, b.id);
  try {
    g.resolve('Alice');
    t.fail('should throw');
  } catch (e) {
    t.equal(isGalleryError(e) && e.code, 'GALLERY_AMBIGUOUS_NAME');
    t.match((e as Error).message, new RegExp(`2 identities are named "Alice": ${a1.id}, ${a2.id}`));
  }
  t.equal(codeOf(() => g.resolve('Carol')), 'GALLERY_NOT_FOUND');
  t.equal(codeOf(() => g.resolve('')), 'GALLERY_BAD_ARGUMENT');
});

t.test('unknowns: a recurring stranger keeps one id; promotion makes an identity; ids are never reused', async (t) => {
  const path = join(tempDir(t), 'unknowns.db');
  const g = openGallery(path);
  const strangerA = v128();
  const strangerB = v128();
  const s1 = g.upsertUnknown(near(strangerA, 0.03, rand), 'test_128d', 1_000, 0.6);
  const s2 = g.upsertUnknown(near(strangerA, 0.03, rand), 'test_128d', 2_000, 0.6);
  const s3 = g.upsertUnknown(near(strangerB, 0.03, rand), 'test_128d', 3_000, 0.6);
  const s4 = g.upsertUnknown(near(strangerA, 0.03, rand), 'test_128d', 500, 0.6);
  t.same([s1.id, s2.id, s3.id, s4.id], ['unk_1', 'unk_1', 'unk_2', 'unk_1']);
  t.same([s1.isNew, s2.isNew, s3.isNew, s4.isNew], [true, false, true, false]);
  t.equal(s4.count, 3);
  t.ok(s2.score > 0.6);
  t.equal(g.pragma('synchronous'), 2, 'back to FULL after the relaxed sighting write');
  // A different model never joins these unknowns, whatever the vector.
  const other = g.upsertUnknown(strangerA, 'other_128d', 4_000, 0.6);
  t.equal(other.id, 'unk_3');
  t.equal(other.isNew, true);

  const listed = g.listUnknowns({ modelId: 'test_128d' });
  t.same(listed.map((u) => [u.id, u.count, u.firstSeen, u.lastSeen]), [
    ['unk_1', 3, 500, 2_000],
    ['unk_2', 1, 3_000, 3_000],
  ]);
  t.ok(cosine(listed[0].centroid, strangerA) > 0.95, 'the centroid sits on the stranger (mean of 3 noisy sightings)');
  g.close();

  const g2 = open(t, path);
  t.equal(g2.upsertUnknown(near(strangerA, 0.03, rand), 'test_128d', 6_000, 0.6).id, 'unk_1', 'unknowns persist across restarts');
  const carol = g2.promoteUnknown('unk_1', 'Carol', { groups: ['visitors'] });
  t.equal(carol.name, 'Carol');
  t.same(carol.groups, ['visitors']);
  t.same(carol.templateCounts, [{ modelId: 'test_128d', masked: false, count: 1 }]);
  const tpl = g2.listTemplates(carol.id)[0];
  t.equal(tpl.sourcePhotoSha256, null);
  t.equal(tpl.quality, null);
  t.same(g2.listUnknowns().map((u) => u.id), ['unk_2', 'unk_3'], 'the promoted unknown is gone');
  const hit = g2.search(near(strangerA, 0.03, rand), { modelId: 'test_128d', k: 1 });
  t.equal(hit[0].identityId, carol.id, 'the named stranger is now recognised');
  t.ok(hit[0].score > 0.8);
  const fresh = g2.upsertUnknown(v128(), 'test_128d', 7_000, 0.6);
  t.equal(fresh.id, 'unk_4', 'unk_1 is never handed out again');
  t.equal(codeOf(() => g2.promoteUnknown('unk_1', 'again')), 'GALLERY_UNKNOWN_NOT_FOUND');
  t.equal(codeOf(() => g2.promoteUnknown('unk_2', '')), 'GALLERY_INVALID_NAME');
  t.equal(g2.pruneUnknowns(4_500), 2, 'unk_2 and unk_3 were last seen before 4500');
  t.same(g2.listUnknowns().map((u) => u.id), ['unk_4']);
  g2.removeUnknown('unk_4');
  t.same(g2.listUnknowns(), []);
});

t.test('enrollMany: one transaction for the batch, all or nothing, errors name the bad entry', async (t) => {
  const g = open(t);
  const batch = Array.from({ length: 50 }, (_, i) => ({ name: `b${i}`, templates: [template(v128()), template(v128(), { masked: i % 2 === 0 })] }));
  const made = g.enrollMany(batch);
  t.equal(made.length, 50);
  t.same(made.map((m) => g.getIdentity(m.id)), made, 'returned identities equal what the database holds');
  const before = g.stats();
  try {
    g.enrollMany([{ name: 'fine', templates: [template(v128())] }, { name: 'bad', templates: [template(v128(), { modelId: 'n_64d' })] }, { name: 'clash', templates: [template(randomUnit(32, rand), { modelId: 'n_64d' })] }]);
    t.fail('should throw');
  } catch (e) {
    t.equal(isGalleryError(e) && e.code, 'GALLERY_DIM_MISMATCH', 'dims must agree within the batch too');
    t.match((e as Error).message, /^enrollment 2: /);
    t.equal(isGalleryError(e) && e.context.index, 2);
  }
  t.same(g.stats(), before, 'nothing from the failed batch was written');
  t.same(g.findByName('fine'), []);
  t.same(g.enrollMany([]), []);
});

t.test('Gallery is what recognizeTracks needs (GallerySearch), with no adapter', async (t) => {
  const g = open(t);
  const probe = v128();
  g.enroll({ name: 'R', templates: [template(probe)] });
  const search: GallerySearch = g; // compile-time check of the structural fit
  t.equal(search.search(probe, { modelId: 'test_128d', k: 1, masked: 'plain' })[0].name, 'R');
  const u = search.upsertUnknown?.(v128(), 'test_128d', 1, 0.5);
  t.same(typeof u === 'object' ? u.id : u, 'unk_1');
});
