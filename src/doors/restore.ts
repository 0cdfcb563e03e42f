/**
 * A door's state after a restart, rebuilt from its last door.* events (pure). The event log is the
 * record of the door already (every transition, alarm and operator mode is a door.* event of the
 * gate), so reading it back needs no second store to keep in step with it.
 *
 * What comes back:
 * - an opening still running (no door.closed after the last door.opened): the contact open, when
 *   it opened, whether it was authorised, and its alarms (forced_open, held_open). The held-open
 *   clock runs from the opening, or from when the release ended (a door.locked, or the end of a
 *   release the relay's own timer closed while facegate was down).
 * - the operator mode (the last door.mode_changed from an operator), to be set again as an
 *   audited mode input, so the lock output is driven for it (an unlock-all releases the relay).
 * What does not: a running release (the relay re-locks by its own timer while facegate is down,
 * so the door comes back locked), and a closed contact (it is re-read from the sensor's retained
 * state; a door that opened meanwhile is then reported as it is).
 */
import { INITIAL_DOOR_STATE, OPERATOR_DOOR_MODES, type DoorAlarm, type DoorState, type OperatorDoorMode } from './machine.ts';

/** A door event as the event log has it (the v1 envelope's type, time and data). */
export interface LoggedDoorEvent {
  readonly type: string;
  readonly timeMs: number;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface RestoredDoor {
  readonly state: DoorState;
  /** The operator mode to set again (absent: normal), with who set it and why. */
  readonly mode?: { readonly mode: OperatorDoorMode; readonly by: string; readonly reason: string } | undefined;
}

export const RESTORED_PREFIX = 'restored after a restart';

/** The reason a restored mode is audited with: the original one, said once (not once per restart). */
export function restoredReason(reason: string): string {
  const original = reason.startsWith(`${RESTORED_PREFIX}: `) ? reason.slice(RESTORED_PREFIX.length + 2) : reason === RESTORED_PREFIX ? '' : reason;
  return original ? `${RESTORED_PREFIX}: ${original}` : RESTORED_PREFIX;
}

/**
 * Whether `newestFirst` reaches back far enough for restoreDoor: it holds a door.closed (the
 * opening state is complete) and an operator's door.mode_changed (the mode is known). A log
 * without them is read to its start.
 */
export function historyComplete(newestFirst: readonly LoggedDoorEvent[]): boolean {
  return newestFirst.some((e) => e.type === 'door.closed') && newestFirst.some(isOperatorMode);
}

const isOperatorMode = (e: LoggedDoorEvent): boolean => e.type === 'door.mode_changed' && e.data.source === 'operator';

/**
 * The state to resume from, given the gate's door events newest first, the time of the restart
 * and the door's strikeMs (a longer release was a hold-open).
 */
export function restoreDoor(newestFirst: readonly LoggedDoorEvent[], nowMs: number, strikeMs: number): RestoredDoor {
  if (newestFirst.length === 0) return { state: INITIAL_DOOR_STATE };
  let state: DoorState = { ...INITIAL_DOOR_STATE, atMs: Math.min(nowMs, newestFirst[0].timeMs) };

  const closedAt = newestFirst.findIndex((e) => e.type === 'door.closed');
  const sinceClosed = closedAt < 0 ? newestFirst : newestFirst.slice(0, closedAt);
  const openedAt = sinceClosed.findIndex((e) => e.type === 'door.opened');
  if (openedAt >= 0) {
    const opened = sinceClosed[openedAt];
    const after = sinceClosed.slice(0, openedAt);
    const alarms: DoorAlarm[] = [];
    if (after.some((e) => e.type === 'door.forced_open')) alarms.push('forced_open');
    if (after.some((e) => e.type === 'door.held_open')) alarms.push('held_open');
    const authorised = opened.data.authorised === true;
    let heldOpenAt: number | null = null;
    if (authorised && !alarms.includes('held_open')) {
      // As the machine does: from the opening, unless a mode or a hold-open kept the door unlocked
      // then; then from when that release ended (its door.locked, or its end while facegate was down).
      const before = sinceClosed.slice(openedAt + 1).concat(closedAt < 0 ? [] : newestFirst.slice(closedAt));
      const inForce = before.find((e) => e.type === 'door.released' || e.type === 'door.locked');
      const until = inForce?.type === 'door.released' ? inForce.data.untilMs : undefined;
      const openEnded = inForce?.type === 'door.released' && (typeof until !== 'number' || until - inForce.timeMs > strikeMs);
      if (!openEnded) heldOpenAt = opened.timeMs;
      else {
        const locked = after.findLast((e) => e.type === 'door.locked');
        heldOpenAt = locked ? locked.timeMs : Math.min(typeof until === 'number' ? until : nowMs, nowMs);
      }
    }
    state = { ...state, phase: 'open', contact: 'open', openedAt: opened.timeMs, openAuthorised: authorised, heldOpenAt, alarms };
  }

  const operator = newestFirst.find(isOperatorMode);
  if (!operator) return { state };
  // An operator's normal inside an unlock schedule is reported as 'unlocked'.
  const logged = operator.data.mode;
  const mode = (OPERATOR_DOOR_MODES as readonly unknown[]).includes(logged) ? (logged as OperatorDoorMode) : 'normal';
  if (mode === 'normal') return { state };
  const by = typeof operator.data.by === 'string' ? operator.data.by : 'unknown';
  const reason = typeof operator.data.reason === 'string' ? operator.data.reason : '';
  return { state, mode: { mode, by, reason: restoredReason(reason) } };
}
