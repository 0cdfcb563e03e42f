import t from 'tap';
import { INITIAL_DOOR_STATE, effectiveMode, nextDoorDeadline, stepDoor, type DoorEvent, type DoorInput, type DoorPolicy, type DoorState } from '../../src/doors/index.ts';

const T0 = Date.parse('2026-03-02T09:00:00Z'); // a Monday
const policy: DoorPolicy = { strikeMs: 5000, heldOpenMs: 30_000 };

/** A door driven by an injected clock: each call moves the clock and feeds one input. */
function door(p: DoorPolicy = policy, start: DoorState = INITIAL_DOOR_STATE) {
  let state = start;
  let now = T0;
  const all: DoorEvent[] = [];
  const locks: unknown[] = [];
  const feed = (input: DoorInput): readonly DoorEvent[] => {
    const r = stepDoor(p, state, input);
    state = r.state;
    all.push(...r.events);
    if (r.lock) locks.push(r.lock);
    return r.events;
  };
  return {
    get state() {
      return state;
    },
    all,
    locks,
    at: (ms: number) => (now = T0 + ms),
    grant: (ms: number, identityId?: string) => feed({ kind: 'grant', atMs: (now = T0 + ms), identityId }),
    rex: (ms: number) => feed({ kind: 'rex', atMs: (now = T0 + ms) }),
    contact: (ms: number, open: boolean) => feed({ kind: 'contact', atMs: (now = T0 + ms), open }),
    tick: (ms: number) => feed({ kind: 'tick', atMs: (now = T0 + ms) }),
    manual: (ms: number, action: 'open' | 'hold-open' | 'close', durationMs?: number) => feed({ kind: 'manual', atMs: (now = T0 + ms), action, durationMs, by: 'guard1' }),
    mode: (ms: number, mode: 'normal' | 'lockdown' | 'unlock-all') => feed({ kind: 'mode', atMs: (now = T0 + ms), mode, by: 'guard1', reason: 'test' }),
    now: () => now,
  };
}
const types = (events: readonly DoorEvent[]): string[] => events.map((e) => e.type);

t.test('a grant: locked -> released -> open -> closed -> locked when the strike ends', async (t) => {
  const d = door();
  d.contact(0, false);
  t.equal(d.state.phase, 'locked', 'first closed reading: locked, no event');
  t.same(d.all, []);
  t.same(d.grant(1000, 'alice'), [{ type: 'door.released', atMs: T0 + 1000, by: 'grant', untilMs: T0 + 6000, identityId: 'alice' }]);
  t.same(d.locks, [{ action: 'release', forMs: 5000 }], 'the lock output is told to release for strikeMs');
  t.equal(d.state.phase, 'released');
  t.same(d.contact(2000, true), [{ type: 'door.opened', atMs: T0 + 2000, authorised: true }]);
  t.equal(d.state.phase, 'open');
  t.same(d.contact(3500, false), [{ type: 'door.closed', atMs: T0 + 3500, openMs: 1500, cleared: [] }]);
  t.equal(d.state.phase, 'closed', 'closed while the strike still runs');
  t.equal(nextDoorDeadline(policy, d.state), T0 + 6000, 'the next deadline is the end of the strike');
  t.same(d.tick(5999), []);
  t.same(d.tick(6000), [{ type: 'door.locked', atMs: T0 + 6000, releasedBy: 'grant' }]);
  t.equal(d.state.phase, 'locked');
  t.same(d.locks.at(-1), { action: 'lock' });
  t.equal(nextDoorDeadline(policy, d.state), null);
});

t.test('a late tick locks at the strike end, not at the tick', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  t.same(d.tick(60_000), [{ type: 'door.locked', atMs: T0 + 5000, releasedBy: 'grant' }]);
});

t.test('released and never opened: locks after strikeMs', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  t.same(types(d.tick(5000)), ['door.locked']);
  t.equal(d.state.phase, 'locked');
});

t.test('contact opens while locked with nothing in force: door.forced_open', async (t) => {
  const d = door();
  d.contact(0, false);
  t.same(d.contact(1000, true), [
    { type: 'door.opened', atMs: T0 + 1000, authorised: false },
    { type: 'door.forced_open', atMs: T0 + 1000 },
  ]);
  t.same(d.state.alarms, ['forced_open']);
  t.same(d.contact(4000, false), [{ type: 'door.closed', atMs: T0 + 4000, openMs: 3000, cleared: ['forced_open'] }], 'closing clears the alarm');
  t.same(d.state.alarms, []);
  t.same(d.locks, [], 'a forced opening never moves the lock');
});

t.test('contact opens after the strike ended: forced', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  t.same(types(d.contact(5001, true)), ['door.locked', 'door.opened', 'door.forced_open']);
});

