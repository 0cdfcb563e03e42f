import t from 'tap';
import { needsRenewal, switchSetFor } from '../../src/doors/index.ts';

const relay = { switchId: 1, toggleAfterMs: 60_000 };

t.test('Switch.Set for each lock command and failMode', async (t) => {
  t.same(switchSetFor('secure', { action: 'release', forMs: 5000 }, relay, 5000), { id: 1, on: true, toggle_after: 5 }, 'strike: on, flipping back after the strike');
  t.same(switchSetFor('safe', { action: 'release', forMs: 5000 }, relay, 5000), { id: 1, on: false, toggle_after: 5 }, 'maglock: off, flipping back');
  t.same(switchSetFor('secure', { action: 'lock' }, relay, null), { id: 1, on: false });
  t.same(switchSetFor('safe', { action: 'lock' }, relay, null), { id: 1, on: true });
  t.same(switchSetFor('secure', { action: 'release', forMs: null }, relay, null), { id: 1, on: true, toggle_after: 60 }, 'an open-ended release is capped at toggleAfterMs');
  t.same(switchSetFor('secure', { action: 'release', forMs: 600_000 }, relay, 600_000), { id: 1, on: true, toggle_after: 60 });
  t.same(switchSetFor('secure', { action: 'release', forMs: 5000 }, relay, 1234), { id: 1, on: true, toggle_after: 1.2 }, 'what is left of the strike, in tenths of a second');
  t.same(switchSetFor('secure', { action: 'release', forMs: 5000 }, relay, 0), { id: 1, on: true, toggle_after: 0.1 }, 'never 0 (no timer at all)');
});

t.test('renewal: only releases longer than one toggle_after', async (t) => {
  t.notOk(needsRenewal(relay, 5000));
  t.notOk(needsRenewal(relay, 60_000));
  t.ok(needsRenewal(relay, 60_001));
  t.ok(needsRenewal(relay, null));
});
