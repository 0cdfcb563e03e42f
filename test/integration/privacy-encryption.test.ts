import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { encryptionFor } from '../../src/app/storage.ts';
import { runKeysInit } from '../../src/cli/keys.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { SnapshotStore } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { isPrivacyError, kekId, newKek, readKeyFile, writeKeyFile } from '../../src/privacy/index.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import { templatesFromCrop } from '../../src/recognize/enroll.ts';
import type { RgbImage } from '../../src/types.ts';
import { dataPath } from '../helpers/data.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { acceptedVerdict, bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * Encryption at rest on real data: real people enrolled from ../shared/data (templates + aligned
 * crops), an unknown face and face/frame snapshots of a real photo; then every byte of the data
 * folder is searched for them. A wrong key refuses to open; `facegate keys rotate --reencrypt`
 * killed with SIGKILL at several points, then run again, loses nothing.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const EMBEDDER = 'mobilefacenet_paddlex_128d';
const PEOPLE = ['amy', 'howard', 'penny'] as const;

const dir = mkdtempSync(join(tmpdir(), 'fg-privacy-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'facegate.yaml');
writeFileSync(
  configFile,
  ['privacy:', '  encryption:', '    enabled: true', '    keyFile: keys/facegate.key', '  requireConsent: true', 'gallery:', '  db: data/gallery.sqlite', 'events:', '  db: data/events.sqlite', '  snapshots:', '    dir: data/snapshots', ''].join('\n'),
);

let detector: Detector;
let embedder: Embedder;
let config: Config;
/** What must never be found on disk in the clear. */
const secrets: { what: string; bytes: Buffer }[] = [];
const ids = new Map<string, string>();
let snapshotId = '';
let faceJpeg: Buffer;
let frameJpeg: Buffer;

const f32 = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function openEncrypted(c: Config = config): Gallery {
  return openGallery(c.gallery.db, { encryption: encryptionFor(c) });
}

async function realFrame(): Promise<RgbImage> {
  const { data, info } = await sharp(dataPath('groups/faceapi_bbt4.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

t.before(async () => {
  runKeysInit(configFile);
  config = loadConfig(configFile);
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder(EMBEDDER);
  const g = openEncrypted();
  for (const person of PEOPLE) {
    const verdicts = [await acceptedVerdict(bbtPhoto(person, 1), detector, embedder), await acceptedVerdict(bbtPhoto(person, 2), detector, embedder)];
    const identity = g.enroll({ name: person, templates: verdicts.flatMap((v) => v.templates), crops: verdicts.map((v) => v.crop), consent: { givenAt: 1, recordedBy: 'test', method: 'written', purpose: 'access control', expiresAt: null, text: 'form 17' } });
    ids.set(person, identity.id);
    for (const v of verdicts) {
      for (const tpl of v.templates) secrets.push({ what: `a template of ${person}`, bytes: f32(tpl.embedding) });
      // Short slices of the middle rows (the face): tight photos padded for detection have black
      // borders (zeros are everywhere), and a crop spans SQLite overflow pages, whose headers
      // split any long run of its bytes.
      let slices = 0;
      for (let k = 0; k < 12; k++) {
        const at = 112 * 3 * (36 + 4 * k) + 3 * 28;
        const slice = v.crop.image.data.subarray(at, at + 96);
        if (new Set(slice).size < 12) continue; // flat (a plain background): could match anything
        secrets.push({ what: `the aligned crop of ${person} (slice ${k})`, bytes: Buffer.from(slice) });
        slices++;
      }
      if (slices < 4) throw new Error(`the crop of ${person} is too plain to search for`);
    }
  }
  // A stranger seen at the door: an unknown cluster from a real face.
  const stranger = await acceptedVerdict(bbtPhoto('sheldon', 1), detector, embedder);
  const plain = stranger.templates.find((x) => !x.masked) ?? stranger.templates[0];
  g.upsertUnknown(plain.embedding, EMBEDDER, Date.now(), 0.5);
  secrets.push({ what: "the stranger's centroid", bytes: f32(plain.embedding) });
  g.close();

  const store = new SnapshotStore(config.events.snapshots.dir, { retentionMs: 86_400_000, maxFiles: 1000, encryption: encryptionFor(config) });
  snapshotId = await store.save(await realFrame(), [100, 40, 220, 190]);
  faceJpeg = await store.read(snapshotId, 'face');
  frameJpeg = await store.read(snapshotId, 'frame');
  secrets.push({ what: 'the face JPEG', bytes: faceJpeg.subarray(0, 1024) }, { what: 'the middle of the face JPEG', bytes: faceJpeg.subarray(faceJpeg.length >> 1, (faceJpeg.length >> 1) + 512) });
  secrets.push({ what: 'the frame JPEG', bytes: frameJpeg.subarray(0, 1024) }, { what: 'the middle of the frame JPEG', bytes: frameJpeg.subarray(frameJpeg.length >> 1, (frameJpeg.length >> 1) + 512) });
});

t.teardown(async () => {
  await detector?.close();
  await embedder?.close();
});

t.test('no plaintext template, crop, centroid or snapshot anywhere in the data folder', async (t) => {
  const files = filesUnder(join(dir, 'data'));
  t.ok(files.some((f) => f.endsWith('gallery.sqlite')), 'the gallery is there');
  t.ok(files.some((f) => f.endsWith('.face.jpg.enc')) && files.some((f) => f.endsWith('.frame.jpg.enc')), 'snapshots are stored as envelopes');
  t.notOk(files.some((f) => f.endsWith('.jpg')), 'no plain JPEG file');
  t.ok(faceJpeg.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])), 'read() gives back a JPEG');
  t.ok(secrets.length > 20, `${secrets.length} known secrets to look for`);
  for (const f of files) {
    const bytes = readFileSync(f);
    const found = secrets.filter((s) => bytes.includes(s.bytes)).map((s) => s.what);
    t.same(found, [], `${f.slice(dir.length)} (${bytes.length} bytes)`);
  }
});

t.test('control: the same search finds them in a plaintext gallery and snapshot folder', async (t) => {
  const plainDir = join(dir, 'plain');
  const g = openGallery(join(plainDir, 'gallery.sqlite'));
  const verdicts = [await acceptedVerdict(bbtPhoto('amy', 1), detector, embedder), await acceptedVerdict(bbtPhoto('amy', 2), detector, embedder)];
  g.enroll({ name: 'amy', templates: verdicts.flatMap((v) => v.templates), crops: verdicts.map((v) => v.crop) });
  g.close();
  const store = new SnapshotStore(join(plainDir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 1000 });
  const id = await store.save(await realFrame(), [100, 40, 220, 190]);
  t.same(await store.read(id, 'face'), faceJpeg, 'the same JPEG bytes (deterministic encoder)');
  const all = Buffer.concat(filesUnder(plainDir).map((f) => readFileSync(f)));
  const whole = secrets.filter((s) => s.what === 'a template of amy' || s.what.includes('JPEG'));
  t.ok(whole.length >= 10);
  for (const s of whole) t.ok(all.includes(s.bytes), `found in the clear: ${s.what}`);
  const slices = secrets.filter((s) => s.what.startsWith('the aligned crop of amy'));
  const found = slices.filter((s) => all.includes(s.bytes)).length;
  t.ok(found >= slices.length / 2, `${found} of ${slices.length} crop slices found in the clear (some straddle a page header)`);
});

t.test('reopened with the key: real probes are recognised, crops and consent come back', async (t) => {
  const g = openEncrypted();
  t.teardown(() => g.close());
  for (const person of PEOPLE) {
    const probe = await acceptedVerdict(bbtPhoto(person, 3), detector, embedder);
    const [plain] = await templatesFromCrop(probe.crop, embedder);
    const [best] = g.search(plain.embedding, { modelId: EMBEDDER, k: 1 });
    t.equal(best?.name, person, `${person} photo 3 (score ${best?.score.toFixed(2)})`);
  }
  const amy = g.requireIdentity(ids.get('amy') as string);
  t.match(amy.consent, { method: 'written', text: 'form 17' });
  const crop = g.cropImage(g.listCrops(amy.id)[0].id);
  t.equal(crop.data.length, 112 * 112 * 3);
  t.equal(g.listUnknowns().length, 1);
});

t.test('a wrong key: the gallery and the snapshots refuse to open, naming both key fingerprints', async (t) => {
  const wrongFile = join(dir, 'wrong.key');
  const wrong = newKek();
  writeKeyFile(wrongFile, wrong, { exclusive: true });
  const wrongConfig = { ...config, privacy: { ...config.privacy, encryption: { ...config.privacy.encryption, keyFile: wrongFile } } } as Config;
  const err = t.throws(() => openEncrypted(wrongConfig)) as unknown as Error & { code: string; hint: string };
  t.ok(isPrivacyError(err));
  t.equal(err.code, 'PRIVACY_WRONG_KEY');
  t.match(err.message, kekId(readKeyFile(config.privacy.encryption.keyFile)));
  t.match(err.message, kekId(wrong));
  t.ok(err.hint);
  t.throws(() => new SnapshotStore(config.events.snapshots.dir, { retentionMs: 1, maxFiles: 1, encryption: encryptionFor(wrongConfig) }), { code: 'PRIVACY_WRONG_KEY' });
  // Encryption turned off in the config: no empty gallery, a missing key.
  t.throws(() => openGallery(config.gallery.db), { code: 'PRIVACY_MISSING_KEY' });
  // The CLI says so in words and exits 1.
  const r = await cli(['keys', 'status', '--config', configFile], { FACEGATE_KEK: wrong.toString('base64') });
  t.equal(r.code, 1);
  t.match(r.stderr, /encrypted under key [0-9a-f]{16}; the key given is/);
  // The service refuses to start (before any model loads), with the fix.
  const run = await cli(['run', '--config', configFile, '--port', '0', '--no-watch'], { FACEGATE_KEK: wrong.toString('base64') });
  t.equal(run.code, 1, 'facegate run exits 1');
  t.match(run.stderr, new RegExp(`encrypted under key [0-9a-f]{16}; the key given is ${kekId(wrong)}`));
  t.match(run.stderr, /fix: /);
  t.notMatch(run.stderr, new RegExp(wrong.toString('base64').slice(0, 16).replace(/[+/]/g, '.')), 'the key itself is never printed');
  t.notOk(run.lines.some((l) => l.includes('facegate running')));
});

interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: string[];
  readonly stderr: string;
}

/** The real CLI as a child; SIGKILLed on the first stdout line `killAt` accepts. */
function cli(args: string[], env: Record<string, string> = {}, killAt?: (line: string) => boolean): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FACEGATE_KEK: '', ...env } });
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (killAt?.(line)) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines, stderr });
    });
  });
}

