/**
 * The enrollment quality check on real photos: each refusal names the check, the measured value,
 * the threshold and the fix; `facegate enroll` refuses a photo already enrolled as someone else
 * unless --force.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import t from 'tap';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { createEmbedder, DEFAULT_ENROLLMENT_RULES, prepareEnrollmentPhoto, type Embedder } from '../../src/recognize/index.ts';
import { dataPath } from '../helpers/data.ts';

const run = promisify(execFile);
let detector: Detector;
let embedder: Embedder;
const dir = mkdtempSync(join(tmpdir(), 'fg-enroll-quality-'));
t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder('mobilefacenet_paddlex_128d');
});
t.teardown(async () => {
  await detector.close();
  await embedder.close();
  rmSync(dir, { recursive: true, force: true });
});

t.test('a small face: "move closer", with the eye distance measured and the threshold', async (t) => {
  // sheldon1.png: a ~150 px crop with the eyes ~60 px apart; at 40 % they are ~24 px apart.
  const small = join(dir, 'small.png');
  await sharp(dataPath('identities/faceapi_bbt/sheldon/sheldon1.png')).resize({ width: 64 }).toFile(small);
  const v = await prepareEnrollmentPhoto(small, detector, embedder);
  t.notOk(v.ok);
  if (v.ok) return;
  t.equal(v.reason, 'too-small');
  const c = v.checks?.find((x) => x.check === 'eye-distance');
  t.ok(c && c.value < DEFAULT_ENROLLMENT_RULES.minInterOcular && c.value > 5, `measured ${c?.value}`);
  t.equal(c?.threshold, DEFAULT_ENROLLMENT_RULES.minInterOcular);
  t.match(v.message, new RegExp(`move closer: eyes \\d+ px apart, at least ${DEFAULT_ENROLLMENT_RULES.minInterOcular} needed`));
  t.match(v.hint, /closer/);
  const lenient = await prepareEnrollmentPhoto(small, detector, embedder, { ...DEFAULT_ENROLLMENT_RULES, minInterOcular: 10, minSharpness: 0 });
  t.ok(lenient.ok, 'the threshold is configurable: the same photo passes with lower limits');
});

t.test('a blurred photo: the sharpness and its threshold', async (t) => {
  const blurred = join(dir, 'blurred.jpg');
  await sharp(dataPath('identities/deepface/angelina/img1.jpg')).blur(10).toFile(blurred);
  const v = await prepareEnrollmentPhoto(blurred, detector, embedder);
  t.notOk(v.ok);
  if (v.ok) return;
  const c = v.checks?.find((x) => x.check === 'sharpness');
  t.ok(c && c.value < DEFAULT_ENROLLMENT_RULES.minSharpness, `sharpness ${c?.value}`);
  t.match(v.message, new RegExp(`too blurry: sharpness \\d+, at least ${DEFAULT_ENROLLMENT_RULES.minSharpness} needed`));
});

t.test('a turned head (a real three-quarter view): the yaw and its limit', async (t) => {
  const v = await prepareEnrollmentPhoto(dataPath('identities/faceapi_bbt/stuart/stuart5.png'), detector, embedder);
  t.notOk(v.ok);
  if (v.ok) return;
  t.equal(v.reason, 'bad-pose');
  t.match(v.checks, [{ check: 'yaw', threshold: DEFAULT_ENROLLMENT_RULES.maxYaw }]);
  t.match(v.message, /face the camera: head turned .* \(yaw -?0\.\d\d, at most 0\.45 allowed\)/);
});

t.test('a group photo: the face count', async (t) => {
  const v = await prepareEnrollmentPhoto(dataPath('groups/insightface_t1.jpg'), detector, embedder);
  t.notOk(v.ok);
  if (v.ok) return;
  t.equal(v.reason, 'several-faces');
  t.match(v.checks?.[0], { check: 'one-face', threshold: 1, message: /\d+ faces: exactly 1 needed/ });
});

t.test('facegate enroll: a photo already enrolled as someone else is refused unless --force', async (t) => {
  const db = join(dir, 'gallery.db');
  const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'test/helpers/gallery-cli.ts', 'enroll', '--db', db, '--embedder', 'mobilefacenet_paddlex_128d', ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  const first = await cli(['--name', 'Angelina', dataPath('identities/deepface/angelina/img1.jpg')]);
  t.equal(first.code, 0, first.stderr);
  const dup = await cli(['--name', 'Jolie', '--json', dataPath('identities/deepface/angelina/img2.jpg')]);
  t.equal(dup.code, 1, 'refused: exit 1');
  t.match(dup.stderr, /already enrolled as Angelina at 0\.\d\d/);
  t.match(dup.stderr, /--force/);
  t.match(JSON.parse(dup.stdout), { identity: null, rejected: [{ reason: 'duplicate' }], duplicates: [{ name: 'Angelina', forced: false }] });
  const g = openGallery(db);
  t.same(g.listIdentities().map((i) => i.name), ['Angelina'], 'nothing enrolled as Jolie');
  g.close();
  const forced = await cli(['--name', 'Jolie', '--force', dataPath('identities/deepface/angelina/img2.jpg')]);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stderr, /already enrolled as Angelina at 0\.\d\d .*enrolled anyway \(--force\)/);
  const g2 = openGallery(db);
  t.same(g2.listIdentities().map((i) => i.name).sort(), ['Angelina', 'Jolie']);
  g2.close();
});

t.test('facegate enroll --config: the limits of recognition.enrollment apply (the flags win)', async (t) => {
  const file = join(dir, 'site.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, `gallery:\n  db: ${join(dir, 'site-gallery.db')}\nrecognition:\n  enrollment:\n    minEyeDistance: 500\n`);
  const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'test/helpers/gallery-cli.ts', 'enroll', '--config', file, '--embedder', 'mobilefacenet_paddlex_128d', ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  const refused = await cli(['--name', 'Penny', dataPath('identities/faceapi_bbt/penny/penny1.png')]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /move closer: eyes \d+ px apart, at least 500 needed/);
  const flag = await cli(['--name', 'Penny', '--min-eye-distance', '20', dataPath('identities/faceapi_bbt/penny/penny1.png')]);
  t.equal(flag.code, 0, flag.stderr);
});
