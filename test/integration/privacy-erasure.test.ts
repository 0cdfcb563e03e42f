import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { encryptionFor, openBoxData } from '../../src/app/storage.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { runKeysInit } from '../../src/cli/keys.ts';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import type { Event, NewEvent } from '../../src/events/index.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { cosine } from '../../src/lib/vectors.ts';
import { calibratedThresholds } from '../../src/models/calibration.ts';
import { analyzeFace } from '../../src/recognize/analyze.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import type { RgbImage } from '../../src/types.ts';
import { acceptedVerdict, bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * Erasure on real data, encrypted at rest: a person who was first an unknown face (two clusters,
 * merged, then named) and then enrolled from photos, seen at two doors with face snapshots of real
 * photos, beside two other people. `facegate identities erase` is killed with SIGKILL at several
 * steps and run again; then the data folder holds no byte of the name, the product's own detector
 * and embedder find the person in no snapshot and no crop it can still read (the same scan finds
 * them before), their past decisions are still in the log under a tombstone, and the receipt's
 * counts are those of the plan.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'test/helpers/gallery-cli.ts');
const CHILD = join(ROOT, 'test/helpers/privacy-erase-child.ts');
const EMBEDDER = 'mobilefacenet_paddlex_128d';
const NAME = 'Amy Farrah Fowler';
const CONSENT = { givenAt: 1, recordedBy: 'test', method: 'written', purpose: 'access control', expiresAt: null, text: `form 17 signed by ${NAME}` };

