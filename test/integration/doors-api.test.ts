/**
 * Operator door commands over the box's API (src/app/door-api.ts) with the real parts behind
 * them: the doors part (src/app/doors.ts) on a real Mosquitto, the gate stage's manual path
 * (gateDecisions with the API's manual requests), the event log and bus, and the API server with
 * one token per role. Mode changes are admin and audited with the actor; a manual open is
 * operator and reaches the door as door.released by manual with the operator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { NEVER, Subject } from 'rxjs';
import t from 'tap';
import { sha256Hex, type Role } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { doorApiRoutes } from '../../src/app/door-api.ts';
import { createGateApi } from '../../src/app/gate-api.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { EMPTY_GATE_STATE, gateDecisions, parseGates, type GateInput, type ManualRequest } from '../../src/gates/index.ts';
import { until } from '../../src/lib/time.ts';
import { eventFromGate } from '../../src/pipeline/to-event.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const CONTACT = 'sensors/front_door';
const token = (role: Role): string => `${role}-token-0123456789abcdef`;
const auth = (role: Role): Record<string, string> => ({ authorization: `Bearer ${token(role)}`, 'content-type': 'application/json' });

t.test('door commands over the API', async (t) => {
  const broker = await Mosquitto.start();
  const dir = mkdtempSync(join(tmpdir(), 'fg-doors-api-'));
  const config: Config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [
      { id: 'front', cameras: ['door'], door: { strikeMs: 60_000, heldOpenMs: 120_000, contact: { mqtt: CONTACT } } },
      { id: 'turnstile', cameras: ['door'] },
    ],
    events: { outputs: { mqtt: { enabled: true, url: broker.url, topicPrefix: 'fgtest/api', clientId: `doors-api-${Math.random().toString(36).slice(2, 8)}` } } },
  });
  const { log, bus, events, doors, stop: stopDoors } = await startDoorsPart(t, config, { db: join(dir, 'events.sqlite') });
  // The gate stage's manual path: API requests -> gate.opened with the actor, on the bus.
  const gates = parseGates(config.gates);
  const manual$ = new Subject<ManualRequest>();
  const gateSub = (NEVER as import('rxjs').Observable<GateInput>).pipe(gateDecisions(gates, { manual: manual$ })).subscribe((e) => bus.publish(eventFromGate(e)));
  const gateApi = createGateApi(() => gates, () => EMPTY_GATE_STATE, manual$);
  const api: ApiServer = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => (['viewer', 'operator', 'admin'] as const).map((role) => ({ id: `${role}-1`, role, sha256: sha256Hex(token(role)) })),
      metrics: createMetrics({ defaultMetrics: false }),
      gates: gateApi,
      routes: doorApiRoutes({ gates: gateApi, doors }),
    },
    { bind: '127.0.0.1', port: 0, allowedOrigins: [], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
  );
  const sensor = await mqtt.connectAsync(broker.url);
  t.teardown(async () => {
    await api.close();
    gateSub.unsubscribe();
    await stopDoors();
    await sensor.endAsync(true);
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (path: string, role: Role, body: unknown) => fetch(`${api.url}/v1/${path}`, { method: 'POST', headers: auth(role), body: JSON.stringify(body) });
  const get = async (path: string, role: Role = 'viewer') => {
    const res = await fetch(`${api.url}/v1/${path}`, { headers: auth(role) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1 });
  await until('the first contact reading', () => doors.state('front')?.contact === 'closed', 5000);

  t.test('GET /v1/doors and /v1/gates/:id/door: the door state (viewer); a gate without a door is 404', async (t) => {
    t.equal((await fetch(`${api.url}/v1/doors`)).status, 401);
    const list = await get('doors');
    t.equal(list.status, 200);
    t.match(list.body, { doors: [{ gateId: 'front', phase: 'locked', contact: 'closed', locked: true, mode: 'normal', operatorMode: 'normal', alarms: [] }] });
    t.match((await get('gates/front/door')).body, { gateId: 'front', locked: true });
    const none = await get('gates/turnstile/door');
    t.equal(none.status, 404);
    t.match(none.body, { error: /gate turnstile has no door/ });
    t.equal((await get('gates/nope/door')).status, 404);
  });

  t.test('POST door/mode: admin only, audited as door.mode_changed with the actor', async (t) => {
    t.equal((await post('gates/front/door/mode', 'operator', { mode: 'lockdown' })).status, 403, 'an operator may not change the mode');
    const bad = await post('gates/front/door/mode', 'admin', { mode: 'unlocked' });
    t.equal(bad.status, 400, 'unlocked comes from the schedule only');
    t.match(await bad.json(), { code: 'DOOR_MODE_INVALID', field: 'mode' });
    const res = await post('gates/front/door/mode', 'admin', { mode: 'lockdown', reason: 'drill' });
    t.equal(res.status, 200);
    t.match(await res.json(), { gateId: 'front', mode: 'lockdown', operatorMode: 'lockdown', locked: true });
    const changed = events.find((e) => e.type === 'door.mode_changed');
    t.match(changed, { gateId: 'front', data: { mode: 'lockdown', previous: 'normal', source: 'operator', by: 'admin-1', reason: 'drill' } });
    t.equal(log.query({ types: ['door.*'] }).filter((e) => e.type === 'door.mode_changed').length, 1, 'in the event log');
    t.equal((await post('gates/turnstile/door/mode', 'admin', { mode: 'lockdown' })).status, 404);
  });

  t.test('POST door/open: operator, a manual release audited with the actor (even in lockdown); close re-locks', async (t) => {
    t.equal((await post('gates/front/door/open', 'viewer', {})).status, 403);
    const res = await post('gates/front/door/open', 'operator', { reason: 'courier' });
    t.equal(res.status, 202);
    await until('door.released', () => events.some((e) => e.type === 'door.released'), 5000);
    t.match(events.find((e) => e.type === 'gate.opened'), { gateId: 'front', data: { action: 'open', by: 'operator-1', reason: 'courier' } });
    t.match(events.find((e) => e.type === 'door.released'), { gateId: 'front', data: { by: 'manual', operator: 'operator-1' } });
    t.equal((await get('gates/front/door')).body.locked, false);
    t.equal((await post('gates/front/door/close', 'operator', {})).status, 202);
    await until('door.locked', () => events.some((e) => e.type === 'door.locked'), 5000);
    t.equal((await get('gates/front/door')).body.locked, true);
    t.equal((await post('gates/turnstile/door/open', 'operator', {})).status, 404, 'a gate without a door: the gate routes are for it');
  });

  t.test('back to normal: admin, audited', async (t) => {
    t.equal((await post('gates/front/door/mode', 'admin', { mode: 'normal' })).status, 200);
    t.match(events.filter((e) => e.type === 'door.mode_changed').at(-1), { data: { mode: 'normal', previous: 'lockdown', by: 'admin-1', reason: '(no reason given)' } });
  });
});
