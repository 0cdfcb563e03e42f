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
 * - POST /v1/doors/:id/contact | rex (no token: the request's HMAC signature is the auth): a
 *   sensor bridge's signed reading for a door whose input is `webhook: { secret }`
 *   (src/doors/webhook.ts). Failures (unknown gate or input, bad signature, stale time, replay)
 *   are counted per remote address like failed authentications: past the budget, a failure is
 *   429 with Retry-After (bounding the log and the work, as for tokens).
 * A gate without a door answers 404 on the door routes: the gate routes are for it.
 */
import { FailureWindow } from '../api/rate-limit.ts';
import { HttpError, readBody, readJson, sendJson, truncateText, type Route } from '../api/router.ts';
import type { GateApi } from '../api/server.ts';
import { DOOR_WEBHOOK_SIGNATURE_HEADER, OPERATOR_DOOR_MODES, ReplayGuard, verifyDoorWebhook, type DoorState, type DoorWebhookInput, type OperatorDoorMode } from '../doors/index.ts';
import type { ServiceDoors } from './doors.ts';

/** What the routes need of the box (src/app/box-api.ts BoxApiParts). */
export interface DoorApiParts {
  readonly gates: GateApi;
  readonly doors: Pick<ServiceDoors, 'gateIds' | 'state' | 'setMode' | 'webhookSecret' | 'webhookReading'>;
  /** The clock of the webhook inputs' time check (tests inject it). */
  readonly now?: (() => number) | undefined;
}

/** Failed signed requests per remote address per minute before 429 (a bridge retrying a bad secret stays under it). */
const WEBHOOK_FAILURES_PER_MINUTE = 10;
/** The largest reading a bridge sends is a few dozen bytes. */
const WEBHOOK_MAX_BYTES = 4096;

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
  const now = p.now ?? Date.now;
  const failures = new FailureWindow(WEBHOOK_FAILURES_PER_MINUTE, 60_000);
  const replays = new ReplayGuard();
  const signedInput = (input: DoorWebhookInput): Route => ({
    method: 'POST',
    pattern: ['doors', ':id', input],
    role: 'signed',
    handle: async ({ req, res }, { id }) => {
      const remote = req.socket.remoteAddress ?? 'unknown';
      // Only failures are limited, as for tokens (src/api/auth-gate.ts): a bridge with the right
      // secret behind the same address as a guesser keeps working.
      const fail = (status: number, message: string, code: string, hint: string): never => {
        const retryAfter = failures.retryAfterSeconds(remote, now());
        if (retryAfter > 0) throw new HttpError(429, `too many failed signed requests from ${remote}; retry in ${retryAfter} s`, { 'retry-after': String(retryAfter) });
        failures.record(remote, now());
        throw new HttpError(status, message, {}, { code, hint });
      };
      const secret = doors.webhookSecret(id, input);
      if (secret === undefined) fail(404, `no door ${input} webhook input on gate ${id}`, 'DOOR_WEBHOOK_UNKNOWN', `configure gates[].door.${input}: { webhook: { secret } } for this gate`);
      const body = await readBody(req, WEBHOOK_MAX_BYTES);
      const header = req.headers[DOOR_WEBHOOK_SIGNATURE_HEADER];
      const signature = typeof header === 'string' ? header : undefined;
      const v = verifyDoorWebhook(input, secret as string, body, signature, now());
      if (!v.ok) return fail(v.status, v.message, v.code, v.hint);
      if (!replays.admit(signature as string, v.sentAtMs, now())) return fail(409, 'this signed request was already taken (a replay)', 'DOOR_WEBHOOK_REPLAY', 'sign every reading afresh: a new sentAtMs gives a new signature');
      doors.webhookReading(id, v.reading);
      const s = doors.state(id);
      sendJson(res, 202, { ok: true, gateId: id, input, ...(s ? { phase: s.phase, contact: s.contact } : {}) });
    },
  });
  const stateOf = (id: string): DoorState => {
    const s = doors.state(id);
    if (s) return s;
    throw new HttpError(404, gates.get(id) ? `gate ${id} has no door` : `no gate ${id}`);
  };
  return [
    signedInput('contact'),
    signedInput('rex'),
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
