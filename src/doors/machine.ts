/**
 * The door as a pure state machine: (policy, state, input) -> (state, events, lock command). No
 * clock, no I/O, no logging; every input carries its own time, so a replayed input log yields the
 * same door history.
 *
 * The door the installer wired: a lock (strike or maglock) that facegate releases, a contact that
 * says whether the leaf is open, and a request-to-exit (REX) button on the secure side.
 *
 * States (`DoorState.phase`):
 *   locked   - the lock holds; the contact is closed (or not known yet).
 *   released - the lock is released (a grant, a REX press, an operator's open or hold-open, or a
 *              mode that keeps the door unlocked) and the leaf has not opened yet.
 *   open     - the contact reads open (authorised or forced).
 *   closed   - the leaf closed again while the release is still running; it locks when the
 *              release ends (`releasedUntil`), or at once when the release had already ended.
 *
 * Alarms:
 *   door.forced_open - the contact opens while nothing released the lock (no grant, REX, operator
 *              open or unlocking mode in force). Raised once per opening.
 *   door.held_open   - an authorised opening stays open past `heldOpenMs` (counted from the
 *              opening, or from the end of the release when a mode or hold-open kept the door
 *              unlocked). Never while a mode or an operator's hold-open keeps the door unlocked.
 *   Both clear when the contact closes; `door.closed` lists the alarms it cleared.
 *
 * Modes (`DoorMode`): the operator sets normal, lockdown or unlock-all (audited commands); in
 * normal, an optional weekly `unlockSchedule` makes the effective mode `unlocked` inside its
 * windows. Precedence: lockdown > unlock-all > schedule > normal. Lockdown: grants and REX do not
 * release (the REX press is still reported); an operator's explicit open still does, because it is
 * an audited human decision and the usual way to let responders in. Each change of the effective
 * mode is one `door.mode_changed`.
 */
import { scheduleOpen, type Schedule } from '../gates/schedule.ts';

export const DOOR_MODES = ['normal', 'unlocked', 'lockdown', 'unlock-all'] as const;
export type DoorMode = (typeof DOOR_MODES)[number];
/** The modes an operator sets; `unlocked` comes from the schedule only. */
export const OPERATOR_DOOR_MODES = ['normal', 'lockdown', 'unlock-all'] as const;
export type OperatorDoorMode = (typeof OPERATOR_DOOR_MODES)[number];

export const DOOR_PHASES = ['locked', 'released', 'open', 'closed'] as const;
export type DoorPhase = (typeof DOOR_PHASES)[number];
export type ContactState = 'open' | 'closed' | 'unknown';
/** What released the lock: a grant, a REX press, an operator (gate.opened) or an unlocking mode. */
export const RELEASE_CAUSES = ['grant', 'rex', 'manual', 'mode'] as const;
export type ReleaseCause = (typeof RELEASE_CAUSES)[number];
export const DOOR_ALARMS = ['held_open', 'forced_open'] as const;
export type DoorAlarm = (typeof DOOR_ALARMS)[number];

/** What the machine needs of a door's configuration (a parsed `gates[].door`). */
export interface DoorPolicy {
  /** How long one release keeps the lock released, ms. */
  readonly strikeMs: number;
  /** An authorised opening longer than this raises door.held_open, ms. */
  readonly heldOpenMs: number;
  /** Inside these windows (and in operator mode normal) the door stays unlocked. */
  readonly unlockSchedule?: Schedule | undefined;
}

export interface DoorState {
  readonly phase: DoorPhase;
  readonly contact: ContactState;
  /** The lock is released (phase released, or open/closed during a release). */
  readonly released: boolean;
  /** When the running release ends; null while a mode keeps the door unlocked or when locked. */
  readonly releasedUntil: number | null;
  readonly releasedBy: ReleaseCause | null;
  /** An operator's hold-open is running (no held-open alarm until it ends). */
  readonly holdOpen: boolean;
  /** When the contact last opened; null while closed. */
  readonly openedAt: number | null;
  /** The current opening was authorised (false: forced). */
  readonly openAuthorised: boolean;
  /** When the held-open alarm is due for the current opening; null when none is due. */
  readonly heldOpenAt: number | null;
  readonly alarms: readonly DoorAlarm[];
  readonly operatorMode: OperatorDoorMode;
  /** The effective mode last reported. */
  readonly mode: DoorMode;
  /** Time of the last input, so a late input does not move timers back. */
  readonly atMs: number;
}

