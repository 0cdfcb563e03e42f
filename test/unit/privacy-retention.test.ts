import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { camerasShowing, clustersOf, pendingFor, snapshotIdsOf } from '../../src/app/erasure.ts';
import { retentionCutoffs, unknownSnapshotWindow } from '../../src/app/retention.ts';
import { parseValidUntil } from '../../src/cli/identities.ts';
import { ERASED_NAME, EventLog, eventSchema, tombstoneEvent, type Event } from '../../src/events/index.ts';
import type { ErasureRow } from '../../src/gallery/index.ts';
import { isPrivacyError, zipStore } from '../../src/privacy/index.ts';

const H = 3_600_000;

t.test('retention cutoffs and the unknown-snapshot window', async (t) => {
  t.same(retentionCutoffs(100 * H, { unknownHours: 24 }), { unknownBeforeMs: 76 * H });
  t.same(retentionCutoffs(100 * H, { unknownHours: 0.5 }), { unknownBeforeMs: 99.5 * H });
  t.same(unknownSnapshotWindow(undefined, 76 * H, H), { fromMs: undefined, toMs: 76 * H }, 'first run of a process: everything older');
  t.same(unknownSnapshotWindow(75 * H, 76 * H, H), { fromMs: 74 * H, toMs: 76 * H }, 'later runs: since the last cutoff, one interval of overlap');
});

const ev = (e: Partial<Event> & Pick<Event, 'type' | 'data'>, id = 1): Event => ({ v: 1, id, time: '2026-12-01T09:00:00.000Z', timeMs: Date.UTC(2026, 11, 1, 9), ...e }) as Event;

t.test('clusters that became a person: the named one and every one merged into it, transitively', async (t) => {
  const created = [ev({ type: 'identity.created', identityId: 'id_a', data: { actor: 'x', name: 'A', groups: [], templates: 1, unknownId: 'unk_5' } })];
  const merges = [
    ev({ type: 'unknown.merged', data: { actor: 'x', from: 'unk_3', into: 'unk_5', count: 1 } }),
    ev({ type: 'unknown.merged', data: { actor: 'x', from: 'unk_1', into: 'unk_3', count: 1 } }),
    ev({ type: 'unknown.merged', data: { actor: 'x', from: 'unk_9', into: 'unk_8', count: 1 } }),
  ];
  t.same(clustersOf(created, merges), ['unk_1', 'unk_3', 'unk_5']);
  t.same(clustersOf([ev({ type: 'identity.created', identityId: 'id_a', data: { actor: 'x', name: 'A', groups: [], templates: 2 } })], merges), [], 'enrolled from photos: none');
});

t.test('snapshot ids, cameras whose last face is erased, pending erasures by id or name', async (t) => {
  t.same(snapshotIdsOf([ev({ type: 'face.unknown', cameraId: 'c', trackId: 't', data: { masked: false, snapshotId: 'abcdefgh1' } }), ev({ type: 'gate.granted', data: { masked: false } } as never), ev({ type: 'face.unknown', cameraId: 'c', trackId: 't', data: { masked: false, snapshotId: 'abcdefgh1' } })]), ['abcdefgh1']);
  t.same(camerasShowing(new Map([['door', 7], ['lobby', 9]]), [3, 7]), ['door']);
  const rows: ErasureRow[] = [
    { id: 'er_1', identityId: 'id_1', name: 'Ada Lovelace', actor: 'a', reason: 'request', plan: null, startedAt: 1, finishedAt: null },
    { id: 'er_2', identityId: 'id_2', name: null, actor: 'a', reason: 'request', plan: null, startedAt: 2, finishedAt: null },
  ];
  t.equal(pendingFor(rows, 'id_2')?.id, 'er_2');
  t.equal(pendingFor(rows, 'Ada Lovelace')?.id, 'er_1');
  t.equal(pendingFor(rows, 'ada lovelace')?.id, 'er_1', 'names match without case, as the gallery resolves them');
  t.equal(pendingFor(rows, 'Grace'), undefined);
});

