/**
 * MQTT topics and payloads of the MQTT sink. Pure: no I/O, no clock (time is a parameter).
 *
 * <prefix>/available                 online (retained) / offline (last will)
 * <prefix>/events                    every published event type: the v1 envelope (not retained)
 * <prefix>/camera/<id>/status        up / down (retained)
 * <prefix>/camera/<id>/last_face     { name | unknownId, identityId, score, masked, time } (retained)
 * <prefix>/camera/<id>/snapshot      JPEG of the last recognition's face (retained)
 *                                    (both cleared when the person they show is erased: identity.erased)
 * <prefix>/gate/<id>/state           LOCKED / UNLOCKED (retained)
 * <prefix>/gate/<id>/event           { event_type: granted | denied | opened, ... } (not retained)
 * <prefix>/gate/<id>/set             OPEN / LOCK commands in (only with commands: true)
 */
import { typeMatches, type Event } from '../events/index.ts';
import { describeBadText, findBadText } from '../lib/text.ts';
import { topicLevel } from '../config/topic-rules.ts';

export { topicLevel } from '../config/topic-rules.ts';

export interface MqttMessage {
  readonly topic: string;
  readonly payload: string | Buffer;
  readonly retain: boolean;
}

/** A host name as a node id: lower case, [a-z0-9_-], at most 64 characters; 'facegate' if nothing is left. */
export function nodeIdFromHostname(hostname: string): string {
  const s = hostname
    .toLowerCase()
    .split('.')[0]
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 64)
    .replace(/[-_]+$/g, '');
  return s || 'facegate';
}

export interface MqttTopics {
  readonly available: string;
  readonly events: string;
  cameraStatus(cameraId: string): string;
  lastFace(cameraId: string): string;
  snapshot(cameraId: string): string;
  gateState(gateId: string): string;
  gateEvent(gateId: string): string;
  gateSet(gateId: string): string;
  /** The subscription for every gate's commands. */
  readonly gateSetFilter: string;
}

export function mqttTopics(prefix: string): MqttTopics {
  const camera = (id: string, leaf: string): string => `${prefix}/camera/${topicLevel(id)}/${leaf}`;
  const gate = (id: string, leaf: string): string => `${prefix}/gate/${topicLevel(id)}/${leaf}`;
  return {
    available: `${prefix}/available`,
    events: `${prefix}/events`,
    cameraStatus: (id) => camera(id, 'status'),
    lastFace: (id) => camera(id, 'last_face'),
    snapshot: (id) => camera(id, 'snapshot'),
    gateState: (id) => gate(id, 'state'),
    gateEvent: (id) => gate(id, 'event'),
    gateSet: (id) => gate(id, 'set'),
    gateSetFilter: `${prefix}/gate/+/set`,
  };
}

export const ONLINE = 'online';
export const OFFLINE = 'offline';
export type CameraStatus = 'up' | 'down';
export type LockState = 'LOCKED' | 'UNLOCKED';

/** The retained camera status an event implies, if any. */
export function cameraStatusOf(event: Event): CameraStatus | undefined {
  if (event.type === 'camera.up') return 'up';
  if (event.type === 'camera.down' || event.type === 'camera.stalled') return 'down';
  return undefined;
}

/** The retained last-face JSON of a recognition event (undefined for other events). */
export function lastFacePayload(event: Event): string | undefined {
  if (event.type === 'face.recognized') {
    return JSON.stringify({ name: event.data.name, identityId: event.identityId, score: event.data.score, masked: event.data.masked, time: event.time, eventId: event.id });
  }
  if (event.type === 'face.unknown') {
    return JSON.stringify({ name: 'unknown', unknownId: event.data.unknownId ?? null, score: event.data.score ?? null, masked: event.data.masked, time: event.time, eventId: event.id });
  }
  return undefined;
}

