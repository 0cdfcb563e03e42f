import t from 'tap';
import type { Event } from '../../src/events/index.ts';
import { messagesFor, mqttTopics } from '../../src/outputs/topics.ts';

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
