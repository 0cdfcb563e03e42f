import t, { type Test } from 'tap';
import { reembedSummaryLine, templatesPerModel } from '../../src/cli/gallery.ts';
import { paintableMasks } from '../../src/recognize/index.ts';
import { isGalleryError, openGallery, type FaceCropInput, type Gallery, type GalleryErrorCode, type StoredCrop, type TemplateInput } from '../../src/gallery/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** Crop storage and the re-embedding write, on synthetic embeddings (the real models are in gallery-reembed.test.ts). */

const rand = mulberry32(13);
const SHA1 = '1'.repeat(64);
const SHA2 = '2'.repeat(64);
const MASKS = [{ shape: 'surgical', colour: [160, 205, 230] as [number, number, number] }];

function crop(sha: string, fill = 7, side = 112): FaceCropInput {
  return { image: { data: new Uint8Array(side * side * 3).fill(fill), width: side, height: side }, sourcePhotoSha256: sha, quality: 0.7, masks: MASKS };
}
const photo = (sha: string, modelId = 'old_128d'): TemplateInput[] => [template(randomUnit(128, rand), { sourcePhotoSha256: sha, modelId }), template(randomUnit(128, rand), { sourcePhotoSha256: sha, modelId, masked: true })];

function open(t: Test, path = ':memory:'): Gallery {
  const g = openGallery(path);
  t.teardown(() => g.close());
  return g;
}

function codeOf(fn: () => unknown): GalleryErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    if (isGalleryError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

t.test('crops are validated with the templates; a bad one writes nothing', async (t) => {
  const g = open(t);
  const bad: [string, FaceCropInput][] = [
    ['wrong byte count', { ...crop(SHA1), image: { data: new Uint8Array(10), width: 112, height: 112 } }],
    ['zero width', { ...crop(SHA1), image: { data: new Uint8Array(0), width: 0, height: 112 } }],
    ['not bytes', { ...crop(SHA1), image: { data: [1, 2, 3] as unknown as Uint8Array, width: 1, height: 1 } }],
    ['bad sha', crop('xyz')],
    ['negative quality', { ...crop(SHA1), quality: -1 }],
    ['bad mask colour', { ...crop(SHA1), masks: [{ shape: 'surgical', colour: [300, 0, 0] }] }],
    ['bad mask shape', { ...crop(SHA1), masks: [{ shape: 'a b\n', colour: [0, 0, 0] }] }],
  ];
  for (const [what, c] of bad) t.equal(codeOf(() => g.enroll({ name: 'Ada', templates: photo(SHA1), crops: [c] })), 'GALLERY_INVALID_CROP', what);
  t.equal(codeOf(() => g.enroll({ name: 'Ada', templates: photo(SHA1), crops: [crop(SHA2)] })), 'GALLERY_INVALID_CROP', "a crop of a photo none of the templates comes from");
  t.match(g.stats(), { identities: 0, templates: 0 }, 'nothing written by any of them');
  t.equal(g.cropCoverage().crops, 0);
});

t.test('crops follow their identity: stored per photo, listed, removed with it', async (t) => {
  const g = open(t);
  const ada = g.enroll({ name: 'Ada', templates: [...photo(SHA1), ...photo(SHA2)], crops: [crop(SHA1, 1), crop(SHA2, 2), crop(SHA1, 3)] });
  const crops = g.listCrops(ada.id);
  t.same(crops.map((c) => [c.sourcePhotoSha256, c.width, c.height]), [[SHA1, 112, 112], [SHA2, 112, 112]], 'one crop per photo');
  t.equal(g.cropImage(crops[0].id).data[0], 1, 'the first crop given for a photo is the one kept');
  const bob = g.enroll({ name: 'Bob', templates: photo(SHA1) });
  t.same(g.cropCoverage(), { crops: 2, identitiesWithCrops: 1, identitiesWithoutCrops: [{ identityId: bob.id, name: 'Bob' }] });
  g.remove(ada.id);
  t.equal(g.cropCoverage().crops, 0, 'removing the identity removes its crops');
  t.equal(codeOf(() => g.cropImage(crops[0].id)), 'GALLERY_NOT_FOUND');
});

t.test('replaceTemplatesFromCrops: one model, all or nothing, and it notices crops enrolled meanwhile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-reembed-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'g.sqlite');
  const g = open(t, path);
  const ada = g.enroll({ name: 'Ada', templates: photo(SHA1), crops: [crop(SHA1)] });
  const [adaCrop] = g.listCrops(ada.id);
  const rebuilt = (c: StoredCrop) => ({ cropId: c.id, templates: photo(c.sourcePhotoSha256, 'new_256d').map((x) => ({ ...x, embedding: randomUnit(256, rand) })) });

  t.equal(codeOf(() => g.replaceTemplatesFromCrops('new_256d', [{ cropId: adaCrop.id, templates: photo(SHA1, 'other') }])), 'GALLERY_BAD_ARGUMENT', 'templates of another model');
  t.equal(codeOf(() => g.replaceTemplatesFromCrops('old_128d', [rebuilt(adaCrop)])), 'GALLERY_BAD_ARGUMENT');

  // Another process enrolls Bob (old model, with a crop) after our batch was built.
  const other = open(t, path);
  other.enroll({ name: 'Bob', templates: photo(SHA2), crops: [crop(SHA2)] });
  const first = g.replaceTemplatesFromCrops('new_256d', [rebuilt(adaCrop)]);
  t.equal(first.written, false);
  const bobCrop = g.listCrops().find((c) => c.sourcePhotoSha256 === SHA2)!;
  t.same(first.written ? [] : first.newCropIds, [bobCrop.id], "Bob's crop comes back to be embedded too");
  t.same(g.stats().indexes.map((ix) => ix.modelId), ['old_128d', 'old_128d'], 'nothing was written');

  const second = g.replaceTemplatesFromCrops('new_256d', [rebuilt(adaCrop), rebuilt(bobCrop)]);
  t.match(second, { written: true, identities: 2, templates: 4, replaced: 0, goneIdentities: [] });
  const probe = g.templateEmbedding(g.listTemplates(ada.id).find((x) => x.modelId === 'new_256d')!.id);
  t.equal(g.search(probe, { modelId: 'new_256d', k: 1 })[0].name, 'Ada', 'searchable at once in this process');
  t.equal(other.search(probe, { modelId: 'new_256d', k: 1 })[0]?.name, 'Ada', 'and in the other connection (change log)');
  t.same(g.listTemplates(ada.id).filter((x) => x.modelId === 'new_256d').map((x) => [x.sourcePhotoSha256, x.quality]), [[SHA1, 0.7], [SHA1, 0.7]], "rebuilt templates carry the crop's photo and quality");

  // Again, while Bob is being removed: his crop is gone, Ada's templates are replaced, not added.
  const again = [rebuilt(adaCrop), rebuilt(bobCrop)];
  other.remove(other.findByName('Bob')[0].id);
  t.match(g.replaceTemplatesFromCrops('new_256d', again), { written: true, identities: 1, templates: 2, replaced: 2, goneIdentities: [bobCrop.id] });
  t.equal(g.requireIdentity(ada.id).templateTotal, 4, 'Ada: 2 old + 2 new');
});

