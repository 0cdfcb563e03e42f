/**
 * Failed authentication is rate-limited per remote address: after authFailuresPerMinute failures
 * an address gets 429 with Retry-After on HTTP and on the WebSocket upgrade for every further
 * failure, while a valid token from it still passes (only failures are limited: a misconfigured
 * client behind the same NAT must not lock the operators out); other addresses are unaffected; each failure is logged (warn) with the address and, for
 * a known token with too small a role, the token id; the log of a flood is a bounded number of
 * lines; the token itself never appears.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { EventBus, EventLog } from '../../src/events/index.ts';
import { captureLog, httpRequest, sleep } from '../helpers/api-net.ts';

const VIEWER = 'viewer-token-auth-limit-0123456789';
const OPERATOR = 'operator-token-auth-limit-0123456789';
const WRONG = 'wrong-token-guess-0123456789';
const tokens = [
  { id: 'viewer-1', role: 'viewer' as const, sha256: sha256Hex(VIEWER) },
  { id: 'operator-1', role: 'operator' as const, sha256: sha256Hex(OPERATOR) },
];
const dir = mkdtempSync(join(tmpdir(), 'fg-api-auth-'));
const log = new EventLog(join(dir, 'events.sqlite'));
const bus = new EventBus(log);
const captured = captureLog();
const metrics = createMetrics({ defaultMetrics: false });
let api: ApiServer;
const LIMIT = 5;

t.before(async () => {
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => tokens,
      metrics,
      logger: captured.logger,
      gates: { list: () => [{ id: 'front' }], get: (id) => (id === 'front' ? { id } : undefined), manual: async () => ({ ok: true }) },
    },
    { bind: '127.0.0.1', port: 0, heartbeatMs: 60_000, limits: { maxConnections: 200, maxConnectionsPerAddress: 100, headersTimeoutMs: 5000, requestTimeoutMs: 5000, idleTimeoutMs: 1000, authFailuresPerMinute: LIMIT } },
  );
});
t.teardown(async () => {
  await api.close();
  bus.close();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const wsStatus = (localAddress: string, token: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}/v1/events`, ['facegate.v1'], { headers: bearer(token), localAddress });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });

t.test('a flood of wrong tokens from one address: 401 up to the limit, then 429 with Retry-After', async (t) => {
  const statuses: number[] = [];
  let retryAfter: string | string[] | undefined;
  for (let i = 0; i < 200; i++) {
    const r = await httpRequest(api.port, '/v1/gates', { headers: bearer(`${WRONG}${i}`), localAddress: '127.0.0.2' });
    statuses.push(r.status);
    if (r.status === 429) retryAfter ??= r.headers['retry-after'];
  }
  t.same(statuses.slice(0, LIMIT), Array(LIMIT).fill(401), `the first ${LIMIT} failures are 401`);
  t.same(statuses.slice(LIMIT), Array(200 - LIMIT).fill(429), 'then 429');
  const seconds = Number(retryAfter);
  t.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After: ${String(retryAfter)} seconds`);
  t.equal((await httpRequest(api.port, '/v1/gates', { headers: bearer(VIEWER), localAddress: '127.0.0.2' })).status, 200, 'a valid token from the limited address passes: only failures are limited');
  t.equal(await wsStatus('127.0.0.2', VIEWER), 101, 'so does its WebSocket upgrade');
  t.equal((await httpRequest(api.port, '/v1/gates', { headers: bearer(`${WRONG}-after`), localAddress: '127.0.0.2' })).status, 429, 'and the next wrong token is still 429');
  const role = await httpRequest(api.port, '/v1/gates/front/open', { method: 'POST', headers: { ...bearer(VIEWER), 'content-type': 'application/json' }, body: '{}', localAddress: '127.0.0.2' });
  t.equal(role.status, 429, 'a valid token short of the role is a failure: 429 while limited');
  t.equal(await wsStatus('127.0.0.2', WRONG), 429, 'the WebSocket upgrade with a wrong token from the limited address is 429 too');
  t.equal((await httpRequest(api.port, '/healthz', { localAddress: '127.0.0.2' })).status, 200, 'health probes need no auth and are never blocked');
  t.equal((await httpRequest(api.port, '/v1/gates', { headers: bearer(VIEWER), localAddress: '127.0.0.1' })).status, 200, 'a valid request from another address is unaffected');
  t.equal((await httpRequest(api.port, '/v1/gates', { headers: bearer(WRONG), localAddress: '127.0.0.3' })).status, 401, 'a third address starts with its own budget');
  const limited = (await metrics.registry.getSingleMetric('facegate_auth_rate_limited_total')?.get())?.values.reduce((s, v) => s + v.value, 0) ?? 0;
  t.ok(limited >= 195, `rate-limited requests counted (${limited})`);
});

t.test('WebSocket upgrade failures count too', async (t) => {
  const codes: number[] = [];
  for (let i = 0; i < LIMIT + 3; i++) codes.push(await wsStatus('127.0.0.4', `${WRONG}-ws-${i}`));
  t.same(codes, [...Array(LIMIT).fill(401), 429, 429, 429]);
  t.equal(await wsStatus('127.0.0.1', VIEWER), 101, 'a valid WebSocket client elsewhere connects');
});

t.test('failures are logged with the address and the token id when known, never the token; a flood is a bounded number of lines', async (t) => {
  const r = await httpRequest(api.port, '/v1/gates/front/open', { method: 'POST', headers: { ...bearer(VIEWER), 'content-type': 'application/json' }, body: '{}', localAddress: '127.0.0.5' });
  t.equal(r.status, 403);
  await sleep(50);
  const lines = captured.lines().filter((l) => l.msg === 'authentication failed');
  t.ok(lines.length > 0, 'failures are logged');
  t.ok(lines.every((l) => l.level === 40), 'at warn level');
  t.ok(lines.some((l) => l.remote === '127.0.0.2' && l.reason === 'invalid-token'), 'address and reason logged');
  const role = lines.find((l) => l.remote === '127.0.0.5');
  t.match(role, { reason: 'insufficient-role', tokenId: 'viewer-1', needed: 'operator' }, 'the token id (not the token) when the role is insufficient');
  const all = captured.text();
  t.notOk(all.includes(VIEWER) || all.includes(OPERATOR) || all.includes(WRONG), 'no token text anywhere in the log');
  t.ok(captured.lines().length <= 60, `${captured.lines().length} log lines for ~${200 + LIMIT + 4} failures`);
});
