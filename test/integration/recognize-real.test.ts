import t from 'tap';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { analyzeLargestFace, type AnalyzedFace } from '../../src/recognize/analyze.ts';
import { ENROLLMENT_MASKS, renderMask } from '../../src/recognize/mask-render.ts';
import { createEmbedder, createLiveness, createMaskClassifier, type Embedder, type MaskClassifier } from '../../src/recognize/models.ts';
import { cosine } from '../../src/lib/vectors.ts';
import { dataPath } from '../helpers/data.ts';

// Thresholds measured by `facegate eval` on ../shared/data (README): 0.36 at FAR 1e-3 for paddlex.
const UNMASKED_THRESHOLD = 0.36;

let detector: Detector;
let embedder: Embedder;
let mask: MaskClassifier;
t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder('mobilefacenet_paddlex_128d');
  mask = await createMaskClassifier();
});
t.teardown(async () => {
  await detector.close();
  await embedder.close();
  await mask.close();
});

async function analyze(rel: string): Promise<AnalyzedFace> {
  const { image } = await decodeImage(dataPath(rel));
  const { analyzed } = await analyzeLargestFace(image, detector, embedder, mask);
  if (!analyzed) throw new Error(`no face in ${rel}`);
  return analyzed;
}

t.test('same person above the threshold, different people below (real identity photos)', async (t) => {
  const people: Record<string, string[]> = {
    sheldon: ['identities/faceapi_bbt/sheldon/sheldon1.png', 'identities/faceapi_bbt/sheldon/sheldon3.png'],
    penny: ['identities/faceapi_bbt/penny/penny1.png', 'identities/faceapi_bbt/penny/penny4.png'],
    raj: ['identities/faceapi_bbt/raj/raj2.png', 'identities/faceapi_bbt/raj/raj5.png'],
    easy2: ['identities/easyface/easyface_person_2/face_recognition_1.png', 'identities/easyface/easyface_person_2/face_recognition_2.png'],
  };
  const emb: Record<string, Float32Array[]> = {};
  for (const [name, files] of Object.entries(people)) emb[name] = await Promise.all(files.map(async (f) => (await analyze(f)).embedding));
  for (const [name, [a, b]] of Object.entries(emb)) {
    const s = cosine(a, b);
    t.ok(s > UNMASKED_THRESHOLD, `${name} vs ${name}: ${s.toFixed(3)} > ${UNMASKED_THRESHOLD}`);
    t.ok(Math.abs(cosine(a, a) - 1) < 1e-5, 'embeddings are L2-normalised');
  }
  const names = Object.keys(emb);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const s = cosine(emb[names[i]][0], emb[names[j]][1]);
      t.ok(s < UNMASKED_THRESHOLD, `${names[i]} vs ${names[j]}: ${s.toFixed(3)} < ${UNMASKED_THRESHOLD}`);
    }
  }
});

t.test('masked templates raise the real masked probe of the same man', async (t) => {
  const enrolled = await analyze('identities/easyface/easyface_person_1/mask_face_recognition_1.jpg'); // mask pulled down
  const probe = await analyze('identities/easyface/easyface_person_1/mask_face_recognition_2.jpg'); // mask on
  const plain = cosine(probe.embedding, enrolled.embedding);
  const masked = await Promise.all(ENROLLMENT_MASKS.map((m) => embedder.embed(renderMask(enrolled.aligned, m.shape, m.colour))));
  const best = Math.max(...masked.map((m) => cosine(probe.embedding, m)));
  t.ok(best > plain + 0.05, `plain ${plain.toFixed(3)} -> with masked templates ${best.toFixed(3)}`);
  const stranger = await analyze('identities/easyface/easyface_person_2/face_recognition_1.png');
  const strangerBest = Math.max(...masked.map((m) => cosine(stranger.embedding, m)));
  t.ok(strangerBest < best, `a different person stays lower (${strangerBest.toFixed(3)})`);
});

t.test('mask classifier: real masked faces vs unmasked faces', async (t) => {
  const masked = ['identities/easyface/easyface_person_1/mask_face_recognition_2.jpg', 'masked/rmfd/0000_0000.jpg', 'masked/rmfd/0001_0000.jpg'];
  const unmasked = ['identities/easyface/easyface_person_1/mask_face_recognition_1.jpg', 'identities/faceapi_bbt/amy/amy1.png', 'identities/deepface/angelina/img1.jpg'];
  for (const f of masked) {
    const p = (await analyze(f)).maskProbability ?? 0;
    t.ok(p >= 0.5, `${f}: mask ${p.toFixed(3)}`);
  }
  for (const f of unmasked) {
    const p = (await analyze(f)).maskProbability ?? 1;
    t.ok(p < 0.5, `${f}: mask ${p.toFixed(3)}`);
  }
  const a = await analyze('identities/faceapi_bbt/amy/amy2.png');
  const painted = await mask.maskProbability(renderMask(a.aligned, 'surgical', [160, 205, 230]));
  t.ok(painted >= 0.5, `a rendered mask reads as a mask (${painted.toFixed(3)})`);
});

t.test('liveness: the MiniFASNet ensemble scores a real photo with context as real', async (t) => {
  const live = await createLiveness();
  t.teardown(() => live.close());
  const { image } = await decodeImage(dataPath('identities/deepface/angelina/img1.jpg'));
  const faces = await detector.detect(image);
  const p = await live.realProbability(image, faces[0].box);
  t.ok(p > 0.5 && p <= 1, `real probability ${p.toFixed(3)}`);
});