t.test('the CLI on an encrypted gallery: --config brings the key; requireConsent needs --consent', async (t) => {
  const refused = await cli(['enroll', '--config', configFile, '--name', 'leonard', bbtPhoto('leonard', 1)]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /requireConsent/);
  const enrolled = await cli(['enroll', '--config', configFile, '--name', 'leonard', '--consent', 'form 18', '--consent-method', 'written', '--json', bbtPhoto('leonard', 1)]);
  t.equal(enrolled.code, 0, enrolled.stderr);
  const summary = JSON.parse(enrolled.lines.join('\n')) as { identity: { id: string; consent: Record<string, unknown> } };
  t.match(summary.identity.consent, { method: 'written', text: 'form 18', purpose: 'access control', recordedBy: /^cli:/ });
  const list = await cli(['identities', 'list', '--config', configFile, '--json']);
  t.equal(list.code, 0, list.stderr);
  t.same((JSON.parse(list.lines.join('\n')) as { name: string }[]).map((i) => i.name).sort(), ['amy', 'howard', 'leonard', 'penny']);
  const noKey = await cli(['identities', 'list', '--db', config.gallery.db]);
  t.equal(noKey.code, 1);
  t.match(noKey.stderr, /is encrypted and no key was given/);
  t.match(noKey.stderr, /--config FILE/);
  // Leave the gallery as the other tests expect it.
  const g = openEncrypted();
  g.remove(summary.identity.id);
  g.close();
});

