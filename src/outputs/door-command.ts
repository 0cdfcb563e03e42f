/**
 * A door mode command over MQTT (`<prefix>/gate/<id>/door_mode/set`, payload `normal`,
 * `lockdown` or `unlock-all`): Home Assistant's door mode select. Pure. The gate, the sender and
 * the response topic are read by the gate command's own entry (readGateCommand on the gate's
 * command topic), so the audit's actor and the text checks are the same for both commands.
 */
import { readGateCommand, type GateCommandMessage } from './topics.ts';

export const DOOR_MODE_COMMANDS = ['normal', 'lockdown', 'unlock-all'] as const;
export type DoorModeCommandMode = (typeof DOOR_MODE_COMMANDS)[number];

export type ReadDoorModeCommand =
  | { readonly ok: true; readonly gateId: string; readonly mode: DoorModeCommandMode; readonly by: string; readonly sender: string | undefined; readonly responseTopic: string | undefined }
  | { readonly ok: false; readonly reason: string };

const SUFFIX = '/door_mode/set';
const MAX_MODE_BYTES = 64;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether a topic is a door mode command (the sink routes by it). */
export const isDoorModeTopic = (topic: string): boolean => topic.endsWith(SUFFIX);

/**
 * A message on <prefix>/gate/<level>/door_mode/set: the gate among `doorGateIds` (only gates with
 * a door take it), the mode among DOOR_MODE_COMMANDS (case and spaces ignored); `unlocked` is the
 * schedule's and refused.
 */
export function readDoorModeCommand(msg: GateCommandMessage, prefix: string, doorGateIds: readonly string[]): ReadDoorModeCommand {
  if (!msg.topic.startsWith(`${prefix}/gate/`) || !isDoorModeTopic(msg.topic)) return { ok: false, reason: 'not a door mode command topic' };
  if (msg.payload.length > MAX_MODE_BYTES) return { ok: false, reason: `payload of ${msg.payload.length} bytes is not a door mode (expected ${DOOR_MODE_COMMANDS.join(', ')})` };
  let text: string;
  try {
    text = utf8.decode(msg.payload);
  } catch {
    return { ok: false, reason: `payload is not valid UTF-8 (expected ${DOOR_MODE_COMMANDS.join(', ')})` };
  }
  // The gate command's entry on the same gate level: gate lookup, sender and response topic rules.
  const gateTopic = `${msg.topic.slice(0, -SUFFIX.length)}/set`;
  const gate = readGateCommand({ topic: gateTopic, payload: new TextEncoder().encode('OPEN'), properties: msg.properties }, prefix, doorGateIds);
  if (!gate.ok) return { ok: false, reason: gate.reason.replace(/^no gate/, 'no door on gate') };
  const mode = text.trim().toLowerCase();
  if (!(DOOR_MODE_COMMANDS as readonly string[]).includes(mode)) return { ok: false, reason: `unknown door mode '${mode.slice(0, 16)}' (expected ${DOOR_MODE_COMMANDS.join(', ')})` };
  return { ok: true, gateId: gate.gateId, mode: mode as DoorModeCommandMode, by: gate.by, sender: gate.sender, responseTopic: gate.responseTopic };
}
