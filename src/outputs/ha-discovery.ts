/**
 * Home Assistant MQTT discovery, device-based: one retained config per facegate node at
 * `<discovery prefix>/device/<node>/config` with the device (`dev`), the origin (`o`) and its
 * components (`cmps`). Pure.
 *
 * Per gate: a `lock` (state LOCKED / UNLOCKED, commands OPEN / LOCK) when MQTT commands are on,
 * else a `binary_sensor` of class lock (HA's lock platform requires a command topic); and an
 * `event` entity (granted / denied / opened). A gate with a door (`gates[].door`) adds the door:
 * a `binary_sensor` of class door (the contact), the door's lock as the door state machine has it
 * (released or locked: a `lock` on the gate's command topic when commands are on, else a
 * `binary_sensor` of class lock), a mode `sensor` (with commands on, also a `select` of the
 * operator's mode: normal / lockdown / unlock-all on <prefix>/gate/<id>/door_mode/set) and an alarm `event`
 * entity (forced_open / held_open / lock_failed); the doors part of the service publishes those
 * topics (doorTopics). Per camera: a connectivity `binary_sensor`, a
 * last-face `sensor` (the name; the rest as attributes) and a `camera` on the snapshot topic.
 * Everything is unavailable while `<prefix>/available` says offline (the last will).
 *
 * A camera or gate removed from the config: its components are announced once more with only
 * their platform (`{ "p": "sensor" }`), which is how device discovery deletes a component; the
 * sink remembers what it announced (cursor store) to know what went away.
 */
import type { MqttTopics } from './topics.ts';
import { topicLevel } from '../config/topic-rules.ts';

export interface DiscoveryInput {
  readonly nodeId: string;
  readonly discoveryPrefix: string;
  readonly topics: MqttTopics;
  readonly commands: boolean;
  readonly qos: number;
  readonly version: string;
  readonly cameras: ReadonlyArray<{ readonly id: string; readonly name: string }>;
  readonly gates: ReadonlyArray<{ readonly id: string; readonly name: string; readonly door?: boolean | undefined }>;
}

export const DOOR_ALARM_EVENT_TYPES = ['forced_open', 'held_open', 'lock_failed'] as const;
export type DoorAlarmEventType = (typeof DOOR_ALARM_EVENT_TYPES)[number];

export interface DoorTopics {
  /** Retained `open` / `closed`: the contact. */
  readonly contact: string;
  /** Retained `LOCKED` / `UNLOCKED`: the lock as the door state machine has it. */
  readonly lock: string;
  /** Retained mode: normal, unlocked, lockdown, unlock-all. */
  readonly mode: string;
  /** Retained operator mode (normal, lockdown, unlock-all): the state of the mode select. */
  readonly operatorMode: string;
  /** Commands (not retained): `normal`, `lockdown` or `unlock-all`, an operator's door mode. */
  readonly modeSet: string;
  /** Not retained: `{"event_type": "forced_open" | "held_open" | "lock_failed", ...}`. */
  readonly alarm: string;
}

/** A door's topics: leaves beside the gate's own (`<prefix>/gate/<id>/door`, `.../door_lock`, ...). */
export function doorTopics(topics: Pick<MqttTopics, 'gateState'>, gateId: string): DoorTopics {
  const gateBase = topics.gateState(gateId).replace(/\/state$/, '');
  return { contact: `${gateBase}/door`, lock: `${gateBase}/door_lock`, mode: `${gateBase}/door_mode`, operatorMode: `${gateBase}/door_operator_mode`, modeSet: `${gateBase}/door_mode/set`, alarm: `${gateBase}/door_alarm` };
}

/** The subscription filter of every door's mode commands (`<prefix>/gate/+/door_mode/set`). */
export function doorModeSetFilter(topics: Pick<MqttTopics, 'gateSetFilter'>): string {
  return topics.gateSetFilter.replace(/\/set$/, '/door_mode/set');
}

/** Component id -> platform: what was announced (persisted between runs). */
export type Announced = Readonly<Record<string, string>>;

export const GATE_EVENT_TYPES = ['granted', 'denied', 'opened'] as const;

export function discoveryTopic(discoveryPrefix: string, nodeId: string): string {
  return `${discoveryPrefix}/device/${nodeId}/config`;
}

/** The topic Home Assistant announces its own start on ('online'): time to announce again. */
export function haStatusTopic(discoveryPrefix: string): string {
  return `${discoveryPrefix}/status`;
}

type Component = Record<string, unknown> & { readonly p: string; readonly unique_id: string };