t.test('dropOtherModels keeps the templates of identities that have none of the new model', async (t) => {
  const g = open(t);
  const ada = g.enroll({ name: 'Ada', templates: [...photo(SHA1), ...photo(SHA1, 'new_128d')], crops: [crop(SHA1)] });
  const bob = g.enroll({ name: 'Bob', templates: photo(SHA2) });
  const r = g.dropOtherModels('new_128d');
  t.same(r, { identities: 1, removed: 2, kept: [{ identityId: bob.id, name: 'Bob' }] });
  t.same(g.requireIdentity(ada.id).templateCounts.map((c) => c.modelId), ['new_128d', 'new_128d']);
  t.equal(g.requireIdentity(bob.id).templateTotal, 2);
  t.same(g.stats().indexes.map((ix) => [ix.modelId, ix.rows]), [['new_128d', 1], ['new_128d', 1], ['old_128d', 1], ['old_128d', 1]]);
});

t.test('paintableMasks: a stored mask shape this facegate cannot paint is a clear error', async (t) => {
  const stored: StoredCrop = { id: 'crop_1', identityId: 'id_1', sourcePhotoSha256: SHA1, quality: 1, width: 112, height: 112, masks: [{ shape: 'visor', colour: [1, 2, 3] }], createdAt: 0 };
  t.same(paintableMasks({ ...stored, masks: MASKS }), MASKS);
  try {
    paintableMasks(stored);
    t.fail('should throw');
  } catch (e) {
    t.ok(isGalleryError(e) && e.code === 'GALLERY_REEMBED_FAILED');
    t.match((e as Error).message, /mask shape "visor"/);
  }
});

t.test('pure CLI helpers: templates per model, the summary line', async (t) => {
  const g = open(t);
  g.enroll({ name: 'Ada', templates: [...photo(SHA1), ...photo(SHA1, 'b_128d')] });
  g.enroll({ name: 'Bob', templates: photo(SHA2) });
  t.same(templatesPerModel(g.listIdentities()), [
    { modelId: 'b_128d', identities: 1, plain: 1, masked: 1 },
    { modelId: 'old_128d', identities: 2, plain: 2, masked: 2 },
  ]);
  t.equal(reembedSummaryLine({ modelId: 'm', identities: 3, templates: 24, crops: 6, replaced: 0, skipped: [], ms: 1234 }), 're-embedded 3 identities for m: 6 photo crop(s), 24 templates in 1.2 s');
  t.equal(
    reembedSummaryLine({ modelId: 'm', identities: 1, templates: 4, crops: 1, replaced: 4, skipped: [{ identityId: 'a', name: 'Ada' }, { identityId: 'b', name: 'Bob' }], ms: 50 }),
    're-embedded 1 identity for m: 1 photo crop(s), 4 templates (replacing 4) in 0.1 s; 2 skipped (no stored photo crop: enroll them again): Ada, Bob',
  );
});
