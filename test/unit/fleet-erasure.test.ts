/** The pure parts of a fleet erasure: the erasure record on the wire, the hub's plan, the API window rewritten. */
import t from 'tap';
import { erasureKey, GALLERY_ERASURE_PREFIX, parseErasure } from '../../src/fleet/gallery-kv.ts';
import { hubPlanOf, hubTombstoneOf } from '../../src/hub/erasure.ts';
import { HubFeed, toHubEvent } from '../../src/hub/feed.ts';

const bytes = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));

t.test('erasure records: key, parse, refusal of a record that does not match its key', async (t) => {
  const r = { v: 1, erasureId: 'er_1', identityId: 'id_abc', actor: 'ops', reason: 'request', timeMs: 1 };
  t.equal(erasureKey('id_abc'), `${GALLERY_ERASURE_PREFIX}id_abc`);
  t.ok(erasureKey('id_abc').startsWith('_'), 'never an identity key (identity ids do not start with _)');
  t.same(parseErasure(erasureKey('id_abc'), bytes(r)), r);
  t.throws(() => parseErasure(erasureKey('id_other'), bytes(r)), { code: 'FLEET_BAD_MESSAGE' }, 'the key names another identity');
  t.throws(() => parseErasure(erasureKey('id_abc'), bytes({ ...r, reason: 'whim' })), { code: 'FLEET_BAD_MESSAGE' });
  t.throws(() => parseErasure(erasureKey('id_abc'), bytes({ ...r, erasureId: '' })), { code: 'FLEET_BAD_MESSAGE' });
  t.throws(() => parseErasure(erasureKey('id_abc'), Buffer.from('{')), { code: 'FLEET_BAD_MESSAGE' });
});

t.test("the hub's plan: every row, each node's snapshot once", async (t) => {
  const plan = hubPlanOf(
    [
      { hubId: 3, nodeId: 'a', snapshotId: 's1' },
      { hubId: 4, nodeId: 'a', snapshotId: 's1' },
      { hubId: 5, nodeId: 'b', snapshotId: 's1' },
      { hubId: 9, nodeId: 'b', snapshotId: null },
    ],
    2,
  );
  t.same(plan, { events: [3, 4, 5, 9], snapshots: [{ node: 'a', id: 's1' }, { node: 'b', id: 's1' }], templates: 2 });
  t.same(hubPlanOf([], 0), { events: [], snapshots: [], templates: 0 });
  t.equal(hubTombstoneOf('er_1'), 'erased:er_1');
});

t.test("the API window: erased rows replaced by id, others and ids outside it untouched", async (t) => {
  const feed = new HubFeed(10);
  const ev = (id: number, name: string) => toHubEvent(id, 'a', 'hq', { v: 1, id, type: 'face.recognized', timeMs: id, identityId: 'id_x', data: { name } });
  feed.push([ev(1, 'Ada'), ev(2, 'Bob'), ev(3, 'Ada')]);
  feed.replace([ev(1, '[erased]'), ev(3, '[erased]'), ev(99, '[erased]')]);
  const names = feed.queryWindow({}).map((e) => (e.data as { name: string }).name);
  t.same(names, ['[erased]', 'Bob', '[erased]']);
});