/** Home Assistant's event entity reads `event_type`; the rest are its attributes. */
export function gateEventPayload(event: Event): string | undefined {
  if (event.type === 'gate.granted') {
    return JSON.stringify({ event_type: 'granted', eventId: event.id, time: event.time, cameraId: event.cameraId, identityId: event.identityId, name: event.data.name ?? null, score: event.data.score ?? null, masked: event.data.masked });
  }
  if (event.type === 'gate.denied') {
    return JSON.stringify({ event_type: 'denied', eventId: event.id, time: event.time, cameraId: event.cameraId, identityId: event.identityId ?? null, reason: event.data.reason, name: event.data.name ?? null, score: event.data.score ?? null, masked: event.data.masked });
  }
  if (event.type === 'gate.opened') {
    return JSON.stringify({ event_type: 'opened', eventId: event.id, time: event.time, action: event.data.action, by: event.data.by, reason: event.data.reason });
  }
  return undefined;
}

/**
 * A gate's lock as the sink shows it. Facegate pulses a door (no door sensor): a grant or a
 * manual open reads UNLOCKED for `unlockedMs`, a hold-open until its duration ends or a close.
 */
export interface GateLock {
  /** UNLOCKED while now < this; undefined = LOCKED. Infinity = held open until a close. */
  readonly unlockedUntilMs: number | undefined;
}

export const LOCKED: GateLock = { unlockedUntilMs: undefined };

export function gateLockAfter(lock: GateLock, event: Event, unlockedMs: number): GateLock {
  const extend = (until: number): GateLock => ({ unlockedUntilMs: Math.max(lock.unlockedUntilMs ?? 0, until) });
  if (event.type === 'gate.granted') return extend(event.timeMs + unlockedMs);
  if (event.type !== 'gate.opened') return lock;
  if (event.data.action === 'close') return LOCKED;
  if (event.data.action === 'hold-open') return { unlockedUntilMs: event.data.durationMs === undefined ? Infinity : event.timeMs + event.data.durationMs };
  return extend(event.timeMs + unlockedMs);
}

export function lockState(lock: GateLock, nowMs: number): LockState {
  return lock.unlockedUntilMs !== undefined && nowMs < lock.unlockedUntilMs ? 'UNLOCKED' : 'LOCKED';
}

/** ms until the lock relocks by itself (undefined: it does not). */
export function relockInMs(lock: GateLock, nowMs: number): number | undefined {
  const u = lock.unlockedUntilMs;
  return u === undefined || !Number.isFinite(u) || u <= nowMs ? undefined : u - nowMs;
}

/** Does the event go to <prefix>/events under these type patterns? */
export function publishesEvent(types: readonly string[], event: Pick<Event, 'type'>): boolean {
  return types.some((p) => typeMatches(event.type, p));
}

/**
 * The messages an event turns into, in order, apart from the lock state (stateful, see
 * gateLockAfter) and the snapshot bytes (read from disk by the sink).
 */
export function messagesFor(event: Event, topics: MqttTopics, types: readonly string[]): MqttMessage[] {
  const out: MqttMessage[] = [];
  if (publishesEvent(types, event)) out.push({ topic: topics.events, payload: JSON.stringify(event), retain: false });
  const status = cameraStatusOf(event);
  if (status && event.cameraId) out.push({ topic: topics.cameraStatus(event.cameraId), payload: status, retain: true });
  const face = lastFacePayload(event);
  if (face && event.cameraId) out.push({ topic: topics.lastFace(event.cameraId), payload: face, retain: true });
  const gate = gateEventPayload(event);
  if (gate && event.gateId) out.push({ topic: topics.gateEvent(event.gateId), payload: gate, retain: false });
  // An erased person must not stay on the broker: the cameras whose retained last_face and
  // snapshot showed them are cleared (an empty retained message deletes it).
  if (event.type === 'identity.erased') {
    for (const camera of event.data.clearCameras) out.push({ topic: topics.lastFace(camera), payload: '', retain: true }, { topic: topics.snapshot(camera), payload: '', retain: true });
  }
  return out;
}

export type GateCommand = { readonly ok: true; readonly gateId: string; readonly action: 'open' | 'close' } | { readonly ok: false; readonly reason: string };

/**
 * A message on <prefix>/gate/<level>/set as a manual action: OPEN -> open, LOCK -> close (case
 * and surrounding spaces ignored). `gateIds` are the configured gates; the level is matched
 * against their topic levels so a sanitised id still finds its gate, and a level that two gates
 * share opens neither (the config refuses such ids; this holds for any caller).
 */