export const INITIAL_DOOR_STATE: DoorState = {
  phase: 'locked',
  contact: 'unknown',
  released: false,
  releasedUntil: null,
  releasedBy: null,
  holdOpen: false,
  openedAt: null,
  openAuthorised: false,
  heldOpenAt: null,
  alarms: [],
  operatorMode: 'normal',
  mode: 'normal',
  atMs: 0,
};

/** The door's inputs. `atMs` is the time the input happened (ms since the epoch). */
export type DoorInput =
  | { readonly kind: 'grant'; readonly atMs: number; readonly identityId?: string | undefined }
  | { readonly kind: 'rex'; readonly atMs: number }
  /** An operator's gate.opened: open (one strike), hold-open (for durationMs), close (lock now). */
  | { readonly kind: 'manual'; readonly atMs: number; readonly action: 'open' | 'hold-open' | 'close'; readonly durationMs?: number | undefined; readonly by: string }
  | { readonly kind: 'contact'; readonly atMs: number; readonly open: boolean }
  | { readonly kind: 'mode'; readonly atMs: number; readonly mode: OperatorDoorMode; readonly by: string; readonly reason: string }
  /** Time passed: strike ends, held-open deadlines, schedule windows. */
  | { readonly kind: 'tick'; readonly atMs: number };

/** Door events in the machine's vocabulary (the service maps them onto the v1 envelope). */
export type DoorEvent =
  | { readonly type: 'door.released'; readonly atMs: number; readonly by: ReleaseCause; readonly untilMs: number | null; readonly identityId?: string | undefined; readonly operator?: string | undefined }
  | { readonly type: 'door.locked'; readonly atMs: number; readonly releasedBy: ReleaseCause }
  | { readonly type: 'door.opened'; readonly atMs: number; readonly authorised: boolean }
  | { readonly type: 'door.closed'; readonly atMs: number; readonly openMs: number | null; readonly cleared: readonly DoorAlarm[] }
  | { readonly type: 'door.held_open'; readonly atMs: number; readonly openMs: number }
  | { readonly type: 'door.forced_open'; readonly atMs: number }
  | { readonly type: 'door.rex'; readonly atMs: number; readonly released: boolean }
  | { readonly type: 'door.mode_changed'; readonly atMs: number; readonly mode: DoorMode; readonly previous: DoorMode; readonly source: 'operator' | 'schedule'; readonly by?: string | undefined; readonly reason?: string | undefined };

/**
 * What the lock output must do: release for `forMs` (null: until told otherwise, a mode) or lock
 * now. The actuator maps it onto its relay (a Shelly Switch.Set with toggle_after re-locks by
 * itself even when facegate is gone).
 */
export type LockCommand = { readonly action: 'release'; readonly forMs: number | null } | { readonly action: 'lock' };

export interface DoorStep {
  readonly state: DoorState;
  readonly events: readonly DoorEvent[];
  /** The last lock command of this step (a step that releases and re-locks ends locked). */
  readonly lock: LockCommand | undefined;
}

/** The effective mode at `atMs`: lockdown > unlock-all > the unlock schedule > normal. */
export function effectiveMode(policy: DoorPolicy, operatorMode: OperatorDoorMode, atMs: number): DoorMode {
  if (operatorMode !== 'normal') return operatorMode;
  return policy.unlockSchedule && scheduleOpen(policy.unlockSchedule, atMs) ? 'unlocked' : 'normal';
}

const keepsUnlocked = (mode: DoorMode): boolean => mode === 'unlocked' || mode === 'unlock-all';