/** The components of the current config, keyed by their ids (stable across runs). */
export function discoveryComponents(input: DiscoveryInput): Record<string, Component> {
  const { nodeId, topics } = input;
  const out: Record<string, Component> = {};
  const add = (id: string, c: Omit<Component, 'unique_id'>): void => {
    out[id] = { ...c, unique_id: id } as Component;
  };
  for (const g of input.gates) {
    const base = `${nodeId}_gate_${topicLevel(g.id)}`;
    if (input.commands) {
      add(`${base}_lock`, {
        p: 'lock',
        name: g.name,
        state_topic: topics.gateState(g.id),
        command_topic: topics.gateSet(g.id),
        payload_lock: 'LOCK',
        payload_unlock: 'OPEN',
        state_locked: 'LOCKED',
        state_unlocked: 'UNLOCKED',
        optimistic: false,
        retain: false,
      });
    } else {
      add(`${base}_lock`, { p: 'binary_sensor', name: g.name, device_class: 'lock', state_topic: topics.gateState(g.id), payload_on: 'UNLOCKED', payload_off: 'LOCKED' });
    }
    add(`${base}_event`, { p: 'event', name: `${g.name} access`, state_topic: topics.gateEvent(g.id), event_types: [...GATE_EVENT_TYPES] });
    if (g.door) {
      const door = doorTopics(topics, g.id);
      add(`${base}_door`, { p: 'binary_sensor', name: `${g.name} door`, device_class: 'door', state_topic: door.contact, payload_on: 'open', payload_off: 'closed' });
      // With commands on, the door's lock is a lock: unlock is an operator's manual open and lock a
      // re-lock, sent on the gate's own command topic, so the command path, its rate limit and its
      // audit are the gate's (the doors part follows gate.opened).
      if (input.commands) {
        add(`${base}_door_lock`, { p: 'lock', name: `${g.name} door lock`, state_topic: door.lock, command_topic: topics.gateSet(g.id), payload_lock: 'LOCK', payload_unlock: 'OPEN', state_locked: 'LOCKED', state_unlocked: 'UNLOCKED', optimistic: false, retain: false });
      } else {
        add(`${base}_door_lock`, { p: 'binary_sensor', name: `${g.name} door lock`, device_class: 'lock', state_topic: door.lock, payload_on: 'UNLOCKED', payload_off: 'LOCKED' });
      }
      add(`${base}_door_mode`, { p: 'sensor', name: `${g.name} door mode`, icon: 'mdi:door-closed-lock', state_topic: door.mode });
      // The operator's mode as a select (commands on): its state is the operator mode, not the
      // effective one, since a schedule's `unlocked` is no choice an operator can make.
      if (input.commands) {
        add(`${base}_door_mode_select`, { p: 'select', name: `${g.name} door mode setting`, icon: 'mdi:shield-lock', state_topic: door.operatorMode, command_topic: door.modeSet, options: ['normal', 'lockdown', 'unlock-all'], optimistic: false, retain: false });
      }
      add(`${base}_door_alarm`, { p: 'event', name: `${g.name} door alarm`, icon: 'mdi:door-open', state_topic: door.alarm, event_types: [...DOOR_ALARM_EVENT_TYPES] });
    }
  }
  for (const c of input.cameras) {
    const base = `${nodeId}_camera_${topicLevel(c.id)}`;
    add(`${base}_status`, { p: 'binary_sensor', name: `${c.name} connected`, device_class: 'connectivity', entity_category: 'diagnostic', state_topic: topics.cameraStatus(c.id), payload_on: 'up', payload_off: 'down' });
    add(`${base}_last_face`, { p: 'sensor', name: `${c.name} last face`, icon: 'mdi:face-recognition', state_topic: topics.lastFace(c.id), value_template: '{{ value_json.name }}', json_attributes_topic: topics.lastFace(c.id) });
    add(`${base}_snapshot`, { p: 'camera', name: `${c.name} last recognition`, topic: topics.snapshot(c.id) });
  }
  return out;
}

/** The device config payload: current components, plus platform-only entries for removed ones. */
export function discoveryPayload(input: DiscoveryInput, previously: Announced = {}): Record<string, unknown> {
  const current = discoveryComponents(input);
  const cmps: Record<string, Record<string, unknown>> = { ...current };
  for (const [id, p] of Object.entries(previously)) if (!(id in current)) cmps[id] = { p };
  return {
    dev: { ids: [`facegate_${input.nodeId}`], name: `facegate ${input.nodeId}`, mf: 'facegate', mdl: 'facegate edge node', sw: input.version },
    o: { name: 'facegate', sw: input.version },
    cmps,
    availability_topic: input.topics.available,
    payload_available: 'online',
    payload_not_available: 'offline',
    qos: input.qos,
  };
}

/** What to remember after announcing: the current components' platforms. */
export function announcedAfter(input: DiscoveryInput): Announced {
  return Object.fromEntries(Object.entries(discoveryComponents(input)).map(([id, c]) => [id, c.p]));
}
