import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { createEmbedder, ENROLLMENT_MASKS, prepareEnrollmentPhoto, type Embedder } from '../../src/recognize/index.ts';
import { templatesFromCrop } from '../../src/recognize/enroll.ts';
import { dataPath } from '../helpers/data.ts';

let detector: Detector;
let embedder: Embedder;
const dir = mkdtempSync(join(tmpdir(), 'fg-enroll-'));
t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder('mobilefacenet_paddlex_128d');
});
t.teardown(async () => {
  await detector.close();
  await embedder.close();
  rmSync(dir, { recursive: true, force: true });
});

t.test('a tight passport-style crop enrolls (padded retry) with plain + masked templates', async (t) => {
  const v = await prepareEnrollmentPhoto(dataPath('identities/faceapi_bbt/sheldon/sheldon1.png'), detector, embedder);
  t.ok(v.ok, v.ok ? 'accepted' : v.message);
  if (!v.ok) return;
  t.equal(v.templates.length, 4);
  t.same(v.templates.map((x) => x.masked), [false, true, true, true]);
  t.ok(v.templates.every((x) => x.modelId === 'mobilefacenet_paddlex_128d' && x.embedding.length === 128 && /^[0-9a-f]{64}$/.test(x.sourcePhotoSha256)));
});

t.test('the verdict carries the aligned crop, and templatesFromCrop rebuilds exactly its templates', async (t) => {
  const v = await prepareEnrollmentPhoto(dataPath('identities/faceapi_bbt/penny/penny1.png'), detector, embedder);
  t.ok(v.ok);
  if (!v.ok) return;
  t.match(v.crop, { image: { width: 112, height: 112 }, sourcePhotoSha256: v.templates[0].sourcePhotoSha256, quality: v.quality.value });
  t.equal(v.crop.image.data.length, 112 * 112 * 3);
  t.same(v.crop.masks, ENROLLMENT_MASKS, 'the masks it painted, in order');
  const rebuilt = await templatesFromCrop(v.crop, embedder);
  t.same(rebuilt.map((x) => [x.masked, x.modelId, x.sourcePhotoSha256, x.quality]), v.templates.map((x) => [x.masked, x.modelId, x.sourcePhotoSha256, x.quality]));
  t.ok(rebuilt.every((x, i) => x.embedding.every((e, k) => e === v.templates[i].embedding[k])), 'same embeddings, exactly');
});

t.test('a group photo is rejected: several faces', async (t) => {
  const v = await prepareEnrollmentPhoto(dataPath('groups/faceapi_bbt4.jpg'), detector, embedder);
  t.match(v, { ok: false, reason: 'several-faces', message: /6 faces/ });
});

t.test('a faceless image is rejected: no face', async (t) => {
  // A real photo region without a face: the bottom-right corner of the BBT group photo (suit and table).
  const p = join(dir, 'no-face.jpg');
  await sharp(dataPath('groups/faceapi_bbt4.jpg')).extract({ left: 420, top: 330, width: 280, height: 140 }).toFile(p);
  const v = await prepareEnrollmentPhoto(p, detector, embedder);
  t.match(v, { ok: false, reason: 'no-face', hint: /visible/ });
});

t.test('a blurred portrait is rejected: too blurry; a tiny one: too small; garbage: unreadable', async (t) => {
  const blurred = join(dir, 'blurred.jpg');
  await sharp(dataPath('identities/deepface/angelina/img1.jpg')).blur(10).toFile(blurred);
  t.match(await prepareEnrollmentPhoto(blurred, detector, embedder), { ok: false, reason: 'too-blurry' });
  const tiny = join(dir, 'tiny.png');
  await sharp(dataPath('identities/faceapi_bbt/amy/amy1.png')).resize(40, 40).toFile(tiny);
  const small = await prepareEnrollmentPhoto(tiny, detector, embedder);
  t.ok(!small.ok && (small.reason === 'too-small' || small.reason === 'no-face'), `tiny photo rejected (${small.ok ? '' : small.reason})`);
  const garbage = join(dir, 'garbage.jpg');
  await import('node:fs').then((fs) => fs.writeFileSync(garbage, 'not an image'));
  t.match(await prepareEnrollmentPhoto(garbage, detector, embedder), { ok: false, reason: 'unreadable', message: /garbage\.jpg/ });
  t.match(await prepareEnrollmentPhoto(join(dir, 'missing.jpg'), detector, embedder), { ok: false, reason: 'unreadable' });
});
