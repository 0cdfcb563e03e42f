import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { addSnapshotWraps, pruneSnapshotWraps, retireSnapshotKeys, SNAPSHOT_KEYRING, SnapshotStore } from '../../src/events/snapshots.ts';
import { envelopeKeyId, newKek } from '../../src/privacy/index.ts';
import type { RgbImage } from '../../src/types.ts';

/** A 64x48 gradient frame: real JPEG bytes come out of sharp. */
function frame(seed: number): RgbImage {
  const w = 64;
  const h = 48;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 13) % 256;
  return { data, width: w, height: h };
}

const opts = (kek?: Buffer) => ({ retentionMs: 86_400_000, maxFiles: 100, ...(kek ? { encryption: { kek, source: 'test' } } : {}) });

t.test('encrypted store: .jpg.enc envelopes, read() gives the JPEG back, list/prune see them', async (t) => {
  const dir = t.testdir();
  const kek = newKek();
  const s = new SnapshotStore(dir, opts(kek));
  t.ok(s.encrypted);
  const id = await s.save(frame(1), [10, 10, 40, 40], { timeMs: 1_000 });
  const names = readdirSync(dir).sort();
  t.same(names, [`${id}.face.jpg.enc`, `${id}.frame.jpg.enc`, SNAPSHOT_KEYRING].sort());
  const face = await s.read(id, 'face');
  t.same(face.subarray(0, 3), Buffer.from([0xff, 0xd8, 0xff]), 'a JPEG');
  t.notOk(readFileSync(join(dir, `${id}.face.jpg.enc`)).includes(face.subarray(0, 64)), 'not on disk in the clear');
  t.same((await s.list()).map((x) => x.id), [id]);
  t.match(readFileSync(join(dir, SNAPSHOT_KEYRING), 'utf8'), /"wrapped"/);
  await t.rejects(s.read('zzzzzzzzz-0000000000'), { code: 'SNAPSHOT_NOT_FOUND' });
  t.same(await s.prune(1_000 + 2 * 86_400_000), { removed: 1 });
  t.same(readdirSync(dir), [SNAPSHOT_KEYRING], 'pruned envelopes are gone');
});

t.test('a swapped or altered file fails; a wrong key or no key refuses the folder', async (t) => {
  const dir = t.testdir();
  const kek = newKek();
  const s = new SnapshotStore(dir, opts(kek));
  const a = await s.save(frame(1), [10, 10, 40, 40]);
  const b = await s.save(frame(2), [10, 10, 40, 40]);
  writeFileSync(join(dir, `${a}.face.jpg.enc`), readFileSync(join(dir, `${b}.face.jpg.enc`)));
  await t.rejects(s.read(a, 'face'), { code: 'PRIVACY_CORRUPT' }, "b's face under a's name");
  writeFileSync(join(dir, `${b}.frame.jpg.enc`), readFileSync(join(dir, `${b}.face.jpg.enc`)));
  await t.rejects(s.read(b, 'frame'), { code: 'PRIVACY_CORRUPT' }, 'a face as the frame');
  t.throws(() => new SnapshotStore(dir, opts(newKek())), { code: 'PRIVACY_WRONG_KEY' });
  t.throws(() => new SnapshotStore(dir, opts()), { code: 'PRIVACY_MISSING_KEY' });
});

t.test('turning encryption on: plain JPEGs are served, then encrypted in place', async (t) => {
  const dir = t.testdir();
  const plain = new SnapshotStore(dir, opts());
  const id = await plain.save(frame(3), [5, 5, 30, 30]);
  const jpeg = await plain.read(id, 'face');
  const s = new SnapshotStore(dir, opts(newKek()));
  t.same(await s.read(id, 'face'), jpeg, 'a plain file is still served');
  t.equal(await s.encryptExisting(), 2);
  t.notOk(readdirSync(dir).some((n) => n.endsWith('.jpg')), 'no plain JPEG left');
  t.same(await s.read(id, 'face'), jpeg, 'the same bytes, now decrypted');
});

t.test('rotation: wraps under both keys, re-encryption under a new data key, then only the new key opens', async (t) => {
  const dir = t.testdir();
  const oldKek = newKek();
  const nextKek = newKek();
  const s = new SnapshotStore(dir, opts(oldKek));
  const ids = [await s.save(frame(4), [5, 5, 30, 30]), await s.save(frame(5), [5, 5, 30, 30])];
  const before = await Promise.all(ids.map((id) => s.read(id, 'frame')));
  const keys = addSnapshotWraps(dir, oldKek, nextKek, { newDataKey: true, now: 1 });
  t.equal(keys?.active, 2);
  t.ok(new SnapshotStore(dir, opts(oldKek)) && new SnapshotStore(dir, opts(nextKek)), 'both keys open it mid-rotation');
  // A store opened before the rotation reads files re-encrypted under the new data key (reloads its keyring).
  const early = new SnapshotStore(dir, opts(oldKek));
  t.equal(await new SnapshotStore(dir, opts(nextKek)).reencrypt(keys!), 4);
  const file = readFileSync(join(dir, `${ids[0]}.face.jpg.enc`));
  t.equal(envelopeKeyId(file, { table: 'snapshots', column: 'face', id: ids[0] }), 2);
  t.same(await early.read(ids[1], 'frame'), before[1]);
  retireSnapshotKeys(dir, 2);
  pruneSnapshotWraps(dir, nextKek);
  t.throws(() => new SnapshotStore(dir, opts(oldKek)), { code: 'PRIVACY_WRONG_KEY' });
  const after = new SnapshotStore(dir, opts(nextKek));
  t.same(await Promise.all(ids.map((id) => after.read(id, 'frame'))), before);
});
