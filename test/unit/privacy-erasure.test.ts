import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Event } from '../../src/events/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { messagesFor, mqttTopics } from '../../src/outputs/topics.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';

t.test("identity.erased clears the retained last_face and snapshot of the cameras that showed the person, and no other", async (t) => {
  const tp = mqttTopics('fg');
  const erased = { v: 1, id: 40, type: 'identity.erased', time: '2026-12-07T00:00:00.000Z', timeMs: Date.UTC(2026, 11, 7), identityId: 'erased:er_1', data: { actor: 'cli:ops', erasureId: 'er_1', reason: 'request', templates: 2, crops: 1, unknownClusters: 0, events: 3, snapshots: 1, clearCameras: ['door', 'side gate'] } } as Event;
  const msgs = messagesFor(erased, tp, []);
  t.same(
    msgs.map((m) => [m.topic, m.payload, m.retain]),
    [
      [tp.lastFace('door'), '', true],
      [tp.snapshot('door'), '', true],
      [tp.lastFace('side gate'), '', true],
      [tp.snapshot('side gate'), '', true],
    ],
  );
  t.same(messagesFor({ ...erased, data: { ...erased.data, clearCameras: [] } } as Event, tp, []), [], 'nothing to clear');
  t.notOk(JSON.stringify(messagesFor(erased, tp, ['*'])).includes('name'), 'the receipt on <prefix>/events names nobody');
});

t.test('gallery: validUntil, expired identities, the erasure journal (plan once, name cleared), idempotent row deletion', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-erasure-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'g.sqlite');
  let now = 1_000;
  let g = openGallery(path, { now: () => now });
  const rand = mulberry32(3);
  const visitor = g.enroll({ name: 'Visitor V', templates: [template(randomUnit(128, rand))], validUntil: 5_000 });
  const staff = g.enroll({ name: 'Staff S', templates: [template(randomUnit(128, rand))] });
  t.equal(visitor.validUntil, 5_000);
  t.equal(staff.validUntil, undefined);
  g.close();
  g = openGallery(path, { now: () => now });
  t.equal(g.getIdentity(visitor.id)?.validUntil, 5_000, 'kept across reopen');
  t.same(g.expiredIdentities(4_999), []);
  t.same(g.expiredIdentities(5_000), [{ id: visitor.id, validUntil: 5_000 }]);
  t.equal(g.setValidUntil(staff.id, 9_000).validUntil, 9_000);
  t.equal(g.setValidUntil(staff.id, null).validUntil, undefined, 'null clears it');

  const row = g.beginErasure(visitor.id, { actor: 'a', reason: 'request' });
  t.match(row, { identityId: visitor.id, name: 'Visitor V', plan: null, finishedAt: null });
  t.equal(g.beginErasure(visitor.id, { actor: 'b', reason: 'request' }).id, row.id, 'the pending row, not a second');
  g.saveErasurePlan(row.id, { events: [1] });
  g.saveErasurePlan(row.id, { events: [1, 2] });
  t.same(g.pendingErasures()[0].plan, { events: [1] }, 'the first plan stays');
  t.same(g.eraseIdentityRows(visitor.id), { templates: 1, crops: 0, identities: 1 });
  t.same(g.eraseIdentityRows(visitor.id), { templates: 0, crops: 0, identities: 0 }, 'idempotent');
  t.notOk(g.getIdentity(visitor.id));
  t.throws(() => g.beginErasure('id_nobody', { actor: 'a', reason: 'request' }), /no identity/, 'no journal row for an identity that does not exist');
  now = 2_000;
  g.finishErasure(row.id, { templates: 1 });
  t.same(g.pendingErasures(), []);
  t.match(g.listErasures()[0], { id: row.id, identityId: visitor.id, name: null, plan: { templates: 1 }, finishedAt: 2_000 });
  t.same(g.checkpointTruncate(), { secureDelete: true, busy: false });
  g.close();
});
