import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { cropRect, EventsError, isSnapshotId, SNAPSHOT_ID_PATTERN, SnapshotStore, snapshotTime } from '../../src/events/index.ts';
import type { RgbImage } from '../../src/types.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-snapshots-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 320x240 grey frame with a red rectangle where the "face" is. */
function frame(offset = 0): RgbImage {
  const width = 320;
  const height = 240;
  const backing = new Uint8Array(offset + width * height * 3);
  const data = backing.subarray(offset);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const face = x >= 100 && x < 160 && y >= 80 && y < 150;
      data[i] = face ? 230 : 90;
      data[i + 1] = face ? 20 : 90;
      data[i + 2] = face ? 20 : 90;
    }
  }
  return { data, width, height };
}

t.test('save writes a padded face crop and a downscaled frame', async (t) => {
  const store = new SnapshotStore(tmp(t), { retentionMs: 3_600_000, maxFiles: 100, frameMaxWidth: 160 });
  const id = await store.save(frame(), [100, 80, 160, 150], { timeMs: T0 });
  t.ok(SNAPSHOT_ID_PATTERN.test(id), `id ${id} matches the pattern`);
  t.equal(snapshotTime(id), T0, 'capture time encoded in the id');
  const face = await sharp(store.path(id, 'face')).metadata();
  const rect = cropRect([100, 80, 160, 150], 320, 240, 0.25)!;
  t.same(rect, { left: 82, top: 62, width: 96, height: 106 }, 'box padded by a quarter of its larger side');
  t.match(face, { format: 'jpeg', width: 96, height: 106 });
  const stats = await sharp(store.path(id, 'face')).stats();
  t.ok(stats.channels[0].mean > stats.channels[1].mean + 60, 'the crop is mostly the red face');
  t.match(await sharp(store.path(id, 'frame')).metadata(), { format: 'jpeg', width: 160, height: 120 });
  const bytes = await store.read(id);
  t.same([bytes[0], bytes[1]], [0xff, 0xd8], 'JPEG bytes');
  t.same(readdirSync(store.dir).sort(), [`${id}.face.jpg`, `${id}.frame.jpg`], 'no temp files left');
  const other = await store.save(frame(7), [300, 220, 400, 300], { timeMs: T0 });
  t.not(other, id, 'unique ids for the same instant');
  t.match(await sharp(store.path(other, 'face')).metadata(), { width: 320 - 275, height: 240 - 195 }, 'a box over the edge is clamped; frame data at an offset works');
  t.match(await sharp(store.path(other, 'frame')).metadata(), { width: 160 });
});

t.test('bad boxes and frames are refused', async (t) => {
  const store = new SnapshotStore(tmp(t), { retentionMs: 1000, maxFiles: 10 });
  await t.rejects(store.save(frame(), [400, 300, 500, 400]), { code: 'SNAPSHOT_BOX_INVALID' });
  await t.rejects(store.save(frame(), [10, 10, 5, 50]), { code: 'SNAPSHOT_BOX_INVALID' });
  await t.rejects(store.save(frame(), [Number.NaN, 0, 10, 10]), { code: 'SNAPSHOT_BOX_INVALID' });
  await t.rejects(store.save({ data: new Uint8Array(10), width: 320, height: 240 }, [0, 0, 10, 10]), { code: 'SNAPSHOT_FAILED' });
  t.same(readdirSync(store.dir), [], 'nothing written');
});

t.test('path(): ids are validated strictly, so nothing escapes the directory', async (t) => {
  const dir = tmp(t);
  const store = new SnapshotStore(dir, { retentionMs: 1000, maxFiles: 10 });
  writeFileSync(join(dir, '..', 'secret.face.jpg'), 'not yours');
  t.teardown(() => rmSync(join(dir, '..', 'secret.face.jpg'), { force: true }));
  const attempts = [
    '../x',
    '../secret',
    '../../../../etc/passwd',
    '/etc/passwd',
    `${dir}/abcdefgh`,
    '%2e%2e%2fsecret',
    '..%2F..%2Fetc%2Fpasswd',
    '%2E%2E%5Csecret',
    '..\\..\\secret',
    'abcdefgh/../../secret',
    'abcdefgh\0',
    'abcdefgh.face.jpg',
    'ABCDEFGHIJ',
    'abc',
    'a'.repeat(65),
    '',
    ' abcdefgh',
    'abcdéfgh',
    'abcdefgh\n',
  ];
  for (const id of attempts) {
    t.throws(() => store.path(id), { code: 'SNAPSHOT_ID_INVALID' }, `path(${JSON.stringify(id)})`);
    await t.rejects(store.read(id), { code: 'SNAPSHOT_ID_INVALID' }, `read(${JSON.stringify(id)})`);
    t.notOk(isSnapshotId(id));
  }
  t.throws(() => store.path('abcdefgh', '../../x' as 'face'), { code: 'SNAPSHOT_ID_INVALID' }, 'kind is checked too');
  t.throws(() => store.path(42 as unknown as string), { code: 'SNAPSHOT_ID_INVALID' });
  t.equal(store.path('abcdefgh'), join(store.dir, 'abcdefgh.face.jpg'), 'a valid id maps inside the directory');
  t.equal(store.path('0mn9x2s8g-0123456789', 'frame'), join(store.dir, '0mn9x2s8g-0123456789.frame.jpg'));
  await t.rejects(store.read('abcdefgh'), { code: 'SNAPSHOT_NOT_FOUND' });
  try {
    store.path('../x');
  } catch (e) {
    t.ok(e instanceof EventsError);
    t.match((e as EventsError).describe(), /fix: a snapshot id is 8-64 characters/);
  }
});

t.test('prune: by age, then by count; foreign files untouched; stale temp files removed', async (t) => {
  const store = new SnapshotStore(tmp(t), { retentionMs: 60_000, maxFiles: 3 });
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) ids.push(await store.save(frame(), [100, 80, 160, 150], { timeMs: T0 + i * 10_000 }));
  writeFileSync(join(store.dir, 'README.txt'), 'keep me');
  writeFileSync(join(store.dir, `${ids[7]}.face.jpg.tmp-deadbeef`), 'half');
  writeFileSync(join(store.dir, `${ids[7]}.frame.jpg.tmp-cafebabe`), 'in flight');
  const old = Date.now() / 1000 - 3600;
  utimesSync(join(store.dir, `${ids[7]}.face.jpg.tmp-deadbeef`), old, old);
  t.same((await store.list()).map((s) => s.id), ids, 'oldest first');
  const r = await store.prune(T0 + 100_000); // age limit keeps T0+40s.. (6 of them), count keeps 3
  t.same(r, { removed: 5 });
  t.same((await store.list()).map((s) => s.id), ids.slice(5));
  for (const id of ids.slice(0, 5)) t.notOk(existsSync(store.path(id, 'face')) || existsSync(store.path(id, 'frame')), `${id} gone`);
  t.ok(existsSync(join(store.dir, 'README.txt')), 'foreign file kept');
  t.notOk(existsSync(join(store.dir, `${ids[7]}.face.jpg.tmp-deadbeef`)), 'stale temp file removed');
  t.ok(existsSync(join(store.dir, `${ids[7]}.frame.jpg.tmp-cafebabe`)), 'fresh temp file (a save in flight) kept');
  t.same(await store.prune(T0 + 100_000), { removed: 0 }, 'idempotent');
  t.same(await store.prune(T0 + 10_000_000), { removed: 3 }, 'everything expires');
});