/** The phase the lock and contact make. */
function phaseOf(released: boolean, contact: ContactState, openedDuringRelease: boolean): DoorPhase {
  if (contact === 'open') return 'open';
  if (!released) return 'locked';
  return openedDuringRelease ? 'closed' : 'released';
}

/** Mutable scratch for one step; the exported functions stay pure (a fresh one per call). */
interface Step {
  s: DoorState;
  events: DoorEvent[];
  lock: LockCommand | undefined;
}

function set(step: Step, patch: Partial<DoorState>): void {
  step.s = { ...step.s, ...patch };
}

/** The door is kept unlocked with no end: a mode, or an operator's hold-open. */
const openEnded = (s: DoorState): boolean => s.holdOpen || (s.released && s.releasedUntil === null);

function release(step: Step, cause: ReleaseCause, atMs: number, forMs: number | null, extra: { identityId?: string | undefined; operator?: string | undefined } = {}): boolean {
  const until = forMs === null ? null : atMs + forMs;
  const s = step.s;
  // A release never shortens one already running (a grant during a hold-open or a mode).
  if (s.released && (s.releasedUntil === null || (until !== null && s.releasedUntil >= until))) return false;
  const openedDuringRelease = s.released && s.phase === 'closed';
  set(step, { released: true, releasedUntil: until, releasedBy: cause, phase: phaseOf(true, s.contact, openedDuringRelease) });
  step.events.push({ type: 'door.released', atMs, by: cause, untilMs: until, ...(extra.identityId !== undefined ? { identityId: extra.identityId } : {}), ...(extra.operator !== undefined ? { operator: extra.operator } : {}) });
  step.lock = { action: 'release', forMs };
  return true;
}

function relock(step: Step, atMs: number): void {
  const s = step.s;
  if (!s.released) return;
  set(step, { released: false, releasedUntil: null, releasedBy: null, holdOpen: false, phase: phaseOf(false, s.contact, false) });
  // The leaf is still open when a release ends: the held-open clock runs from the opening, or
  // from now when a mode or a hold-open had kept the door unlocked.
  if (s.contact === 'open' && s.openAuthorised) set(step, { heldOpenAt: s.heldOpenAt ?? atMs });
  step.events.push({ type: 'door.locked', atMs, releasedBy: s.releasedBy ?? 'grant' });
  step.lock = { action: 'lock' };
}

/** Timers due by `atMs`, in time order: a schedule edge, the release's end, the held-open alarm. */
function advance(policy: DoorPolicy, step: Step, atMs: number): void {
  const mode = effectiveMode(policy, step.s.operatorMode, atMs);
  if (mode !== step.s.mode) changeMode(step, atMs, mode, 'schedule');
  const s = step.s;
  // The lock output re-locked by its own timer at releasedUntil: that is when the door locked.
  if (s.released && s.releasedUntil !== null && atMs >= s.releasedUntil) relock(step, s.releasedUntil);
  const t = step.s;
  if (t.heldOpenAt !== null && t.contact === 'open' && !t.alarms.includes('held_open') && atMs >= t.heldOpenAt + policy.heldOpenMs) {
    const due = t.heldOpenAt + policy.heldOpenMs;
    set(step, { alarms: [...t.alarms, 'held_open'] });
    step.events.push({ type: 'door.held_open', atMs: due, openMs: due - (t.openedAt ?? t.heldOpenAt) });
  }
}

function changeMode(step: Step, atMs: number, mode: DoorMode, source: 'operator' | 'schedule', by?: string, reason?: string): void {
  const previous = step.s.mode;
  set(step, { mode });
  step.events.push({ type: 'door.mode_changed', atMs, mode, previous, source, ...(by !== undefined ? { by } : {}), ...(reason !== undefined ? { reason } : {}) });
  if (keepsUnlocked(mode)) {
    release(step, 'mode', atMs, null);
    set(step, { heldOpenAt: null });
    return;
  }
  // Leaving an unlocking mode ends the mode's release; lockdown ends every release, a grant's too.
  const s = step.s;
  if (s.released && (s.releasedBy === 'mode' || mode === 'lockdown')) relock(step, atMs);
}

