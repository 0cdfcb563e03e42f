/**
 * Operator door commands and the door state over the box's API (docs/doors.md):
 * - GET /v1/doors and GET /v1/gates/:id/door (viewer): the current door state (contact, lock,
 *   mode, alarms) as the doors part has it;
 * - POST /v1/gates/:id/door/mode {mode: normal | lockdown | unlock-all, reason} (admin): audited as
 *   door.mode_changed with the actor;
 * - POST /v1/gates/:id/door/open | hold-open | close {reason} (operator): a manual release, hold or
 *   re-lock. These go through the gate's manual path (the same as POST /v1/gates/:id/open and the
 *   MQTT command), so one audit event (gate.opened with the actor) reaches the door as an
 *   operator's input and the door records door.released by manual with the operator.
 * A gate without a door answers 404 on the door routes: the gate routes are for it.
 */
import { HttpError, readJson, sendJson, truncateText, type Route } from '../api/router.ts';
import type { GateApi } from '../api/server.ts';
import { OPERATOR_DOOR_MODES, type DoorState, type OperatorDoorMode } from '../doors/index.ts';
import type { ServiceDoors } from './doors.ts';

/** What the routes need of the box (src/app/box-api.ts BoxApiParts). */
export interface DoorApiParts {
  readonly gates: GateApi;
  readonly doors: Pick<ServiceDoors, 'gateIds' | 'state' | 'setMode'>;
}

const MAX_REASON = 256;
const DOOR_ACTIONS = ['open', 'hold-open', 'close'] as const;

/** A door as the API shows it: what an operator needs to see, no internal timers. */
export function doorView(gateId: string, s: DoorState) {
  return {
    gateId,
    phase: s.phase,
    contact: s.contact,
    locked: !s.released,
    releasedBy: s.releasedBy,
    releasedUntil: s.releasedUntil,
    holdOpen: s.holdOpen,
    openedAt: s.openedAt,
    mode: s.mode,
    operatorMode: s.operatorMode,
    alarms: [...s.alarms],
  };
}

/** The mode of a mode command's body, or a 400 that names the field and the choices. */
export function parseDoorMode(body: Record<string, unknown>): OperatorDoorMode {
  const mode = body.mode;
  if (typeof mode !== 'string' || !(OPERATOR_DOOR_MODES as readonly string[]).includes(mode)) {
    throw new HttpError(400, `mode must be one of ${OPERATOR_DOOR_MODES.join(', ')}`, {}, { code: 'DOOR_MODE_INVALID', field: 'mode', in: 'body', hint: `send {"mode": "lockdown", "reason": "..."}; "unlocked" comes from the door's unlockSchedule only` });
  }
  return mode as OperatorDoorMode;
}

const reasonOf = (body: Record<string, unknown>): string => (typeof body.reason === 'string' ? truncateText(body.reason, MAX_REASON) : '');

export function doorApiRoutes(p: DoorApiParts): Route[] {
  const { doors, gates } = p;
  const stateOf = (id: string): DoorState => {
    const s = doors.state(id);
    if (s) return s;
    throw new HttpError(404, gates.get(id) ? `gate ${id} has no door` : `no gate ${id}`);
  };
  return [
    { method: 'GET', pattern: ['doors'], role: 'viewer', handle: ({ res }) => sendJson(res, 200, { doors: doors.gateIds().flatMap((id) => { const s = doors.state(id); return s ? [doorView(id, s)] : []; }) }) },
    { method: 'GET', pattern: ['gates', ':id', 'door'], role: 'viewer', handle: ({ res }, { id }) => sendJson(res, 200, doorView(id, stateOf(id))) },
    {
      method: 'POST',
      pattern: ['gates', ':id', 'door', 'mode'],
      role: 'admin',
      handle: async ({ req, res, maxMessageBytes }, { id }, who) => {
        const body = await readJson(req, maxMessageBytes);
        stateOf(id);
        const mode = parseDoorMode(body);
        doors.setMode(id, mode, who.id, reasonOf(body) || '(no reason given)');
        sendJson(res, 200, doorView(id, stateOf(id)));
      },
    },
    ...DOOR_ACTIONS.map(
      (action): Route => ({
        method: 'POST',
        pattern: ['gates', ':id', 'door', action],
        role: 'operator',
        handle: async ({ req, res, maxMessageBytes }, { id }, who) => {
          const body = await readJson(req, maxMessageBytes);
          stateOf(id);
          await gates.manual(id, action, who.id, reasonOf(body));
          sendJson(res, 202, { ok: true, gateId: id, action });
        },
      }),
    ),
  ];
}