t.test('tombstone: name and id replaced, what shows them dropped, the decision kept; idempotent and valid', async (t) => {
  const granted = ev({ type: 'gate.granted', gateId: 'main', cameraId: 'door', trackId: 't1', identityId: 'id_ada', data: { name: 'Ada', score: 0.71, masked: false, snapshotId: 'abcdefgh1' } });
  const once = tombstoneEvent(granted, 'erased:er_1');
  t.match(once, { id: 1, type: 'gate.granted', gateId: 'main', cameraId: 'door', trackId: 't1', timeMs: granted.timeMs, identityId: 'erased:er_1', data: { name: ERASED_NAME, score: 0.71, masked: false, erased: true } });
  t.notOk('snapshotId' in once.data);
  t.same(tombstoneEvent(once, 'erased:er_1'), once, 'idempotent');
  t.ok(eventSchema.safeParse(once).success, 'still a valid v1 event');
  const created = tombstoneEvent(ev({ type: 'identity.created', identityId: 'id_ada', data: { actor: 'x', name: 'Ada', groups: ['staff'], templates: 1, unknownId: 'unk_2', consent: { text: 'form by Ada' } } }), 'erased:er_1');
  t.same(created.data, { actor: 'x', name: ERASED_NAME, groups: ['staff'], templates: 1, erased: true });
  const sighting = tombstoneEvent(ev({ type: 'face.unknown', cameraId: 'c', trackId: 't', data: { unknownId: 'unk_2', masked: false, snapshotId: 'abcdefgh1' } }), 'erased:er_1');
  t.equal(sighting.identityId, undefined, 'an event without an identity gets none');
  t.same(sighting.data, { masked: false, erased: true });
});

t.test('EventLog.tombstone rewrites in place (ids kept, pruned ids skipped) and about() finds the events', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const T = 1_700_000_000_000;
  const a = log.append({ type: 'face.recognized', timeMs: T, cameraId: 'door', trackId: 't', identityId: 'id_ada', data: { name: 'Ada', score: 0.7, masked: false } });
  const b = log.append({ type: 'gate.denied', timeMs: T + 1, gateId: 'g', cameraId: 'door', trackId: 't', data: { reason: 'unknown', name: 'Ada', masked: false } });
  const c = log.append({ type: 'face.unknown', timeMs: T + 2, cameraId: 'door', trackId: 't2', data: { unknownId: 'unk_1', masked: false } });
  const other = log.append({ type: 'face.recognized', timeMs: T + 3, cameraId: 'door', trackId: 't3', identityId: 'id_bob', data: { name: 'Bob', score: 0.7, masked: false } });
  t.same(log.about('id_ada').map((e) => e.id), [a.id]);
  t.same(log.about('id_ada', { name: 'Ada', unknownIds: ['unk_1'] }).map((e) => e.id), [a.id, b.id, c.id]);
  t.equal(log.tombstone([a.id, b.id, c.id, 999], 'erased:er_1'), 3);
  t.equal(log.get(a.id)?.identityId, 'erased:er_1');
  t.equal(log.get(b.id)?.data.name, ERASED_NAME);
  t.same(log.query({ identityId: 'erased:er_1' }).map((e) => e.id), [a.id], 'the identity column follows');
  t.same(log.get(other.id), other, 'others untouched');
  t.same(log.about('id_ada', { name: 'Ada', unknownIds: ['unk_1'] }), [], 'nothing names her any more');
  t.equal(log.lastId(), other.id, 'no new ids');
});

t.test('--valid-until parsing', async (t) => {
  t.equal(parseValidUntil('none'), null);
  t.equal(parseValidUntil('1767225600000'), 1767225600000);
  t.equal(parseValidUntil('2026-01-01T00:00:00Z'), Date.UTC(2026, 0, 1));
  t.throws(() => parseValidUntil('next tuesday'), /not a time/);
});

t.test('zip writer: unzip and python read it back byte for byte', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-zip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = Buffer.alloc(70_000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919) & 0xff;
  const entries = [
    { name: 'profile.json', data: Buffer.from('{"name":"Zoë"}\n') },
    { name: 'crops/c1.jpg', data: bin, mtime: new Date(Date.UTC(2026, 11, 6, 12, 30, 10)) },
    { name: 'empty.txt', data: Buffer.alloc(0) },
  ];
  const file = join(dir, 'a.zip');
  writeFileSync(file, zipStore(entries));
  const list = spawnSync('unzip', ['-l', file], { encoding: 'utf8' });
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /crops\/c1\.jpg/);
  t.match(list.stdout, /2026-12-06 12:30/);
  const test = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  t.equal(test.status, 0, 'unzip -t: CRCs check');
  const py = spawnSync('python3', ['-c', 'import sys,zipfile,hashlib; z=zipfile.ZipFile(sys.argv[1]); print("\\n".join(i.filename+" "+hashlib.sha256(z.read(i)).hexdigest() for i in z.infolist()))', file], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  const { createHash } = await import('node:crypto');
  t.same(py.stdout.trim().split('\n'), entries.map((e) => `${e.name} ${createHash('sha256').update(e.data).digest('hex')}`));
  for (const bad of ['../x', '/abs', 'a//b', 'a\\b', '']) {
    let err: unknown;
    try {
      zipStore([{ name: bad, data: Buffer.alloc(1) }]);
    } catch (e) {
      err = e;
    }
    t.ok(isPrivacyError(err), `refuses ${JSON.stringify(bad)}`);
  }
  t.throws(() => zipStore([{ name: 'a', data: Buffer.alloc(1) }, { name: 'a', data: Buffer.alloc(1) }]), /duplicate/);
});
