import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createDetector, iou, type Detector } from '../../src/detect/index.ts';
import { decodeImage } from '../../src/image/decode.ts';
import type { Box, Face } from '../../src/types.ts';
import { dataPath, labelledRange, readLabels } from '../helpers/data.ts';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';

const detectors = new Map<string, Detector>();
async function detector(tier: string, size = 640, model?: string): Promise<Detector> {
  const key = `${model ?? tier}@${size}`;
  let d = detectors.get(key);
  if (!d) {
    d = await createDetector({ tier, size, model, padRetry: true, threads: 2 });
    detectors.set(key, d);
  }
  return d;
}
t.teardown(async () => {
  for (const d of detectors.values()) await d.close();
});

async function detectFile(rel: string, tier: string, size = 640, model?: string): Promise<Face[]> {
  const { image } = await decodeImage(dataPath(rel));
  return (await detector(tier, size, model)).detect(image);
}

t.test('faceapi_bbt4: every labelled box is matched at IoU >= 0.5 (both tiers)', async (t) => {
  const label = JSON.parse(readFileSync(dataPath('groups/faceapi_bbt4_boxes.json'), 'utf8')) as { boxes: { x: number; y: number; width: number; height: number; identity_visual: string }[] };
  for (const tier of ['500m', '2.5g']) {
    const faces = await detectFile('groups/faceapi_bbt4.jpg', tier);
    t.equal(faces.length, label.boxes.length, `${tier}: one detection per labelled face`);
    for (const b of label.boxes) {
      const want: Box = [b.x, b.y, b.x + b.width, b.y + b.height];
      const best = Math.max(...faces.map((f) => iou(f.box, want)));
      t.ok(best >= 0.5, `${tier}: ${b.identity_visual} matched at IoU ${best.toFixed(2)}`);
    }
  }
});

t.test('group photos: 2.5g counts within the labelled tolerance, and 2.5g >= 500m', async (t) => {
  const groups = readLabels().filter((r) => r.category === 'group');
  t.ok(groups.length >= 10, 'labels.csv lists the group photos');
  for (const g of groups) {
    const [lo, hi] = labelledRange(g.faces);
    const n25 = (await detectFile(g.file, '2.5g')).length;
    const n5 = (await detectFile(g.file, '500m')).length;
    t.ok(n25 >= n5, `${g.file}: 2.5g found ${n25} >= 500m found ${n5}`);
    if (/rotated|upside-down/.test(g.faces)) {
      // SCRFD is trained on upright faces: the rotated/upside-down ones in this photo are out of
      // its reach (a known limit in the README). Only the upright part is asserted.
      t.ok(n25 >= 5 && n25 <= hi, `${g.file}: ${n25} upright faces of ~${hi} (rotated ones are out of scope)`);
    } else if (/hard/.test(g.faces)) {
      // The source's own test accepts >= 5 for MTCNN and >= 7 for RetinaFace on this "hard example".
      t.ok(n25 >= 5 && n25 <= hi + 1, `${g.file}: ${n25} faces, source tolerance >= 5 (label ${g.faces})`);
    } else if (/main/.test(g.faces)) {
      t.ok(n25 >= 2 && n25 <= hi, `${g.file}: ${n25} faces (label ${g.faces}: the main faces at least)`);
    } else if (/approx/.test(g.faces)) {
      t.ok(n25 >= lo - 2 && n25 <= hi + 2, `${g.file}: ${n25} faces within ${lo}-${hi} +-2 (approximate label)`);
    } else {
      t.equal(n25, lo, `${g.file}: ${n25} faces, labelled ${lo}`);
    }
  }
});

function identityPhotos(): string[] {
  const out: string[] = [];
  const root = dataPath('identities');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(jpe?g|png)$/i.test(name)) out.push(p.slice(dataPath('').length));
    }
  };
  walk(root);
  return out.sort();
}