const dir = mkdtempSync(join(tmpdir(), 'fg-erase-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'facegate.yaml');
writeFileSync(
  configFile,
  ['privacy:', '  encryption:', '    enabled: true', '    keyFile: keys/facegate.key', 'gallery:', '  db: data/gallery.sqlite', 'events:', '  db: data/events.sqlite', '  snapshots:', '    dir: data/snapshots', `models:`, `  embedder: ${EMBEDDER}`, ''].join('\n'),
);

let detector: Detector;
let embedder: Embedder;
let config: Config;
let threshold: number;
let amyId = '';
let amyTemplates: Float32Array[] = [];
const expected = { templates: 0, crops: 2, unknownClusters: 2, events: 0, snapshots: 3, clearCameras: ['door'] };

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

async function photo(person: string, n: number): Promise<RgbImage> {
  return (await decodeImage(bbtPhoto(person, n))).image;
}

/** Every face the product finds in an image, embedded. */
async function facesIn(image: RgbImage): Promise<Float32Array[]> {
  const faces = await detector.detect(image);
  return Promise.all(faces.map(async (f) => (await analyzeFace(image, f, embedder)).embedding));
}

/** Best similarity to the erased person over every snapshot and crop still readable (decrypted). */
async function scanForAmy(): Promise<{ best: number; images: number }> {
  const data = openBoxData(config);
  try {
    let best = -1;
    let images = 0;
    const consider = (e: Float32Array): void => {
      for (const tpl of amyTemplates) best = Math.max(best, cosine(e, tpl));
    };
    for (const s of await data.snapshots.list()) {
      for (const kind of ['face', 'frame'] as const) {
        const jpeg = await data.snapshots.read(s.id, kind).catch(() => undefined);
        if (!jpeg) continue;
        images++;
        for (const e of await facesIn((await decodeImage(jpeg)).image)) consider(e);
      }
    }
    for (const c of data.gallery.listCrops()) {
      images++;
      consider(await embedder.embed(data.gallery.cropImage(c.id)));
    }
    return { best, images };
  } finally {
    data.close();
  }
}

function grepData(needle: Buffer): string[] {
  return filesUnder(join(dir, 'data')).filter((f) => readFileSync(f).includes(needle));
}

t.before(async () => {
  runKeysInit(configFile);
  config = loadConfig(configFile);
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder(EMBEDDER);
  threshold = calibratedThresholds(EMBEDDER).unmasked;
  openGallery(config.gallery.db, { encryption: encryptionFor(config) }).close();
  const data = openBoxData(config);
  const { gallery, eventLog, snapshots } = data;
  const T = Date.UTC(2026, 11, 1, 9);
  const log = (e: NewEvent): Event => eventLog.append(e);
  const snap = async (person: string, n: number, timeMs: number): Promise<string> => {
    const image = await photo(person, n);
    const [face] = await detector.detect(image);
    if (!face) throw new Error(`no face in ${person}${n}`);
    return snapshots.save(image, face.box, { timeMs });
  };
  const emb = async (person: string, n: number): Promise<Float32Array> => (await acceptedVerdict(bbtPhoto(person, n), detector, embedder)).templates.find((x) => !x.masked)?.embedding as Float32Array;

  // Amy first as a stranger: two clusters (merged by the operator), then named.
  const u1 = gallery.upsertUnknown(await emb('amy', 4), EMBEDDER, T, 0.99);
  const u2 = gallery.upsertUnknown(await emb('amy', 5), EMBEDDER, T + 1000, 0.99);
  t.not(u1.id, u2.id, 'two clusters');
  log({ type: 'face.unknown', timeMs: T, cameraId: 'lobby', trackId: 't1', data: { unknownId: u1.id, masked: false, snapshotId: await snap('amy', 4, T) } });
  log({ type: 'face.unknown', timeMs: T + 1000, cameraId: 'lobby', trackId: 't2', data: { unknownId: u2.id, masked: false, snapshotId: await snap('amy', 5, T + 1000) } });
  gallery.mergeUnknowns(u2.id, u1.id);
  log({ type: 'unknown.merged', timeMs: T + 2000, data: { actor: 'tok_admin', from: u2.id, into: u1.id, count: 1 } });
  const amy = gallery.promoteUnknown(u1.id, NAME, { groups: ['staff'], consent: CONSENT });
  amyId = amy.id;
  log({ type: 'identity.created', timeMs: T + 3000, identityId: amy.id, data: { actor: 'tok_admin', name: NAME, groups: ['staff'], templates: 1, unknownId: u1.id, consent: CONSENT } });
  const photos = [await acceptedVerdict(bbtPhoto('amy', 1), detector, embedder), await acceptedVerdict(bbtPhoto('amy', 2), detector, embedder)];
  gallery.addTemplates(amy.id, photos.flatMap((v) => v.templates), photos.map((v) => v.crop));
  log({ type: 'identity.updated', timeMs: T + 4000, identityId: amy.id, data: { actor: 'tok_admin', templatesAdded: photos.flatMap((v) => v.templates).length } });
  expected.templates = gallery.getIdentity(amy.id)?.templateTotal ?? 0;
  amyTemplates = gallery.listTemplates(amy.id).filter((x) => !x.masked).map((x) => gallery.templateEmbedding(x.id));

  // Others, enrolled from photos.
  const others = new Map<string, string>();
  for (const person of ['penny', 'howard']) {
    const vs = [await acceptedVerdict(bbtPhoto(person, 1), detector, embedder), await acceptedVerdict(bbtPhoto(person, 2), detector, embedder)];
    others.set(person, gallery.enroll({ name: person, templates: vs.flatMap((v) => v.templates), crops: vs.map((v) => v.crop), consent: { ...CONSENT, text: `form 18 signed by ${person}` } }).id);
  }

  // At the doors: Amy last at 'door' (its retained MQTT last_face shows her), Penny last at 'lobby'.
  const amySnap = await snap('amy', 3, T + 10_000);
  log({ type: 'face.recognized', timeMs: T + 10_000, cameraId: 'door', trackId: 't3', identityId: amy.id, data: { name: NAME, score: 0.7, masked: false, snapshotId: amySnap } });
  log({ type: 'gate.granted', timeMs: T + 10_050, gateId: 'main', cameraId: 'door', trackId: 't3', identityId: amy.id, data: { name: NAME, score: 0.7, masked: false } });
  log({ type: 'gate.denied', timeMs: T + 20_000, gateId: 'main', cameraId: 'door', trackId: 't4', identityId: amy.id, data: { reason: 'outside-schedule', name: NAME, score: 0.66, masked: false } });
  const pennySnap = await snap('penny', 3, T + 30_000);
  log({ type: 'face.recognized', timeMs: T + 30_000, cameraId: 'lobby', trackId: 't5', identityId: others.get('penny') as string, data: { name: 'penny', score: 0.8, masked: false, snapshotId: pennySnap } });
  log({ type: 'gate.granted', timeMs: T + 40_000, gateId: 'main', cameraId: 'door2', trackId: 't6', identityId: others.get('howard') as string, data: { name: 'howard', score: 0.75, masked: false } });
  // face.unknown x2, identity.created, identity.updated, face.recognized, gate.granted, gate.denied
  expected.events = 7;
  data.close();
});

t.teardown(async () => {
  await detector?.close();
  await embedder?.close();
});

function runChild(pauseAt: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, configFile, NAME, pauseAt], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const steps: string[] = [];
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      steps.push(line);
      if (line === `step ${pauseAt}`) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(steps) : reject(new Error(`child exited ${code} before ${pauseAt}: ${stderr}`))));
  });
}

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('subject-access export: profile, consent, crops, events and snapshots, decrypted', async (t) => {
  const out = join(dir, 'amy.zip');
  const r = cli('identities', 'export', NAME, '--config', configFile, '--out', out);
  t.equal(r.code, 0, r.stderr);
  t.equal(statSync(out).mode & 0o777, 0o600, 'the export is private');
  const py = spawnSync('python3', ['-c', 'import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(json.dumps({"names": z.namelist(), "bad": z.testzip(), "profile": json.loads(z.read("profile.json")), "events": json.loads(z.read("events.json"))}))', out], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  const z = JSON.parse(py.stdout) as { names: string[]; bad: string | null; profile: { identity: { id: string; name: string }; consent: { text: string }; unknownClusters: string[] }; events: Event[] };
  t.equal(z.bad, null, 'every CRC checks');
  t.equal(z.profile.identity.name, NAME);
  t.equal(z.profile.identity.id, amyId);
  t.equal(z.profile.consent.text, CONSENT.text);
  t.equal(z.profile.unknownClusters.length, 2);
  t.equal(z.events.length, expected.events, 'the events about her');
  t.equal(z.names.filter((n) => n.startsWith('crops/')).length, 2, 'two enrollment crops');
  t.equal(z.names.filter((n) => n.startsWith('snapshots/')).length, 2 * expected.snapshots, 'face + frame of each snapshot');
  const unz = spawnSync('unzip', ['-l', out], { encoding: 'utf8' });
  t.equal(unz.status, 0, 'unzip reads it');
  // The JPEGs are decrypted images of her: the product finds her in the exported crops.
  const crop = spawnSync('python3', ['-c', 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read([n for n in z.namelist() if n.startswith("snapshots/") and n.endswith(".face.jpg")][0]))', out], { maxBuffer: 1 << 24 });
  const faces = await facesIn((await decodeImage(crop.stdout)).image);
  t.ok(faces.some((e) => amyTemplates.some((tpl) => cosine(e, tpl) > threshold)), 'an exported snapshot shows her');
  rmSync(out);
});

t.test('erase: killed at three steps, run again, complete; nothing left that names or shows her', async (t) => {
  const before = await scanForAmy();
  t.ok(before.best > threshold, `the scan finds her before the erasure (best ${before.best.toFixed(3)} > ${threshold})`);
  t.ok(grepData(Buffer.from(NAME)).length > 0, 'her name is in the data folder before');

  t.match(await runChild('planned'), ['step journal', 'step planned'], 'killed after the plan');
  {
    const d = openBoxData(config);
    t.ok(d.gallery.getIdentity(amyId), 'still enrolled after a kill before the gallery step');
    t.equal(d.gallery.pendingErasures().length, 1, 'one pending erasure');
    d.close();
  }
  await runChild('snapshots');
  {
    const d = openBoxData(config);
    t.notOk(d.gallery.getIdentity(amyId), 'the gallery rows are gone');
    t.equal(d.gallery.pendingErasures().length, 1, 'still pending: found again by her name');
    d.close();
  }
  await runChild('published');

  const r = cli('identities', 'erase', NAME, '--config', configFile, '--json');
  t.equal(r.code, 0, r.stderr);
  const receipt = JSON.parse(r.stdout) as Record<string, unknown>;
  t.match(receipt, { identityId: amyId, reason: 'request', ...expected, secureDelete: true, walTruncated: true }, 'the receipt counts the plan');
  t.notOk(r.stdout.includes(NAME), 'the receipt does not name her');

  const again = cli('identities', 'erase', NAME, '--config', configFile);
  t.equal(again.code, 1, 'a second erasure finds nobody');
  t.match(again.stderr, /no identity/);

  const d = openBoxData(config);
  try {
    const receipts = d.eventLog.query({ types: ['identity.erased'] });
    t.equal(receipts.length, 1, 'one identity.erased event, though the run that published it was killed');
    t.match(receipts[0].data, { ...expected, erasureId: receipt.erasureId });
    t.notOk(JSON.stringify(receipts[0]).includes(NAME), 'the logged receipt does not name her');
    const history = d.eventLog.query({ identityId: receipt.tombstone as string });
    t.same(history.map((e) => e.type).sort(), ['gate.denied', 'gate.granted', 'identity.created', 'identity.erased', 'identity.updated', 'face.recognized'].sort(), 'her decisions stay, under the tombstone');
    const denied = history.find((e) => e.type === 'gate.denied');
    t.match(denied, { gateId: 'main', cameraId: 'door', data: { reason: 'outside-schedule', name: '[erased]', score: 0.66, erased: true } }, 'decision kept: gate, time, reason');
    t.equal(d.eventLog.query({ identityId: amyId }).length, 0, 'no event carries her id');
    t.equal(d.eventLog.query({ types: ['face.unknown'] }).filter((e) => e.data.snapshotId || e.data.unknownId).length, 0, 'her sightings as a stranger keep no snapshot and no cluster id');
    t.equal((await d.snapshots.list()).length, 1, "only Penny's snapshot is left");
    t.equal(d.gallery.listIdentities().length, 2);
    t.same(d.gallery.listUnknowns(), [], 'no cluster');
    t.equal(d.gallery.pendingErasures().length, 0);
    const [journal] = d.gallery.listErasures();
    t.match(journal, { identityId: amyId, name: null }, 'the journal keeps the id (for a fleet replay), not the name');
  } finally {
    d.close();
  }

  t.same(grepData(Buffer.from(NAME)), [], 'no file under the data folder holds her name (gallery, events, WALs, snapshots)');
  t.same(grepData(Buffer.from(CONSENT.text)), [], 'nor her consent text');
  t.same(grepData(Buffer.from(amyId)).map((f) => f.replace(dir, '')), ['/data/gallery.sqlite'], 'her id only in the erasure journal');
  const after = await scanForAmy();
  t.ok(after.images >= 4, `images still readable were scanned (${after.images})`);
  t.ok(after.best < threshold, `no readable image shows her (best ${after.best.toFixed(3)} < ${threshold})`);
});
