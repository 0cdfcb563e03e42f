/**
 * Connection limits of the HTTP/WebSocket server (issue 14, item 1), on 127.0.0.1 only with small
 * numbers: a total cap and a per-address cap (excess answered 503 + Connection: close, or closed
 * when it never sends a request; WebSocket upgrades over the cap refused with 503), headers
 * timeout (slowloris), request timeout, idle keep-alive timeout, counted in /metrics; and the
 * upload slots' queue (admission, order, wait timeout, release). Every loop is bounded and every
 * wait has a deadline.
 */
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics, type Metrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { httpRequest, rawClient, sleep, until, type RawClient } from '../helpers/api-net.ts';
import { tempEventBox } from '../helpers/event-box.ts';
import { isRefusal, SlotBusyError, UploadSlots, type SlotTicket } from '../../src/api/upload-slots.ts';

const VIEWER = 'viewer-token-limits-0123456789';
const tokens = [{ id: 'v', role: 'viewer' as const, sha256: sha256Hex(VIEWER) }];
const { log, bus } = tempEventBox(t, 'fg-api-limits-');

const LIMITS = { maxConnections: 20, maxConnectionsPerAddress: 1000, headersTimeoutMs: 1000, requestTimeoutMs: 1500, idleTimeoutMs: 500, authFailuresPerMinute: 1000 };

async function start(limits: typeof LIMITS, metrics: Metrics): Promise<ApiServer> {
  return startApiServer(
    { events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) }, tokens: () => tokens, metrics },
    { bind: '127.0.0.1', port: 0, heartbeatMs: 60_000, limits },
  );
}

const rejected = async (metrics: Metrics, reason: string): Promise<number> => (await metrics.registry.getSingleMetric('facegate_connections_rejected_total')?.get())?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
const openGauge = async (metrics: Metrics): Promise<number> => (await metrics.registry.getSingleMetric('facegate_connections_open')?.get())?.values[0]?.value ?? -1;
const destroyAll = (clients: readonly RawClient[]): void => {
  for (const c of clients) c.socket.destroy();
};
const wsOpen = (port: number): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/events`, ['facegate.v1'], { headers: { authorization: `Bearer ${VIEWER}` } });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });

t.test('40 idle sockets against a limit of 20: the extra 20 are refused; /healthz answers once the flood ends', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  // Headers timeout long enough that the admitted idle sockets outlive the refused ones.
  const api = await start({ ...LIMITS, headersTimeoutMs: 4000, requestTimeoutMs: 4000 }, metrics);
  t.teardown(() => api.close());
  const flood: RawClient[] = [];
  t.teardown(() => destroyAll(flood));
  for (let i = 0; i < 40; i++) flood.push(await rawClient(api.port));
  // A request while the server is full: a plain 503 that says why, and the connection closes.
  const over = await rawClient(api.port);
  over.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await over.closed;
  t.match(over.received(), /^HTTP\/1\.1 503 /, 'a request over the limit gets 503');
  t.match(over.received(), /connection: close/i);
  // The refused ones are closed by the server soon; the 20 admitted stay until the headers timeout.
  await until('the 20 refused sockets to be closed', () => flood.filter((c) => c.closedAfterMs() !== undefined).length >= 20, 3000);
  await sleep(200); // a negative check: no admitted socket is closed as well
  t.equal(flood.filter((c) => c.closedAfterMs() === undefined).length, 20, 'exactly the limit is held open');
  t.equal(await openGauge(metrics), 20, 'facegate_connections_open');
  await t.rejects(wsOpen(api.port), /HTTP 503/, 'a WebSocket upgrade over the limit is refused with 503');
  t.ok((await rejected(metrics, 'max-connections')) >= 22, 'rejections counted by reason');
  destroyAll(flood);
  await until('the server to see the flood end', () => api.connections() === 0, 3000);
  t.equal((await httpRequest(api.port, '/healthz')).status, 200, '/healthz answers after the flood');
  const ws = await wsOpen(api.port);
  t.pass('a WebSocket connects after the flood');
  ws.close();
});

t.test('per-address limit: one address is capped, another is not', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const api = await start({ ...LIMITS, maxConnections: 100, maxConnectionsPerAddress: 5, headersTimeoutMs: 4000, requestTimeoutMs: 4000 }, metrics);
  t.teardown(() => api.close());
  const noisy: RawClient[] = [];
  t.teardown(() => destroyAll(noisy));
  for (let i = 0; i < 12; i++) noisy.push(await rawClient(api.port, '127.0.0.2'));
  await until('7 sockets from 127.0.0.2 refused', () => noisy.filter((c) => c.closedAfterMs() !== undefined).length >= 7, 3000);
  await sleep(200); // a negative check: no admitted socket is closed as well
  t.equal(noisy.filter((c) => c.closedAfterMs() === undefined).length, 5, '5 held from 127.0.0.2');
  const refused = await httpRequest(api.port, '/healthz', { localAddress: '127.0.0.2' }).catch((e: Error) => e);
  t.ok(refused instanceof Error || refused.status === 503, 'a sixth from 127.0.0.2 is refused');
  t.equal((await httpRequest(api.port, '/healthz', { localAddress: '127.0.0.3' })).status, 200, '127.0.0.3 is unaffected');
  t.ok((await rejected(metrics, 'max-per-address')) >= 7);
});

t.test('slowloris: partial headers one byte at a time are cut after headersTimeoutMs', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const api = await start(LIMITS, metrics);
  t.teardown(() => api.close());
  const slow: RawClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  t.teardown(() => {
    for (const x of timers) clearInterval(x);
    destroyAll(slow);
  });
  const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200);
  for (let i = 0; i < 10; i++) {
    const c = await rawClient(api.port);
    slow.push(c);
    let k = 0;
    timers.push(setInterval(() => !c.socket.destroyed && c.socket.write(request[k++ % request.length]), 200));
  }
  const closedAfter = await Promise.race([Promise.all(slow.map((c) => c.closed)), sleep(5000).then(() => undefined)]);
  t.ok(closedAfter, 'every slowloris socket was closed by the server within 5 s');
  for (const ms of closedAfter ?? []) t.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms (headers timeout 1000 ms)`);
  t.ok((await rejected(metrics, 'request-timeout')) >= 10, 'timeouts counted');
  t.equal((await httpRequest(api.port, '/healthz')).status, 200, 'new connections work after the slowloris');
});