t.test('landmarks are anatomically sane on every identity photo', async (t) => {
  const photos = identityPhotos();
  t.ok(photos.length >= 100, `${photos.length} identity photos`);
  let faces = 0;
  let withFace = 0;
  for (const rel of photos) {
    const { image } = await decodeImage(dataPath(rel));
    const found = await (await detector('500m')).detect(image);
    if (found.length) withFace++;
    const area = (f: Face): number => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
    const subject = [...found].sort((a, b) => area(b) - area(a))[0];
    for (const f of found) {
      faces++;
      const [x1, y1, x2, y2] = f.box;
      const w = x2 - x1;
      const h = y2 - y1;
      // A face cut by the frame edge has its box clipped while its landmarks are extrapolated.
      const cut = x1 <= 3 || y1 <= 3 || x2 >= image.width - 3 || y2 >= image.height - 3;
      const inside = f.landmarks.every(([x, y]) => x >= x1 - 0.1 * w && x <= x2 + 0.1 * w && y >= y1 - 0.1 * h && y <= y2 + 0.1 * h);
      if (!cut && !inside) t.fail(`${rel}: landmarks ${JSON.stringify(f.landmarks)} outside box ${JSON.stringify(f.box)}`);
      if (f !== subject) continue;
      // The photo's labelled person (its largest face) must have its landmarks in anatomical order;
      // bystanders in full profile legitimately have both eyes on one side.
      const [le, re, nose, lm, rm] = f.landmarks;
      const ordered = le[0] < re[0] && lm[0] < rm[0] && nose[1] > Math.min(le[1], re[1]) && nose[1] < Math.max(lm[1], rm[1]);
      if (!inside || !ordered) t.fail(`${rel}: subject landmarks ${JSON.stringify(f.landmarks)} box ${JSON.stringify(f.box)}`);
    }
  }
  t.ok(withFace >= photos.length - 2, `a face found in ${withFace} of ${photos.length} photos (tight crops via the padded retry)`);
  t.ok(faces >= photos.length, `${faces} faces checked`);
});

t.test('the same image at two input sizes gives the same faces (IoU >= 0.8 after mapping back)', async (t) => {
  for (const rel of ['groups/faceapi_bbt4.jpg', 'groups/insightface_t1.jpg', 'groups/faceapi_bbt1.jpg']) {
    const a = await detectFile(rel, '500m', 640);
    const b = await detectFile(rel, '500m', 480);
    t.equal(b.length, a.length, `${rel}: ${a.length} faces at both sizes`);
    for (const f of a) {
      const best = Math.max(...b.map((g) => iou(f.box, g.box)));
      t.ok(best >= 0.8, `${rel}: face at [${f.box.map(Math.round).join(',')}] matched at IoU ${best.toFixed(2)}`);
    }
  }
});

t.test('both SCRFD output layouts decode the same: det_500m ([N,C]) vs scrfd_500m ([1,N,C])', async (t) => {
  const a = await detectFile('groups/faceapi_bbt5.jpg', '500m', 640, 'scrfd_500m');
  const b = await detectFile('groups/faceapi_bbt5.jpg', '500m', 640, 'det_500m');
  t.equal(a.length, b.length);
  for (const [i, f] of a.entries()) {
    t.ok(iou(f.box, b[i].box) > 0.99, `face ${i} identical`);
    t.ok(Math.abs(f.score - b[i].score) < 1e-4);
  }
});

t.test('a tight face crop needs the padded retry, and gets it', async (t) => {
  const { image } = await decodeImage(dataPath('identities/faceapi_bbt/sheldon/sheldon1.png'));
  const plain = await createDetector({ tier: '500m', size: 640, padRetry: false });
  t.teardown(() => plain.close());
  const without = await plain.detectTimed(image);
  const withRetry = await (await detector('500m')).detectTimed(image);
  t.equal(without.faces.length, 0, 'the single pass misses the frame-filling face (the reason for the retry)');
  t.equal(without.timings.passes, 1);
  t.equal(withRetry.faces.length, 1, 'one face with the retry');
  t.equal(withRetry.timings.passes, 2, 'found by the second, padded pass');
  const [x1, y1, x2, y2] = withRetry.faces[0].box;
  t.ok((x2 - x1) * (y2 - y1) > 0.3 * image.width * image.height, 'the face fills most of the crop');
});

t.test('execution provider cuda falls back to CPU with a warning here', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
  const d = await createDetector({ tier: '500m', size: 320, executionProvider: 'cuda', logger });
  t.teardown(() => d.close());
  t.equal(d.executionProvider, 'cpu', 'the session runs on CPU');
  const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string; executionProvider?: string }).find((l) => l.executionProvider === 'cuda');
  t.equal(warning?.level, 40, 'one warning names the provider');
  t.match(warning?.msg, /execution provider "cuda" is not available \(.+\); falling back to CPU/, 'with its reason');
  const { image } = await decodeImage(dataPath('groups/faceapi_bbt4.jpg'));
  t.ok((await d.detect(image)).length >= 5, 'still detects on CPU');
});