function raiseForced(step: Step, atMs: number): void {
  set(step, { alarms: [...step.s.alarms.filter((a) => a !== 'forced_open'), 'forced_open'] });
  step.events.push({ type: 'door.forced_open', atMs });
}

function contact(step: Step, atMs: number, open: boolean): void {
  const s = step.s;
  const now: ContactState = open ? 'open' : 'closed';
  if (s.contact === now) return;
  if (open) {
    // Nothing released the lock: forced. This includes the first reading after a start finding
    // the leaf open while locked (a propped or forced door is what a guard must see first).
    const authorised = s.released;
    set(step, { contact: 'open', phase: 'open', openedAt: atMs, openAuthorised: authorised, heldOpenAt: null });
    step.events.push({ type: 'door.opened', atMs, authorised });
    if (!authorised) raiseForced(step, atMs);
    else if (!openEnded(step.s)) set(step, { heldOpenAt: atMs });
    return;
  }
  const cleared = s.alarms;
  set(step, { contact: 'closed', openedAt: null, openAuthorised: false, heldOpenAt: null, alarms: [], phase: phaseOf(s.released, 'closed', s.contact === 'open') });
  // The first reading after a start: closed is where a door starts, nothing happened.
  if (s.contact === 'unknown') return;
  step.events.push({ type: 'door.closed', atMs, openMs: s.openedAt === null ? null : atMs - s.openedAt, cleared });
}

/** One input through the door. A late input still applies but does not move time back. */
export function stepDoor(policy: DoorPolicy, state: DoorState, input: DoorInput): DoorStep {
  const atMs = Math.max(state.atMs, input.atMs);
  const step: Step = { s: { ...state, atMs }, events: [], lock: undefined };
  advance(policy, step, atMs);
  const lockdown = step.s.mode === 'lockdown';
  switch (input.kind) {
    case 'tick':
      break;
    case 'grant':
      if (!lockdown) release(step, 'grant', atMs, policy.strikeMs, { identityId: input.identityId });
      break;
    case 'rex':
      step.events.push({ type: 'door.rex', atMs, released: !lockdown });
      if (!lockdown) release(step, 'rex', atMs, policy.strikeMs);
      break;
    case 'manual':
      manual(policy, step, atMs, input);
      break;
    case 'contact':
      contact(step, atMs, input.open);
      break;
    case 'mode': {
      set(step, { operatorMode: input.mode });
      const mode = effectiveMode(policy, input.mode, atMs);
      if (mode !== step.s.mode) changeMode(step, atMs, mode, 'operator', input.by, input.reason);
      break;
    }
  }
  return { state: step.s, events: step.events, lock: step.lock };
}

function manual(policy: DoorPolicy, step: Step, atMs: number, input: Extract<DoorInput, { kind: 'manual' }>): void {
  // An unlocking mode is ended by a mode command, not by closing the door once.
  if (input.action === 'close') {
    if (step.s.releasedBy !== 'mode') relock(step, atMs);
    return;
  }
  const hold = input.action === 'hold-open';
  const forMs = hold ? (input.durationMs ?? policy.strikeMs) : policy.strikeMs;
  if (!release(step, 'manual', atMs, forMs, { operator: input.by })) return;
  if (hold) set(step, { holdOpen: true, heldOpenAt: null });
}

/**
 * The next time the door needs a tick without any other input (the release ends, the held-open
 * alarm is due); null when none. A configured unlock schedule needs ticks too (its windows are
 * checked on every tick: the caller ticks at least every few seconds when one is configured).
 */
export function nextDoorDeadline(policy: DoorPolicy, state: DoorState): number | null {
  const due: number[] = [];
  if (state.released && state.releasedUntil !== null) due.push(state.releasedUntil);
  if (state.heldOpenAt !== null && state.contact === 'open' && !state.alarms.includes('held_open')) due.push(state.heldOpenAt + policy.heldOpenMs);
  return due.length === 0 ? null : Math.min(...due);
}