t.test('request timeout: a body trickled in is cut after requestTimeoutMs', async (t) => {
  const api = await start(LIMITS, createMetrics({ defaultMetrics: false }));
  t.teardown(() => api.close());
  const c = await rawClient(api.port);
  c.socket.write(`POST /v1/gates/front/open HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${VIEWER}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
  const trickle = setInterval(() => !c.socket.destroyed && c.socket.write('a'), 100);
  t.teardown(() => {
    clearInterval(trickle);
    c.socket.destroy();
  });
  const ms = await Promise.race([c.closed, sleep(5000).then(() => undefined)]);
  t.ok(ms !== undefined && ms >= 1300 && ms < 3500, `closed after ${ms} ms (request timeout 1500 ms)`);
});

t.test('idle keep-alive connections are closed after idleTimeoutMs', async (t) => {
  const api = await start(LIMITS, createMetrics({ defaultMetrics: false }));
  t.teardown(() => api.close());
  const c = await rawClient(api.port);
  t.teardown(() => c.socket.destroy());
  c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await until('the response', () => c.received().includes('"ok":true'));
  const ms = await Promise.race([c.closed, sleep(4000).then(() => undefined)]);
  // node keeps the socket 1 s past keepAliveTimeout (the Keep-Alive header tells the client the
  // configured value, so the client gives up first); node's default would be 5 s + 1 s.
  t.match(c.received(), /keep-alive: timeout=0/i, 'the client is told the idle timeout');
  t.ok(ms !== undefined && ms < 2200, `idle keep-alive socket closed after ${ms} ms (idle timeout 500 ms + node's 1 s grace)`);
  await until('the server to release the connection', () => api.connections() === 0, 2000);
});

t.test('upload slots: concurrent + queued admitted in order, the rest refused, a waiter past maxWaitMs refused, every slot given back', async (t) => {
  const slots = new UploadSlots({ concurrent: 1, queued: 2, maxWaitMs: 150 });
  const tickets = [slots.admit(), slots.admit(), slots.admit()];
  const fourth = slots.admit();
  t.ok(isRefusal(fourth) && fourth.reason === 'busy' && fourth.retryAfterSeconds >= 1, 'the fourth request: busy, with a Retry-After');
  const [a, b, c] = tickets.filter((x): x is SlotTicket => !isRefusal(x));
  t.ok(a && b && c, 'three admitted');
  const order: string[] = [];
  await a.ready();
  order.push('a');
  const bReady = b.ready().then(() => order.push('b'));
  const cReady = c.ready().then(
    () => order.push('c'),
    (e: unknown) => order.push(e instanceof SlotBusyError ? `c:${e.refusal.reason}` : 'c:?'),
  );
  t.equal(slots.decoding, 1, 'one decoding, two waiting');
  a.release();
  await bReady;
  t.same(order, ['a', 'b'], 'the first waiter gets the slot');
  await cReady; // settles when c's maxWaitMs runs out (b holds the slot)
  t.same(order, ['a', 'b', 'c:wait-timeout'], 'the second waited past maxWaitMs: refused');
  c.release();
  b.release();
  b.release();
  t.equal(slots.inFlight, 0, 'every admission given back (a second release is a no-op)');
  t.equal(slots.decoding, 0);
  t.equal(slots.peakActive, 1, 'never more than one at once');
  t.notOk(isRefusal(slots.admit()), 'admitted again');
});
