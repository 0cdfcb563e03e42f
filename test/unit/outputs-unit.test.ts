/**
 * The pure parts of the outputs stage: cursor arithmetic, topics and payloads, the gate lock
 * state, MQTT commands, Home Assistant discovery payloads, and the events.outputs.mqtt config
 * (defaults, and every refusal with its path and fix). No broker here: see outputs-mqtt.test.ts.
 */
import t from 'tap';
import { formatConfigPath, formatConfigErrors, parseConfig, type ConfigError } from '../../src/config/index.ts';
import type { Event } from '../../src/events/index.ts';
import {
  advanceCursor,
  announcedAfter,
  discoveryPayload,
  discoveryTopic,
  gateLockAfter,
  LOCKED,
  lockState,
  messagesFor,
  mqttTopics,
  nodeIdFromHostname,
  parseGateCommand,
  relockInMs,
  sinkLag,
  startCursor,
  topicLevel,
  readGateCommand,
  CommandLimiter,
  RefusalWindows,
  refillTokens,
  type DiscoveryInput,
  type GateCommandMessage,
} from '../../src/outputs/index.ts';
import { systemHealthEvent } from '../../src/app/health.ts';
import { configError } from '../helpers/config-error.ts';

const T0 = Date.UTC(2026, 10, 29, 10, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const ev = <E extends Event>(e: Omit<E, 'v' | 'time'>): Event => ({ v: 1, time: iso(e.timeMs), ...e }) as unknown as Event;

const granted = ev({ id: 7, type: 'gate.granted', timeMs: T0, gateId: 'front-door', cameraId: 'door', trackId: 'door:1', identityId: 'id_a', data: { name: 'Ada', score: 0.71, masked: true } } as never);
const denied = ev({ id: 8, type: 'gate.denied', timeMs: T0 + 10, gateId: 'front-door', cameraId: 'door', trackId: 'door:2', data: { reason: 'unknown', score: 0.1, masked: false } } as never);
const recognized = ev({ id: 9, type: 'face.recognized', timeMs: T0, cameraId: 'door', trackId: 'door:1', identityId: 'id_a', data: { name: 'Ada', score: 0.71, masked: true, snapshotId: 'abcdefgh12' } } as never);
const unknown = ev({ id: 10, type: 'face.unknown', timeMs: T0, cameraId: 'door', trackId: 'door:3', data: { unknownId: 'u_3', score: 0.2, masked: false } } as never);
const up = ev({ id: 11, type: 'camera.up', timeMs: T0, cameraId: 'door', data: {} } as never);
const stalled = ev({ id: 12, type: 'camera.stalled', timeMs: T0, cameraId: 'door', data: { silentMs: 5000 } } as never);
const opened = (id: number, action: 'open' | 'hold-open' | 'close', timeMs: number, durationMs?: number) =>
  ev({ id, type: 'gate.opened', timeMs, gateId: 'front-door', data: { action, by: 'mqtt:fg', reason: 'test', ...(durationMs ? { durationMs } : {}) } } as never);

t.test('cursor arithmetic: lag, start, advance', async (t) => {
  t.equal(sinkLag(100, 40), 60);
  t.equal(sinkLag(10, 40), 0, 'a cursor past the head is no negative lag');
  t.equal(startCursor(undefined, 57), 57, 'a new sink starts at the head (no history replayed into a broker)');
  t.equal(startCursor(undefined, 57, 'beginning'), 0, 'a sink that asks for the history (the fleet outbox) starts at the beginning');
  t.equal(startCursor(30, 57, 'beginning'), 30, 'and resumes its stored cursor like any other');
  t.equal(startCursor(30, 57), 30, 'a stored cursor resumes');
  t.equal(startCursor(90, 57), 57, 'a cursor above the head (another log) is clamped');
  t.equal(startCursor(Number.NaN, 5), 5);
  t.equal(advanceCursor(5, [6, 7, 9]), 9);
  t.equal(advanceCursor(9, [3, 4]), 9, 'never moves back');
  t.equal(advanceCursor(4, []), 4);
});

t.test('node ids and topic levels', async (t) => {
  t.equal(nodeIdFromHostname('Door-Pi.local'), 'door-pi');
  t.equal(nodeIdFromHostname('edge box #1'), 'edge-box-1');
  t.equal(nodeIdFromHostname('---'), 'facegate');
  t.equal(nodeIdFromHostname('x'.repeat(100)).length, 64);
  t.equal(topicLevel('front-door'), 'front-door');
  t.equal(topicLevel('a/b+c#d e'), 'a_b_c_d_e', 'no level separators or wildcards from an id');
  t.equal(topicLevel(''), '_');
  const tp = mqttTopics('facegate/door-pi');
  t.same(
    [tp.available, tp.events, tp.cameraStatus('door'), tp.lastFace('door'), tp.snapshot('door'), tp.gateState('front-door'), tp.gateEvent('front-door'), tp.gateSet('front-door'), tp.gateSetFilter],
    [
      'facegate/door-pi/available',
      'facegate/door-pi/events',
      'facegate/door-pi/camera/door/status',
      'facegate/door-pi/camera/door/last_face',
      'facegate/door-pi/camera/door/snapshot',
      'facegate/door-pi/gate/front-door/state',
      'facegate/door-pi/gate/front-door/event',
      'facegate/door-pi/gate/front-door/set',
      'facegate/door-pi/gate/+/set',
    ],
  );
});

t.test('messages per event: envelope on events, retained status and last face, gate events', async (t) => {
  const tp = mqttTopics('p');
  const g = messagesFor(granted, tp, ['*']);
  t.same(g.map((m) => [m.topic, m.retain]), [['p/events', false], ['p/gate/front-door/event', false]]);
  t.same(JSON.parse(String(g[0].payload)), granted, 'the v1 envelope as logged');
  t.match(JSON.parse(String(g[1].payload)), { event_type: 'granted', eventId: 7, name: 'Ada', identityId: 'id_a', masked: true, score: 0.71, time: iso(T0) });
  t.match(JSON.parse(String(messagesFor(denied, tp, ['*'])[1].payload)), { event_type: 'denied', reason: 'unknown', eventId: 8 });
  t.match(JSON.parse(String(messagesFor(opened(13, 'open', T0), tp, ['*'])[1].payload)), { event_type: 'opened', action: 'open', by: 'mqtt:fg' });

  const r = messagesFor(recognized, tp, ['gate.*']);
  t.same(r.map((m) => [m.topic, m.retain]), [['p/camera/door/last_face', true]], 'types filter only the events topic');
  t.same(JSON.parse(String(r[0].payload)), { name: 'Ada', identityId: 'id_a', score: 0.71, masked: true, time: iso(T0), eventId: 9 });
  t.match(JSON.parse(String(messagesFor(unknown, tp, [])[0].payload)), { name: 'unknown', unknownId: 'u_3', score: 0.2, masked: false });
  t.same(messagesFor(up, tp, ['face.*']).map((m) => [m.topic, m.payload, m.retain]), [['p/camera/door/status', 'up', true]]);
  t.same(messagesFor(stalled, tp, ['face.*']).map((m) => m.payload), ['down']);
});

t.test('gate lock: a grant or an open pulses, hold-open holds, close locks', async (t) => {
  let lock = gateLockAfter(LOCKED, granted, 5000);
  t.equal(lockState(lock, T0 + 4999), 'UNLOCKED');
  t.equal(lockState(lock, T0 + 5000), 'LOCKED');
  t.equal(relockInMs(lock, T0 + 1000), 4000);
  t.equal(lockState(gateLockAfter(LOCKED, granted, 5000), T0 + 60_000), 'LOCKED', 'a grant from a backlog long ago does not unlock now');
  t.equal(gateLockAfter(LOCKED, denied, 5000), LOCKED, 'a denial changes nothing');
  lock = gateLockAfter(LOCKED, opened(20, 'hold-open', T0), 5000);
  t.equal(lockState(lock, T0 + 86_400_000), 'UNLOCKED', 'held until closed');
  t.equal(relockInMs(lock, T0), undefined);
  lock = gateLockAfter(lock, granted, 5000);
  t.equal(lockState(lock, T0 + 86_400_000), 'UNLOCKED', 'a grant does not shorten a hold');
  t.equal(lockState(gateLockAfter(lock, opened(21, 'close', T0 + 1), 5000), T0 + 2), 'LOCKED');
  t.equal(lockState(gateLockAfter(LOCKED, opened(22, 'hold-open', T0, 3000), 5000), T0 + 3001), 'LOCKED', 'a timed hold ends');
});

t.test('MQTT gate commands: OPEN / LOCK for a configured gate only', async (t) => {
  const gates = ['front-door', 'a/b'];
  t.same(parseGateCommand('p/gate/front-door/set', 'OPEN', 'p', gates), { ok: true, gateId: 'front-door', action: 'open' });
  t.same(parseGateCommand('p/gate/front-door/set', ' lock\n', 'p', gates), { ok: true, gateId: 'front-door', action: 'close' });
  t.same(parseGateCommand('p/gate/a_b/set', 'OPEN', 'p', gates), { ok: true, gateId: 'a/b', action: 'open' }, 'a sanitised level finds its gate');
  t.match(parseGateCommand('p/gate/back-door/set', 'OPEN', 'p', gates), { ok: false, reason: /no gate/ });
  t.match(parseGateCommand('p/gate/front-door/set', 'EXPLODE', 'p', gates), { ok: false, reason: /expected OPEN or LOCK/ });
  t.match(parseGateCommand('q/gate/front-door/set', 'OPEN', 'p', gates), { ok: false });
  // Two gates on one level (ids from before gate ids were slugs, or any caller that skipped the
  // config check): the command is refused rather than opening whichever comes first.
  t.match(parseGateCommand('p/gate/vault_door/set', 'OPEN', 'p', ['vault+door', 'vault_door']), { ok: false, reason: /ambiguous.*vault\+door.*vault_door/ });
  t.match(parseGateCommand('p/gate/front-door/set', 'OPEN\u0000', 'p', gates), { ok: false, reason: /NUL character/ });
  t.match(parseGateCommand('p/gate/front-door/set', 'OPEN\udc00', 'p', gates), { ok: false, reason: /lone UTF-16 surrogate/ });
});

t.test('MQTT command entry: bytes must be UTF-8 without NUL; the sender is what the message declares', async (t) => {
  const gates = ['front-door'];
  const msg = (payload: Buffer | string, properties: GateCommandMessage['properties'] = undefined): GateCommandMessage => ({ topic: 'p/gate/front-door/set', payload: typeof payload === 'string' ? Buffer.from(payload) : payload, properties });
  t.same(readGateCommand(msg('OPEN'), 'p', gates), { ok: true, gateId: 'front-door', action: 'open', by: 'mqtt:unidentified', sender: undefined, responseTopic: undefined });
  t.match(readGateCommand(msg(Buffer.from([0x4f, 0x50, 0x45, 0x4e, 0xff])), 'p', gates), { ok: false, reason: /not valid UTF-8/ });
  t.match(readGateCommand(msg('OP\u0000EN'), 'p', gates), { ok: false, reason: /payload contains a NUL character \(U\+0000\) at index 2/ });
  t.match(readGateCommand(msg('OPEN', { userProperties: { sender: 'ha-automation' }, responseTopic: 'ha/reply' }), 'p', gates), { ok: true, by: 'mqtt:ha-automation', sender: 'ha-automation', responseTopic: 'ha/reply' });
  t.match(readGateCommand(msg('OPEN', { userProperties: { sender: ['first', 'second'] } }), 'p', gates), { ok: true, by: 'mqtt:first' }, 'a repeated property: the first one');
  t.match(readGateCommand(msg('OPEN', { userProperties: { sender: 'ev\u0000il' } }), 'p', gates), { ok: false, reason: /user property sender contains a NUL/ });
  t.match(readGateCommand(msg('OPEN', { userProperties: { sender: 'x'.repeat(500) } }), 'p', gates), { ok: true, by: `mqtt:${'x'.repeat(64)}` }, 'bounded');
  t.match(readGateCommand(msg('OPEN', { responseTopic: 'r\u0000' }), 'p', gates), { ok: false, reason: /response topic contains a NUL/ });
});

t.test('command rate limit: a burst, then a steady rate per gate and action; refusals reported once per window', async (t) => {
  const limiter = new CommandLimiter({ perMinute: 12, burst: 3 }, 60_000);
  // 300 OPENs in 77 ms (what opened the door 300 times).
  const results = Array.from({ length: 300 }, (_, i) => limiter.take('front-door', 'open', T0 + Math.floor((i * 77) / 300)));
  t.equal(results.filter((r) => r.ok).length, 3, 'the burst passes, the rest is refused');
  const reports = results.filter((r) => !r.ok && r.firstInWindow);
  t.equal(reports.length, 1, 'one report for the window, not 297');
  t.match(reports[0], { ok: false, retryInMs: 5000 });
  t.equal(limiter.nextReportMs(), T0 + 60_000, 'the window ends a minute after the first refusal');
  t.ok(limiter.take('front-door', 'close', T0 + 80).ok, 'LOCK has its own budget: an OPEN flood cannot stop a LOCK');
  t.ok(limiter.take('back-door', 'open', T0 + 80).ok, 'and every gate its own');
  t.notOk(limiter.take('front-door', 'open', T0 + 4_000).ok, 'one token per 5 s: not yet');
  t.ok(limiter.take('front-door', 'open', T0 + 5_100).ok, 'one token after 5 s');
  t.same(limiter.flush(T0 + 30_000), [], 'the window is still open');
  t.same(limiter.flush(T0 + 60_001), [{ gateId: 'front-door', action: 'open', refused: 298, sinceMs: T0 }], 'at the window end: the count of refusals in it');
  t.same(limiter.flush(T0 + 120_000), [], 'reported once');
  t.ok(limiter.take('front-door', 'open', T0 + 60_002).ok, 'refilled');
  const windows = new RefusalWindows(1000, 2);
  t.same(['a', 'b', 'c', 'd', 'a'].map((k) => windows.note(k, T0).first), [true, true, true, false, false], 'keys beyond the bound share one window');
  t.same(windows.flush(T0 + 1000).map((w) => [w.key, w.refused]), [['a', 2], ['*', 2]]);
  t.equal(refillTokens({ tokens: 0, atMs: 0 }, 30_000, { perMinute: 12, burst: 3 }).tokens, 3, 'never above the burst');
});

const input = (over: Partial<DiscoveryInput> = {}): DiscoveryInput => ({
  nodeId: 'door-pi',
  discoveryPrefix: 'homeassistant',
  topics: mqttTopics('facegate/door-pi'),
  commands: true,
  qos: 1,
  version: '0.1.0',
  cameras: [{ id: 'door', name: 'Door' }],
  gates: [{ id: 'front-door', name: 'Front door' }],
  ...over,
});

t.test('Home Assistant discovery: one device, every entity with its topics', async (t) => {
  t.equal(discoveryTopic('homeassistant', 'door-pi'), 'homeassistant/device/door-pi/config');
  const p = discoveryPayload(input()) as { dev: Record<string, unknown>; o: Record<string, unknown>; cmps: Record<string, Record<string, unknown>>; availability_topic: string; qos: number };
  t.same(Object.keys(p).sort(), ['availability_topic', 'cmps', 'dev', 'o', 'payload_available', 'payload_not_available', 'qos'].sort());
  t.same(p.dev.ids, ['facegate_door-pi']);
  t.match(p.o, { name: 'facegate', sw: '0.1.0' });
  t.equal(p.availability_topic, 'facegate/door-pi/available');
  t.same(Object.keys(p.cmps).sort(), ['door-pi_camera_door_last_face', 'door-pi_camera_door_snapshot', 'door-pi_camera_door_status', 'door-pi_gate_front-door_event', 'door-pi_gate_front-door_lock'].sort());
  for (const [id, c] of Object.entries(p.cmps)) t.equal(c.unique_id, id, `${id}: unique_id`);
  t.match(p.cmps['door-pi_gate_front-door_lock'], { p: 'lock', state_topic: 'facegate/door-pi/gate/front-door/state', command_topic: 'facegate/door-pi/gate/front-door/set', payload_unlock: 'OPEN', payload_lock: 'LOCK', state_locked: 'LOCKED', state_unlocked: 'UNLOCKED' });
  t.match(p.cmps['door-pi_gate_front-door_event'], { p: 'event', state_topic: 'facegate/door-pi/gate/front-door/event', event_types: ['granted', 'denied', 'opened'] });
  t.match(p.cmps['door-pi_camera_door_status'], { p: 'binary_sensor', device_class: 'connectivity', state_topic: 'facegate/door-pi/camera/door/status', payload_on: 'up', payload_off: 'down' });
  t.match(p.cmps['door-pi_camera_door_last_face'], { p: 'sensor', state_topic: 'facegate/door-pi/camera/door/last_face', json_attributes_topic: 'facegate/door-pi/camera/door/last_face', value_template: '{{ value_json.name }}' });
  t.match(p.cmps['door-pi_camera_door_snapshot'], { p: 'camera', topic: 'facegate/door-pi/camera/door/snapshot' });

  const ro = discoveryPayload(input({ commands: false })) as { cmps: Record<string, Record<string, unknown>> };
  t.match(ro.cmps['door-pi_gate_front-door_lock'], { p: 'binary_sensor', device_class: 'lock', payload_on: 'UNLOCKED', payload_off: 'LOCKED' }, 'no command topic: a read-only lock sensor');
  t.notOk('command_topic' in ro.cmps['door-pi_gate_front-door_lock']);

  const before = announcedAfter(input({ cameras: [{ id: 'door', name: 'Door' }, { id: 'yard', name: 'Yard' }] }));
  const after = discoveryPayload(input(), before) as { cmps: Record<string, Record<string, unknown>> };
  t.same(after.cmps['door-pi_camera_yard_status'], { p: 'binary_sensor' }, 'a removed camera: platform only (HA deletes the entity)');
  t.same(after.cmps['door-pi_camera_yard_snapshot'], { p: 'camera' });
  t.match(after.cmps['door-pi_camera_door_status'], { state_topic: 'facegate/door-pi/camera/door/status' }, 'the rest stays');
});

const issueAt = (e: ConfigError, path: string) => e.issues.find((i) => formatConfigPath(i.path) === path);

t.test('config events.outputs.mqtt: absent by default, defaults when present', async (t) => {
  t.equal(parseConfig({}).events.outputs.mqtt, undefined, 'no section, no sink');
  const m = parseConfig({ events: { outputs: { mqtt: { enabled: true, url: 'mqtt://192.0.2.5:1883' } } } }).events.outputs.mqtt;
  t.same(m, { enabled: true, url: 'mqtt://192.0.2.5:1883', discovery: { enabled: true, prefix: 'homeassistant' }, qos: 1, types: ['*'], commands: false, commandLimit: { perMinute: 12, burst: 3 }, echoCheck: { enabled: true, timeoutMs: 5000 }, unlockedMs: 5000 });
  t.equal(parseConfig({ events: { outputs: { mqtt: {} } } }).events.outputs.mqtt?.enabled, false, 'enabled defaults to false');
  for (const url of ['mqtts://broker.example:8883', 'ws://127.0.0.1:9001/mqtt', 'wss://h/mqtt']) t.equal(parseConfig({ events: { outputs: { mqtt: { enabled: true, url } } } }).events.outputs.mqtt?.url, url);
});

t.test('config events.outputs.mqtt: every refusal names the path and a fix, never the secret', async (t) => {
  const bad = (mqtt: Record<string, unknown>) => configError(() => parseConfig({ events: { outputs: { mqtt } } }, 'facegate.yaml'));
  let e = bad({ enabled: true });
  t.match(issueAt(e, 'events.outputs.mqtt.url'), { message: /required when mqtt is enabled/, hint: /url: mqtt:\/\// });
  e = bad({ enabled: true, url: 'mqtt://fg:S3cretPass@192.0.2.5:1883' });
  t.match(issueAt(e, 'events.outputs.mqtt.url'), { message: /carries credentials/, hint: /passwordFile/ });
  t.notMatch(formatConfigErrors(e), /S3cretPass/, 'the password is not echoed');
  e = bad({ enabled: true, url: 'http://192.0.2.5' });
  t.match(issueAt(e, 'events.outputs.mqtt.url'), { message: /mqtt:\/\/, mqtts:\/\/, ws:\/\//, hint: /for example mqtt:\/\/192\.0\.2\.5:1883/ });
  e = bad({ url: `mqtt://${'h'.repeat(5000)}` });
  t.ok(issueAt(e, 'events.outputs.mqtt.url'), 'bounded length');
  e = bad({ username: 'fg', password: 'pw-0123456789', passwordFile: '/etc/fg/mqtt.pw' });
  t.match(issueAt(e, 'events.outputs.mqtt.passwordFile'), { message: /either `password` or `passwordFile`/, hint: /remove password/ });
  t.notMatch(formatConfigErrors(e), /pw-0123456789/);
  for (const i of e.issues) t.ok(i.hint, `${formatConfigPath(i.path)} has a fix`);
  e = bad({ password: 'pw-0123456789' });
  t.match(issueAt(e, 'events.outputs.mqtt.username'), { message: /needs a username/ });
  e = bad({ qos: 3 });
  t.match(issueAt(e, 'events.outputs.mqtt.qos'), { message: /<= 2/ });
  e = bad({ topicPrefix: 'facegate/#' });
  t.match(issueAt(e, 'events.outputs.mqtt.topicPrefix'), { message: /without wildcards/ });
  e = bad({ discovery: { prefix: '/ha/' } });
  t.ok(issueAt(e, 'events.outputs.mqtt.discovery.prefix'));
  e = bad({ types: ['gate.*', 'Gate Denied'] });
  t.match(issueAt(e, 'events.outputs.mqtt.types[1]'), { message: /event type/ });
  e = bad({ tls: { cert: 'c.pem' } });
  t.match(issueAt(e, 'events.outputs.mqtt.tls.key'), { message: /both cert and key/ });
  e = bad({ nodeId: 'Door Pi' });
  t.match(issueAt(e, 'events.outputs.mqtt.nodeId'), { message: /slug/ });
  // Mosquitto drops client publishes under $SYS without an error (MQTT 3.1.1): every event lost while health said fine.
  for (const [key, value] of [['topicPrefix', '$SYS/facegate'], ['topicPrefix', '$share/g/x'], ['discovery.prefix', '$SYS']] as const) {
    e = bad(key === 'topicPrefix' ? { topicPrefix: value } : { discovery: { prefix: value } });
    t.match(issueAt(e, `events.outputs.mqtt.${key}`), { message: /starts with '\$'.*reserved for the broker/, hint: /facegate\/door-1|homeassistant/ }, `${key}: ${value}`);
  }
  t.equal(parseConfig({ events: { outputs: { mqtt: { topicPrefix: 'site/$door' } } } }).events.outputs.mqtt?.topicPrefix, 'site/$door', "a '$' after the first level is an ordinary character");
  e = bad({ commandLimit: { perMinute: 0, burst: 1000 } });
  t.ok(issueAt(e, 'events.outputs.mqtt.commandLimit.perMinute'));
  t.ok(issueAt(e, 'events.outputs.mqtt.commandLimit.burst'));
  e = bad({ echoCheck: { timeoutMs: 10 } });
  t.ok(issueAt(e, 'events.outputs.mqtt.echoCheck.timeoutMs'));
  // Node 'n' with gate 'g_gate_h' and node 'n_gate_g' with gate 'h' both announce 'n_gate_g_gate_h_lock' to Home Assistant.
  e = bad({ nodeId: 'n_gate_g' });
  t.match(issueAt(e, 'events.outputs.mqtt.nodeId'), { message: /contains '_gate_'.*unique ids/, hint: /without '_gate_'/ });
  t.ok(issueAt(bad({ nodeId: 'door_camera_2' }), 'events.outputs.mqtt.nodeId'));
  t.equal(parseConfig({ events: { outputs: { mqtt: { nodeId: 'gate-box_1' } } } }).events.outputs.mqtt?.nodeId, 'gate-box_1');
  e = bad({ brokr: 'x' });
  t.match(issueAt(e, 'events.outputs.mqtt.brokr'), { message: 'unknown key', hint: /allowed here: .*url/ });
});

t.test('system.health: a sink that is connected but not trusted (no echo from the broker) degrades the box', async (t) => {
  const base = { nowMs: 1_000_000, uptimeMs: 60_000, rssBytes: 300e6, cameras: [], modelP95Ms: {}, eventLogLastId: 7 };
  const warning = 'the broker did not echo a test message within 5000 ms';
  const h = systemHealthEvent({ ...base, sinks: [{ name: 'mqtt', connected: true, lag: 0, lastError: undefined, warning }] });
  t.equal(h.data.status, 'degraded');
  t.equal(h.data.message, `sink mqtt: ${warning}`);
  t.match(h.data.details, { 'sink.mqtt.connected': true, 'sink.mqtt.warning': warning });
  t.equal(systemHealthEvent({ ...base, sinks: [{ name: 'mqtt', connected: true, lag: 0, lastError: undefined }] }).data.status, 'ok');
});