export function parseGateCommand(topic: string, payload: string, prefix: string, gateIds: readonly string[]): GateCommand {
  const head = `${prefix}/gate/`;
  if (!topic.startsWith(head) || !topic.endsWith('/set')) return { ok: false, reason: 'not a gate command topic' };
  const level = topic.slice(head.length, -'/set'.length);
  const matches = gateIds.filter((g) => topicLevel(g) === level);
  if (matches.length === 0) return { ok: false, reason: `no gate '${level.slice(0, 64)}'` };
  if (matches.length > 1) return { ok: false, reason: `ambiguous topic level '${level.slice(0, 64)}': gates ${matches.map((g) => `'${g.slice(0, 64)}'`).join(', ')} share it` };
  const bad = findBadText(payload);
  if (bad) return { ok: false, reason: describeBadText(bad, 'payload') };
  const word = payload.trim().toUpperCase();
  if (word === 'OPEN' || word === 'UNLOCK') return { ok: true, gateId: matches[0], action: 'open' };
  if (word === 'LOCK' || word === 'CLOSE') return { ok: true, gateId: matches[0], action: 'close' };
  return { ok: false, reason: `unknown command '${word.slice(0, 16)}' (expected OPEN or LOCK)` };
}

/** A command as it came off the wire (MQTT v5 properties when the publisher set any). */
export interface GateCommandMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly properties?: { readonly userProperties?: Readonly<Record<string, string | string[]>> | undefined; readonly responseTopic?: string | undefined } | undefined;
}

export type ReadGateCommand =
  | { readonly ok: true; readonly gateId: string; readonly action: 'open' | 'close'; readonly by: string; readonly sender: string | undefined; readonly responseTopic: string | undefined }
  | { readonly ok: false; readonly reason: string };

/** The longest sender kept in the audit (the event's `by`). */
export const MAX_SENDER_LENGTH = 64;
const MAX_COMMAND_BYTES = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The entry point for MQTT commands: the payload must be UTF-8 without NUL or lone surrogates
 * (text that reaches the event log must be storable everywhere downstream), then parseGateCommand.
 *
 * Who sent it: an MQTT broker does not tell a subscriber which client published (not in MQTT
 * 3.1.1 or 5; Mosquitto adds nothing), so the audit records what the message declares: the MQTT
 * v5 user property `sender` (self-declared, not authenticated: the broker's ACL on
 * <prefix>/gate/+/set is what decides who may send) and the response topic. Without either the
 * actor is `mqtt:unidentified`, never facegate's own client id.
 */
export function readGateCommand(msg: GateCommandMessage, prefix: string, gateIds: readonly string[]): ReadGateCommand {
  // OPEN or LOCK with some spaces: anything long is not a command (and is not decoded or logged).
  if (msg.payload.length > MAX_COMMAND_BYTES) return { ok: false, reason: `payload of ${msg.payload.length} bytes is not a gate command (expected the text OPEN or LOCK)` };
  let payload: string;
  try {
    payload = utf8.decode(msg.payload);
  } catch {
    return { ok: false, reason: 'payload is not valid UTF-8 (expected the text OPEN or LOCK)' };
  }
  const props = msg.properties;
  const senderProp = props?.userProperties?.sender;
  const sender = Array.isArray(senderProp) ? senderProp[0] : senderProp;
  for (const [what, value] of [['user property sender', sender], ['response topic', props?.responseTopic]] as const) {
    const bad = value === undefined ? undefined : findBadText(value);
    if (bad) return { ok: false, reason: describeBadText(bad, what) };
  }
  const cmd = parseGateCommand(msg.topic, payload, prefix, gateIds);
  if (!cmd.ok) return cmd;
  // Cut by code points: a cut between the halves of a surrogate pair would leave a lone one.
  const shown = sender === undefined ? undefined : [...sender.trim()].slice(0, MAX_SENDER_LENGTH).join('');
  return { ...cmd, by: shown ? `mqtt:${shown}` : 'mqtt:unidentified', sender: shown || undefined, responseTopic: props?.responseTopic };
}
