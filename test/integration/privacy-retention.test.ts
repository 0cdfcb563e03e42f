import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runRetention } from '../../src/app/retention.ts';
import { encryptionFor, openBoxData } from '../../src/app/storage.ts';
import { runKeysInit } from '../../src/cli/keys.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import type { Event, NewEvent } from '../../src/events/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';
import { acceptedVerdict, bbtPhoto } from '../helpers/gallery-real.ts';

/**
 * The retention run on real data (encrypted at rest), its clock injected: unknown faces go with
 * their snapshots after privacy.retention.unknownHours and not before; a visitor is erased at
 * their validUntil (an identity.erased receipt, their name nowhere); a staff member stays; every
 * run is a privacy.retention event with its counts.
 */

const EMBEDDER = 'mobilefacenet_paddlex_128d';
const VISITOR = 'Stuart Bloom the visitor';
const H = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 8);

const dir = mkdtempSync(join(tmpdir(), 'fg-retention-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'facegate.yaml');
writeFileSync(configFile, ['privacy:', '  encryption:', '    enabled: true', '    keyFile: keys/facegate.key', '  retention:', '    unknownHours: 24', 'gallery:', '  db: data/gallery.sqlite', 'events:', '  db: data/events.sqlite', '  snapshots:', '    dir: data/snapshots', '    retentionDays: 30', ''].join('\n'));

let detector: Detector;
let embedder: Embedder;

t.before(async () => {
  runKeysInit(configFile);
  detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  embedder = await createEmbedder(EMBEDDER);
});
t.teardown(async () => {
  await detector?.close();
  await embedder?.close();
});

function filesUnder(d: string): string[] {
  return readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

t.test('unknowns after their hours, visitors at validUntil, every run audited', async (t) => {
  const config = loadConfig(configFile);
  openGallery(config.gallery.db, { encryption: encryptionFor(config) }).close();
  const data = openBoxData(config);
  t.teardown(() => data.close());
  const { gallery, eventLog, snapshots } = data;
  const published: Event[] = [];
  const publish = (e: NewEvent): Event => {
    const logged = eventLog.append(e);
    published.push(logged);
    return logged;
  };
  const sighting = async (person: string, n: number, timeMs: number, camera: string): Promise<{ unknownId: string; snapshotId: string }> => {
    const v = await acceptedVerdict(bbtPhoto(person, n), detector, embedder);
    const image = (await decodeImage(bbtPhoto(person, n))).image;
    const [face] = await detector.detect(image);
    const u = gallery.upsertUnknown(v.templates.find((x) => !x.masked)?.embedding as Float32Array, EMBEDDER, timeMs, 0.99);
    const snapshotId = await snapshots.save(image, face.box, { timeMs });
    publish({ type: 'face.unknown', timeMs, cameraId: camera, trackId: `t${n}`, data: { unknownId: u.id, masked: false, snapshotId } });
    return { unknownId: u.id, snapshotId };
  };
  const old = await sighting('raj', 3, T0, 'lobby');
  const recent = await sighting('sheldon', 3, T0 + 20 * H, 'lobby');

  const enrollOf = async (person: string) => {
    const vs = [await acceptedVerdict(bbtPhoto(person, 1), detector, embedder), await acceptedVerdict(bbtPhoto(person, 2), detector, embedder)];
    return { templates: vs.flatMap((v) => v.templates), crops: vs.map((v) => v.crop) };
  };
  const visitor = gallery.enroll({ name: VISITOR, ...(await enrollOf('stuart')), validUntil: T0 + 30 * H });
  const staff = gallery.enroll({ name: 'penny', ...(await enrollOf('penny')) });
  t.equal(gallery.getIdentity(visitor.id)?.validUntil, T0 + 30 * H, 'validUntil stored');
  publish({ type: 'face.recognized', timeMs: T0 + 21 * H, cameraId: 'door', trackId: 't9', identityId: visitor.id, data: { name: VISITOR, score: 0.7, masked: false } });
  publish({ type: 'gate.granted', timeMs: T0 + 21 * H, gateId: 'main', cameraId: 'door', trackId: 't9', identityId: visitor.id, data: { name: VISITOR, score: 0.7, masked: false } });

  const settings = { unknownHours: 24, intervalMinutes: 60 };
  const state: { previousCutoffMs?: number } = {};
  // 23 h after the first sighting: nothing is old enough.
  const r1 = await runRetention({ gallery, eventLog, snapshots, publish }, settings, T0 + 23 * H, state);
  t.match(r1, { unknownClusters: 0, unknownSnapshots: 0, expiredIdentities: 0 });
  t.equal(gallery.listUnknowns().length, 2);

  // 25 h: the first stranger goes (cluster + snapshot), the second (seen at 20 h) stays.
  const r2 = await runRetention({ gallery, eventLog, snapshots, publish }, settings, T0 + 25 * H, state);
  t.match(r2, { unknownClusters: 1, unknownSnapshots: 1, expiredIdentities: 0 });
  t.same(gallery.listUnknowns().map((u) => u.id), [recent.unknownId]);
  t.same((await snapshots.list()).map((s) => s.id), [recent.snapshotId]);
  t.ok(gallery.getIdentity(visitor.id), 'the visitor is still valid at 25 h');

  // 31 h: the visitor's validUntil (30 h) has passed: erased; the staff member stays.
  const r3 = await runRetention({ gallery, eventLog, snapshots, publish }, settings, T0 + 31 * H, state);
  t.match(r3, { expiredIdentities: 1, unknownClusters: 0 });
  t.notOk(gallery.getIdentity(visitor.id), 'visitor erased');
  t.ok(gallery.getIdentity(staff.id), 'staff kept');
  const erased = published.filter((e) => e.type === 'identity.erased');
  t.equal(erased.length, 1);
  t.match(erased[0].data, { reason: 'retention', actor: 'retention', events: 2, templates: visitor.templateTotal, crops: 2 });
  t.equal(eventLog.query({ types: ['gate.granted'] })[0].data.name, '[erased]', 'the decision stays, without the name');

  // 45 h: the second stranger (seen at 20 h) goes too.
  const r4 = await runRetention({ gallery, eventLog, snapshots, publish }, settings, T0 + 45 * H, state);
  t.match(r4, { unknownClusters: 1, unknownSnapshots: 1 });
  t.same(await snapshots.list(), []);

  const audits = published.filter((e) => e.type === 'privacy.retention');
  t.equal(audits.length, 4, 'one audit event per run');
  t.same(audits.map((e) => e.timeMs), [23, 25, 31, 45].map((h) => T0 + h * H), 'at the injected times');
  gallery.checkpointTruncate();
  eventLog.checkpointTruncate();
  t.same(filesUnder(join(dir, 'data')).filter((f) => readFileSync(f).includes(Buffer.from(VISITOR))), [], "the visitor's name is nowhere under the data folder");
});
