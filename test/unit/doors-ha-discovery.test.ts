import t from 'tap';
import { discoveryComponents, discoveryPayload, doorTopics, mqttTopics, type DiscoveryInput } from '../../src/outputs/index.ts';

const topics = mqttTopics('facegate/box1');
const input = (door: boolean, commands = true): DiscoveryInput => ({ nodeId: 'box1', discoveryPrefix: 'homeassistant', topics, commands, qos: 1, version: '0.1.0', cameras: [], gates: [{ id: 'front-door', name: 'Front door', door }] });

t.test('door topics sit beside the gate topics', async (t) => {
  t.same(doorTopics(topics, 'front-door'), {
    contact: 'facegate/box1/gate/front-door/door',
    lock: 'facegate/box1/gate/front-door/door_lock',
    mode: 'facegate/box1/gate/front-door/door_mode',
    alarm: 'facegate/box1/gate/front-door/door_alarm',
  });
});

t.test('a gate with a door: door sensor, lock, mode and alarm entities', async (t) => {
  const c = discoveryComponents(input(true));
  t.same(Object.keys(c).sort(), ['box1_gate_front-door_door', 'box1_gate_front-door_door_alarm', 'box1_gate_front-door_door_lock', 'box1_gate_front-door_door_mode', 'box1_gate_front-door_event', 'box1_gate_front-door_lock'].sort());
  t.match(c['box1_gate_front-door_door'], { p: 'binary_sensor', device_class: 'door', state_topic: 'facegate/box1/gate/front-door/door', payload_on: 'open', payload_off: 'closed' });
  // Commands on: the door's lock takes commands on the gate's command topic (unlock = manual open).
  t.match(c['box1_gate_front-door_door_lock'], { p: 'lock', state_topic: 'facegate/box1/gate/front-door/door_lock', command_topic: 'facegate/box1/gate/front-door/set', payload_unlock: 'OPEN', payload_lock: 'LOCK', state_locked: 'LOCKED', state_unlocked: 'UNLOCKED', retain: false });
  // Commands off: a read-only lock sensor.
  t.match(discoveryComponents(input(true, false))['box1_gate_front-door_door_lock'], { p: 'binary_sensor', device_class: 'lock', state_topic: 'facegate/box1/gate/front-door/door_lock', payload_on: 'UNLOCKED', payload_off: 'LOCKED' });
  t.notOk('command_topic' in discoveryComponents(input(true, false))['box1_gate_front-door_door_lock']);
  t.match(c['box1_gate_front-door_door_alarm'], { p: 'event', state_topic: 'facegate/box1/gate/front-door/door_alarm', event_types: ['forced_open', 'held_open', 'lock_failed'] });
  t.match(c['box1_gate_front-door_door_mode'], { p: 'sensor', state_topic: 'facegate/box1/gate/front-door/door_mode' });
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