t.test('first reading open while locked (a start with the leaf open): forced', async (t) => {
  const d = door();
  t.same(types(d.contact(0, true)), ['door.opened', 'door.forced_open']);
});

t.test('held open: door.held_open after heldOpenMs from the opening, once; cleared by closing', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  d.contact(1000, true);
  t.same(types(d.tick(5000)), ['door.locked'], 'the lock re-locks while the leaf is open');
  t.equal(d.state.phase, 'open');
  t.equal(nextDoorDeadline(policy, d.state), T0 + 31_000);
  t.same(d.tick(30_999), []);
  t.same(d.tick(31_000), [{ type: 'door.held_open', atMs: T0 + 31_000, openMs: 30_000 }]);
  t.same(d.tick(90_000), [], 'raised once');
  t.equal(nextDoorDeadline(policy, d.state), null);
  t.same(d.contact(95_000, false), [{ type: 'door.closed', atMs: T0 + 95_000, openMs: 94_000, cleared: ['held_open'] }]);
  t.equal(d.state.phase, 'locked');
});

t.test('REX: door.rex then a release; the opening is authorised', async (t) => {
  const d = door();
  d.contact(0, false);
  t.same(d.rex(100), [
    { type: 'door.rex', atMs: T0 + 100, released: true },
    { type: 'door.released', atMs: T0 + 100, by: 'rex', untilMs: T0 + 5100 },
  ]);
  t.same(d.contact(500, true), [{ type: 'door.opened', atMs: T0 + 500, authorised: true }]);
});

t.test('manual open releases for one strike; manual close locks at once', async (t) => {
  const d = door();
  d.contact(0, false);
  t.same(d.manual(0, 'open'), [{ type: 'door.released', atMs: T0, by: 'manual', untilMs: T0 + 5000, operator: 'guard1' }]);
  t.same(d.manual(1000, 'close'), [{ type: 'door.locked', atMs: T0 + 1000, releasedBy: 'manual' }]);
  t.same(d.locks, [{ action: 'release', forMs: 5000 }, { action: 'lock' }]);
  t.same(d.manual(2000, 'close'), [], 'closing a locked door does nothing');
});

t.test('hold-open: released for durationMs, no held-open alarm until it ends', async (t) => {
  const d = door();
  d.contact(0, false);
  d.manual(0, 'hold-open', 600_000);
  t.same(d.locks, [{ action: 'release', forMs: 600_000 }]);
  d.contact(1000, true);
  t.same(d.tick(300_000), [], 'no held_open during a hold-open');
  t.same(types(d.tick(600_000)), ['door.locked']);
  t.same(d.tick(629_999), []);
  t.same(d.tick(630_000), [{ type: 'door.held_open', atMs: T0 + 630_000, openMs: 629_000 }], 'the clock starts when the hold-open ends');
});

t.test('a release never shortens a longer one; a later grant extends it', async (t) => {
  const d = door();
  d.contact(0, false);
  d.manual(0, 'hold-open', 60_000);
  t.same(d.grant(1000), [], 'a grant during a longer hold-open changes nothing');
  const e = door();
  e.contact(0, false);
  e.grant(0);
  t.same(e.grant(3000), [{ type: 'door.released', atMs: T0 + 3000, by: 'grant', untilMs: T0 + 8000 }]);
  t.same(e.tick(5000), []);
  t.same(types(e.tick(8000)), ['door.locked']);
});

t.test('a second grant while closed in the strike keeps phase closed', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  d.contact(500, true);
  d.contact(1000, false);
  d.grant(2000);
  t.equal(d.state.phase, 'closed');
});

t.test('lockdown: grants and REX do not release; an operator open still does; a running release ends', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(0);
  t.same(d.mode(1000, 'lockdown'), [
    { type: 'door.mode_changed', atMs: T0 + 1000, mode: 'lockdown', previous: 'normal', source: 'operator', by: 'guard1', reason: 'test' },
    { type: 'door.locked', atMs: T0 + 1000, releasedBy: 'grant' },
  ]);
  t.same(d.grant(2000), []);
  t.same(d.rex(3000), [{ type: 'door.rex', atMs: T0 + 3000, released: false }], 'the press is still reported');
  t.same(types(d.contact(4000, true)), ['door.opened', 'door.forced_open'], 'opening in lockdown is forced');
  d.contact(4500, false);
  t.same(types(d.manual(5000, 'open')), ['door.released']);
  t.same(d.mode(9000, 'lockdown'), [], 'the same mode again: nothing');
  t.same(types(d.mode(20_000, 'normal')), ['door.locked', 'door.mode_changed'], "the operator's strike ended at 10 s");
  t.same(types(d.grant(21_000)), ['door.released']);
});

