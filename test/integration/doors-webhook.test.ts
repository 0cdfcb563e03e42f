/**
 * The signed webhook inputs of a door over the real API server (src/app/door-api.ts) and the
 * doors part: no bearer token, the HMAC-SHA256 signature of the raw body is the auth. A valid
 * contact reading and REX press reach the door machine; a wrong signature, a stale time, a replay
 * and an unknown gate are refused and counted per address, past the budget 429 (a valid one
 * still passes).
 */
import { NEVER, Subject } from 'rxjs';
import t from 'tap';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { doorApiRoutes } from '../../src/app/door-api.ts';
import { createGateApi } from '../../src/app/gate-api.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { signDoorWebhook } from '../../src/doors/index.ts';
import { EMPTY_GATE_STATE, gateDecisions, parseGates, type GateInput, type ManualRequest } from '../../src/gates/index.ts';
import { eventFromGate } from '../../src/pipeline/to-event.ts';
import { startDoorsPart } from '../helpers/doors-part.ts';

const SECRET = 'contact-secret-0123456789abcdef';
const REX_SECRET = 'rex-secret-0123456789abcdef0123';

t.test('signed door webhook inputs', async (t) => {
  const config: Config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [
      { id: 'front', cameras: ['door'], door: { strikeMs: 2000, contact: { webhook: { secret: SECRET } }, rex: { webhook: { secret: REX_SECRET } } } },
      { id: 'turnstile', cameras: ['door'] },
    ],
  });
  const { log, bus, events, doors, stop: stopDoors } = await startDoorsPart(t, config);
  const gates = parseGates(config.gates);
  const manual$ = new Subject<ManualRequest>();
  const gateSub = (NEVER as import('rxjs').Observable<GateInput>).pipe(gateDecisions(gates, { manual: manual$ })).subscribe((e) => bus.publish(eventFromGate(e)));
  const gateApi = createGateApi(() => gates, () => EMPTY_GATE_STATE, manual$);
  const api: ApiServer = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => [],
      metrics: createMetrics({ defaultMetrics: false }),
      gates: gateApi,
      routes: doorApiRoutes({ gates: gateApi, doors }),
    },
    { bind: '127.0.0.1', port: 0, allowedOrigins: [], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
  );
  t.teardown(async () => {
    await api.close();
    gateSub.unsubscribe();
    await stopDoors();
  });
  const send = async (path: string, doc: Record<string, unknown>, secret: string, sign?: (body: string) => string) => {
    const body = JSON.stringify(doc);
    const res = await fetch(`${api.url}/v1/doors/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-facegate-signature': sign ? sign(body) : signDoorWebhook(secret, body) }, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
  };
  const doorTypes = () => events.filter((e) => e.type.startsWith('door.')).map((e) => e.type);

  t.test('valid: a contact reading and a REX press reach the door, no token needed', async (t) => {
    const closed = await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, SECRET);
    t.equal(closed.status, 202);
    t.match(closed.body, { ok: true, gateId: 'front', input: 'contact', contact: 'closed' });
    const press = await send('front/rex', { press: true, sentAtMs: Date.now() }, REX_SECRET);
    t.equal(press.status, 202);
    t.equal(doors.state('front')?.phase, 'released', 'the press released the lock');
    const open = await send('front/contact', { state: 'open', sentAtMs: Date.now() - 4 * 60_000 }, SECRET);
    t.equal(open.status, 202, 'four minutes old is inside the window');
    t.same(doorTypes(), ['door.rex', 'door.released', 'door.opened']);
    t.match(events.find((e) => e.type === 'door.opened'), { gateId: 'front', data: { authorised: true } });
  });

  t.test('refused: wrong signature, other input secret, unsigned, stale, replay, unknown gate, bad body', async (t) => {
    const before = doorTypes().length;
    const wrong = await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, 'not-the-secret-0123456789');
    t.equal(wrong.status, 401);
    t.match(wrong.body, { code: 'DOOR_WEBHOOK_SIGNATURE', error: /does not match/ });
    t.equal((await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, REX_SECRET)).status, 401, "the REX input's secret does not sign the contact");
    t.match((await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, SECRET, () => '')).body, { code: 'DOOR_WEBHOOK_SIGNATURE', error: /not signed/ });
    const stale = await send('front/contact', { state: 'closed', sentAtMs: Date.now() - 6 * 60_000 }, SECRET);
    t.equal(stale.status, 401);
    t.match(stale.body, { code: 'DOOR_WEBHOOK_STALE', error: /360 s off/, hint: /NTP/ });
    t.equal(doorTypes().length, before, 'nothing reached the door');
    t.end();
  });

  t.test('replay, unknown gate, gate without a webhook input, bad body; then 429', async (t) => {
    const doc = { press: true, sentAtMs: Date.now() };
    t.equal((await send('front/rex', doc, REX_SECRET)).status, 202);
    const replay = await send('front/rex', doc, REX_SECRET);
    t.equal(replay.status, 409);
    t.match(replay.body, { code: 'DOOR_WEBHOOK_REPLAY' });
    const unknown = await send('nope/contact', { state: 'open', sentAtMs: Date.now() }, SECRET);
    t.equal(unknown.status, 404);
    t.match(unknown.body, { code: 'DOOR_WEBHOOK_UNKNOWN', error: /gate nope/ });
    t.equal((await send('turnstile/rex', { press: true, sentAtMs: Date.now() }, REX_SECRET)).status, 404, 'a gate without a door');
    const bad = await send('front/contact', { state: 'ajar', sentAtMs: Date.now() }, SECRET);
    t.equal(bad.status, 400);
    t.match(bad.body, { code: 'DOOR_WEBHOOK_BODY', error: /state must be/ });
    // Failures so far from this address: 3 + 1 (stale) in the test before, 3 here, the bad body does not count.
    let last = { status: 0, retryAfter: null as string | null };
    for (let i = 0; i < 5 && last.status !== 429; i++) last = await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, 'guess-0123456789abcdef');
    t.equal(last.status, 429, 'past the failure budget');
    t.ok(Number(last.retryAfter) > 0, 'with Retry-After');
    const valid = await send('front/contact', { state: 'closed', sentAtMs: Date.now() }, SECRET);
    t.equal(valid.status, 202, 'a valid signature still passes from a limited address, as a valid token does');
  });
});
