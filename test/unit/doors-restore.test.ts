import t from 'tap';
import { INITIAL_DOOR_STATE, restoreDoor, restoredReason, historyComplete, stepDoor, type DoorInput, type DoorPolicy, type DoorState, type LoggedDoorEvent } from '../../src/doors/index.ts';
import { eventFromDoor } from '../../src/app/doors.ts';

const policy: DoorPolicy = { strikeMs: 5000, heldOpenMs: 30_000 };
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** Run inputs through the machine and log its events as the service would (newest first). */
function history(inputs: readonly DoorInput[]): { state: DoorState; newestFirst: LoggedDoorEvent[] } {
  let state = INITIAL_DOOR_STATE;
  const logged: LoggedDoorEvent[] = [];
  for (const input of inputs) {
    const step = stepDoor(policy, state, input);
    state = step.state;
    for (const e of step.events) {
      const ev = eventFromDoor('front', e);
      logged.push({ type: ev.type, timeMs: ev.timeMs ?? 0, data: ev.data as Record<string, unknown> });
    }
  }
  return { state, newestFirst: logged.reverse() };
}

const at = (s: number) => T0 + s * 1000;

t.test('no history: the initial state, no mode', async (t) => {
  t.same(restoreDoor([], at(0), policy.strikeMs), { state: INITIAL_DOOR_STATE });
});

t.test('a closed door, operator lockdown: locked, contact to be re-read, lockdown set again', async (t) => {
  const h = history([
    { kind: 'contact', atMs: at(0), open: false },
    { kind: 'grant', atMs: at(1) },
    { kind: 'contact', atMs: at(2), open: true },
    { kind: 'contact', atMs: at(3), open: false },
    { kind: 'mode', atMs: at(10), mode: 'lockdown', by: 'admin-1', reason: 'drill' },
  ]);
  const r = restoreDoor(h.newestFirst, at(100), policy.strikeMs);
  t.match(r.state, { phase: 'locked', contact: 'unknown', released: false, alarms: [], operatorMode: 'normal', mode: 'normal' });
  t.same(r.mode, { mode: 'lockdown', by: 'admin-1', reason: 'restored after a restart: drill' });
  t.ok(historyComplete(h.newestFirst));
});

t.test('forced open and not closed: the alarm and the opening come back', async (t) => {
  const h = history([
    { kind: 'contact', atMs: at(0), open: false },
    { kind: 'contact', atMs: at(5), open: true },
  ]);
  const r = restoreDoor(h.newestFirst, at(60), policy.strikeMs);
  t.match(r.state, { phase: 'open', contact: 'open', openedAt: at(5), openAuthorised: false, alarms: ['forced_open'], heldOpenAt: null });
  t.equal(r.mode, undefined);
  // The sensor then says closed: door.closed clears the restored alarm.
  const closed = stepDoor(policy, r.state, { kind: 'contact', atMs: at(61), open: false });
  t.match(closed.events, [{ type: 'door.closed', openMs: 56_000, cleared: ['forced_open'] }]);
});

t.test('held open before the restart: the alarm comes back and is not raised twice', async (t) => {
  const h = history([
    { kind: 'contact', atMs: at(0), open: false },
    { kind: 'grant', atMs: at(1) },
    { kind: 'contact', atMs: at(2), open: true },
    { kind: 'tick', atMs: at(40) },
  ]);
  t.ok(h.newestFirst.some((e) => e.type === 'door.held_open'));
  const r = restoreDoor(h.newestFirst, at(50), policy.strikeMs);
  t.match(r.state, { contact: 'open', openAuthorised: true, alarms: ['held_open'], released: false });
  t.same(stepDoor(policy, r.state, { kind: 'tick', atMs: at(200) }).events, [], 'no second held_open');
});

t.test('an authorised opening not yet held open: its clock runs on from the opening', async (t) => {
  const h = history([
    { kind: 'contact', atMs: at(0), open: false },
    { kind: 'grant', atMs: at(1) },
    { kind: 'contact', atMs: at(2), open: true },
  ]);
  // Stopped during the strike: the relay re-locked at its end (at(6)); the clock runs from the opening.
  const r = restoreDoor(h.newestFirst, at(10), policy.strikeMs);
  t.match(r.state, { contact: 'open', openAuthorised: true, heldOpenAt: at(2), alarms: [] });
  t.same(stepDoor(policy, r.state, { kind: 'tick', atMs: at(20) }).events, []);
  t.match(stepDoor(policy, r.state, { kind: 'tick', atMs: at(33) }).events, [{ type: 'door.held_open', atMs: at(32), openMs: 30_000 }]);
});

t.test('opened during an unlock-all that was running at the restart: the clock starts at the restart, the mode comes back', async (t) => {
  const h = history([
    { kind: 'contact', atMs: at(0), open: false },
    { kind: 'mode', atMs: at(1), mode: 'unlock-all', by: 'admin-1', reason: 'event' },
    { kind: 'contact', atMs: at(2), open: true },
  ]);
  const r = restoreDoor(h.newestFirst, at(100), policy.strikeMs);
  t.match(r.state, { contact: 'open', openAuthorised: true, heldOpenAt: at(100), released: false });
  t.same(r.mode, { mode: 'unlock-all', by: 'admin-1', reason: 'restored after a restart: event' });
  // Set again as a mode input: released, and no held-open clock while the mode lasts.
  const back = stepDoor(policy, r.state, { kind: 'mode', atMs: at(100), ...r.mode! });
  t.match(back.state, { released: true, releasedBy: 'mode', mode: 'unlock-all', heldOpenAt: null });
  t.match(back.lock, { action: 'release', forMs: null });
});

t.test('an operator back to normal: no mode to restore; a schedule mode is not an operator mode', async (t) => {
  const h = history([
    { kind: 'mode', atMs: at(1), mode: 'lockdown', by: 'admin-1', reason: 'drill' },
    { kind: 'mode', atMs: at(2), mode: 'normal', by: 'admin-2', reason: 'over' },
  ]);
  t.equal(restoreDoor(h.newestFirst, at(3), policy.strikeMs).mode, undefined);
  const schedule: LoggedDoorEvent = { type: 'door.mode_changed', timeMs: at(4), data: { mode: 'unlocked', previous: 'normal', source: 'schedule' } };
  t.equal(restoreDoor([schedule, ...h.newestFirst], at(5), policy.strikeMs).mode, undefined);
  t.notOk(historyComplete([schedule]));
});

t.test('a restored reason is said once however often the box restarts', async (t) => {
  t.equal(restoredReason('drill'), 'restored after a restart: drill');
  t.equal(restoredReason(restoredReason('drill')), 'restored after a restart: drill');
  t.equal(restoredReason(''), 'restored after a restart');
  t.equal(restoredReason(restoredReason('')), 'restored after a restart');
});