t.test('unlock-all: released until the mode ends; no forced or held-open alarm; close does not lock it', async (t) => {
  const d = door();
  d.contact(0, false);
  t.same(d.mode(0, 'unlock-all'), [
    { type: 'door.mode_changed', atMs: T0, mode: 'unlock-all', previous: 'normal', source: 'operator', by: 'guard1', reason: 'test' },
    { type: 'door.released', atMs: T0, by: 'mode', untilMs: null },
  ]);
  t.same(d.locks, [{ action: 'release', forMs: null }]);
  t.same(d.contact(1000, true), [{ type: 'door.opened', atMs: T0 + 1000, authorised: true }]);
  t.same(d.tick(3_600_000), [], 'no held-open while the mode keeps the door unlocked');
  t.same(d.manual(3_600_001, 'close'), [], 'a mode is ended by a mode command');
  t.same(d.grant(3_600_002), [], 'a grant changes nothing');
  t.same(types(d.mode(3_700_000, 'normal')), ['door.mode_changed', 'door.locked']);
  t.same(d.tick(3_729_999), []);
  t.same(types(d.tick(3_730_000)), ['door.held_open'], 'left open after the mode ended: held_open heldOpenMs later');
});

t.test('unlock schedule: unlocked inside its windows, normal outside, one mode_changed per edge', async (t) => {
  const p: DoorPolicy = { ...policy, unlockSchedule: { timeZone: 'UTC', weekly: [{ days: ['mon'], start: '09:00', end: '17:00' }] } };
  t.equal(effectiveMode(p, 'normal', T0 - 1000), 'normal');
  t.equal(effectiveMode(p, 'normal', T0), 'unlocked');
  t.equal(effectiveMode(p, 'lockdown', T0), 'lockdown', 'lockdown beats the schedule');
  t.equal(effectiveMode(p, 'unlock-all', T0 - 1000), 'unlock-all');
  const d = door(p);
  d.contact(-2000, false);
  t.same(d.tick(-1000), []);
  t.same(d.tick(0), [
    { type: 'door.mode_changed', atMs: T0, mode: 'unlocked', previous: 'normal', source: 'schedule' },
    { type: 'door.released', atMs: T0, by: 'mode', untilMs: null },
  ]);
  t.same(d.tick(60_000), [], 'one change per edge');
  t.same(types(d.contact(3600_000, true)), ['door.opened']);
  d.contact(3601_000, false);
  t.same(types(d.mode(3602_000, 'lockdown')), ['door.mode_changed', 'door.locked'], 'lockdown inside the window locks');
  t.same(types(d.mode(3603_000, 'normal')), ['door.mode_changed', 'door.released'], 'back to the schedule: unlocked again');
  t.equal(d.state.mode, 'unlocked');
  t.same(types(d.tick(8 * 3600_000)), ['door.mode_changed', 'door.locked'], '17:00: normal, locked');
  t.equal(d.state.mode, 'normal');
  t.same(types(d.contact(8 * 3600_000 + 1, true)), ['door.opened', 'door.forced_open']);
});

t.test('an input older than the last one does not move time back', async (t) => {
  const d = door();
  d.contact(0, false);
  d.grant(10_000);
  const ev = d.contact(9000, true);
  t.same(ev, [{ type: 'door.opened', atMs: T0 + 10_000, authorised: true }]);
});

t.test('repeated contact readings are not transitions', async (t) => {
  const d = door();
  d.contact(0, false);
  t.same(d.contact(1, false), []);
  d.grant(2);
  d.contact(3, true);
  t.same(d.contact(4, true), []);
});

t.test('the state machine is pure: the same inputs give the same steps', async (t) => {
  const inputs: DoorInput[] = [
    { kind: 'contact', atMs: T0, open: false },
    { kind: 'grant', atMs: T0 + 1, identityId: 'a' },
    { kind: 'contact', atMs: T0 + 2, open: true },
    { kind: 'tick', atMs: T0 + 60_000 },
    { kind: 'contact', atMs: T0 + 61_000, open: false },
  ];
  const run = () => {
    let s = INITIAL_DOOR_STATE;
    const out: DoorEvent[] = [];
    for (const i of inputs) {
      const r = stepDoor(policy, s, i);
      s = r.state;
      out.push(...r.events);
    }
    return out;
  };
  t.same(run(), run());
  t.same(types(run()), ['door.released', 'door.opened', 'door.locked', 'door.held_open', 'door.closed']);
  t.equal(INITIAL_DOOR_STATE.phase, 'locked', 'the initial state is not mutated');
});