t.test('kill -9 during `keys rotate --reencrypt` at each step, then run again: nothing lost', async (t) => {
  // Filler identities so that the re-encryption takes many batches.
  const rand = mulberry32(11);
  const g = openEncrypted();
  g.enrollMany(Array.from({ length: 1500 }, (_, i) => ({ name: `filler ${i}`, templates: [template(randomUnit(128, rand), { modelId: 'filler_128d' })] })));
  g.close();
  const keyFile = config.privacy.encryption.keyFile;
  const check = async (label: string): Promise<void> => {
    // Whatever the key file holds now opens everything.
    const c = loadConfig(configFile);
    const gallery = openEncrypted(c);
    try {
      t.equal(gallery.stats().identities, PEOPLE.length + 1500, `${label}: every identity`);
      const amyTpl = gallery.listTemplates(ids.get('amy') as string)[0];
      t.equal(gallery.search(gallery.templateEmbedding(amyTpl.id), { modelId: EMBEDDER, k: 1 })[0].name, 'amy', `${label}: amy found`);
      t.equal(gallery.cropImage(gallery.listCrops(ids.get('penny'))[0].id).data.length, 112 * 112 * 3, `${label}: crops readable`);
    } finally {
      gallery.close();
    }
    const store = new SnapshotStore(c.events.snapshots.dir, { retentionMs: 86_400_000, maxFiles: 1000, encryption: encryptionFor(c) });
    t.same(await store.read(snapshotId, 'face'), faceJpeg, `${label}: the face snapshot, byte for byte`);
    t.same(await store.read(snapshotId, 'frame'), frameJpeg, `${label}: the frame snapshot`);
  };
  const before = kekId(readKeyFile(keyFile));
  const stops: [string, (line: string) => boolean][] = [
    ['after the new key file', (l) => l.startsWith('rotating')],
    ['after wrapping under both', (l) => l.startsWith('wrapped under the new key')],
    ['mid re-encryption', (l) => /^gallery: \d+ records re-encrypted$/.test(l) && Number(l.split(' ')[1]) >= 300],
    ['after the switch', (l) => l.startsWith('key file ')],
  ];
  for (const [label, at] of stops) {
    const r = await cli(['keys', 'rotate', '--config', configFile, '--reencrypt', '--batch', '100'], {}, at);
    t.equal(r.signal, 'SIGKILL', `killed ${label} (${r.lines.at(-1)}) ${r.stderr}`);
    await check(`killed ${label}`);
  }
  const done = await cli(['keys', 'rotate', '--config', configFile, '--reencrypt', '--batch', '100']);
  t.equal(done.code, 0, done.stderr);
  t.match(done.lines.at(-1), /^done/);
  await check('after the rerun');
  const after = kekId(readKeyFile(keyFile));
  t.not(after, before, 'the key changed');
  t.notOk(existsSync(`${keyFile}.next`), 'no rotation left half done');
  t.ok(existsSync(`${keyFile}.retired-${before}`), 'the first key is kept for old backups');
  // The old key no longer opens anything.
  const oldConfig = { ...config, privacy: { ...config.privacy, encryption: { ...config.privacy.encryption, keyFile: `${keyFile}.retired-${before}` } } } as Config;
  t.throws(() => openEncrypted(oldConfig), { code: 'PRIVACY_WRONG_KEY' });
});
