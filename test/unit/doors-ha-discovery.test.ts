import t from 'tap';
import { discoveryComponents, discoveryPayload, doorTopics, mqttTopics, type DiscoveryInput } from '../../src/outputs/index.ts';
import { doorModeSetFilter } from '../../src/outputs/ha-discovery.ts';
import { readDoorModeCommand } from '../../src/outputs/door-command.ts';

const topics = mqttTopics('facegate/box1');
const input = (door: boolean, commands = true): DiscoveryInput => ({ nodeId: 'box1', discoveryPrefix: 'homeassistant', topics, commands, qos: 1, version: '0.1.0', cameras: [], gates: [{ id: 'front-door', name: 'Front door', door }] });

t.test('door topics sit beside the gate topics', async (t) => {
  t.same(doorTopics(topics, 'front-door'), {
    contact: 'facegate/box1/gate/front-door/door',
    lock: 'facegate/box1/gate/front-door/door_lock',
    mode: 'facegate/box1/gate/front-door/door_mode',
    operatorMode: 'facegate/box1/gate/front-door/door_operator_mode',
    modeSet: 'facegate/box1/gate/front-door/door_mode/set',
    alarm: 'facegate/box1/gate/front-door/door_alarm',
  });
});

t.test('a gate with a door: door sensor, lock, mode and alarm entities', async (t) => {
  const c = discoveryComponents(input(true));
  t.same(Object.keys(c).sort(), ['box1_gate_front-door_door', 'box1_gate_front-door_door_alarm', 'box1_gate_front-door_door_lock', 'box1_gate_front-door_door_mode', 'box1_gate_front-door_door_mode_select', 'box1_gate_front-door_event', 'box1_gate_front-door_lock'].sort());
  t.match(c['box1_gate_front-door_door'], { p: 'binary_sensor', device_class: 'door', state_topic: 'facegate/box1/gate/front-door/door', payload_on: 'open', payload_off: 'closed' });
  // Commands on: the door's lock takes commands on the gate's command topic (unlock = manual open).
  t.match(c['box1_gate_front-door_door_lock'], { p: 'lock', state_topic: 'facegate/box1/gate/front-door/door_lock', command_topic: 'facegate/box1/gate/front-door/set', payload_unlock: 'OPEN', payload_lock: 'LOCK', state_locked: 'LOCKED', state_unlocked: 'UNLOCKED', retain: false });
  // Commands off: a read-only lock sensor.
  t.match(discoveryComponents(input(true, false))['box1_gate_front-door_door_lock'], { p: 'binary_sensor', device_class: 'lock', state_topic: 'facegate/box1/gate/front-door/door_lock', payload_on: 'UNLOCKED', payload_off: 'LOCKED' });
  t.notOk('command_topic' in discoveryComponents(input(true, false))['box1_gate_front-door_door_lock']);
  t.match(c['box1_gate_front-door_door_alarm'], { p: 'event', state_topic: 'facegate/box1/gate/front-door/door_alarm', event_types: ['forced_open', 'held_open', 'lock_failed'] });
  t.match(c['box1_gate_front-door_door_mode'], { p: 'sensor', state_topic: 'facegate/box1/gate/front-door/door_mode' });
  // Commands on: the operator's mode is a select on its own command topic; off: no select.
  t.same(c['box1_gate_front-door_door_mode_select'], { p: 'select', unique_id: 'box1_gate_front-door_door_mode_select', name: 'Front door door mode setting', icon: 'mdi:shield-lock', state_topic: 'facegate/box1/gate/front-door/door_operator_mode', command_topic: 'facegate/box1/gate/front-door/door_mode/set', options: ['normal', 'lockdown', 'unlock-all'], optimistic: false, retain: false });
  t.notOk('box1_gate_front-door_door_mode_select' in discoveryComponents(input(true, false)));
  t.equal(doorModeSetFilter(topics), 'facegate/box1/gate/+/door_mode/set');
  for (const [id, comp] of Object.entries(c)) t.equal(comp.unique_id, id);
});

t.test('no door: no door entities; a door removed is deleted by platform-only entries', async (t) => {
  const without = discoveryComponents(input(false));
  t.notOk(Object.keys(without).some((k) => k.includes('_door')));
  const before = Object.fromEntries(Object.entries(discoveryComponents(input(true))).map(([k, v]) => [k, v.p]));
  const after = discoveryPayload(input(false), before) as { cmps: Record<string, Record<string, unknown>> };
  t.same(after.cmps['box1_gate_front-door_door'], { p: 'binary_sensor' });
  t.same(after.cmps['box1_gate_front-door_door_alarm'], { p: 'event' });
});

t.test('door mode commands: gate with a door, one of three modes, the sender audited', async (t) => {
  const enc = (x: string) => new TextEncoder().encode(x);
  const read = (topic: string, payload: string, sender?: string) => readDoorModeCommand({ topic, payload: enc(payload), properties: sender === undefined ? undefined : { userProperties: { sender } } }, 'facegate/box1', ['front-door']);
  t.same(read('facegate/box1/gate/front-door/door_mode/set', ' Lockdown ', 'ha-admin'), { ok: true, gateId: 'front-door', mode: 'lockdown', by: 'mqtt:ha-admin', sender: 'ha-admin', responseTopic: undefined });
  t.match(read('facegate/box1/gate/front-door/door_mode/set', 'unlock-all'), { ok: true, mode: 'unlock-all', by: 'mqtt:unidentified' });
  t.match(read('facegate/box1/gate/front-door/door_mode/set', 'unlocked'), { ok: false, reason: /unknown door mode 'unlocked'/ }, "the schedule's mode is no command");
  t.match(read('facegate/box1/gate/turnstile/door_mode/set', 'normal'), { ok: false, reason: /no door on gate 'turnstile'/ }, 'a gate without a door');
  t.match(read('facegate/box1/gate/front-door/set', 'normal'), { ok: false, reason: /not a door mode command topic/ });
  t.match(read('other/gate/front-door/door_mode/set', 'normal'), { ok: false });
  t.match(read('facegate/box1/gate/front-door/door_mode/set', 'x'.repeat(100)), { ok: false, reason: /100 bytes/ });
  t.match(readDoorModeCommand({ topic: 'facegate/box1/gate/front-door/door_mode/set', payload: new Uint8Array([0xff, 0xfe]) }, 'facegate/box1', ['front-door']), { ok: false, reason: /UTF-8/ });
  t.match(read('facegate/box1/gate/front-door/door_mode/set', 'normal', 'a\u0000b'), { ok: false, reason: /sender/ }, 'a sender with NUL');
});
