import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { EventBus, EventLog, type NewEvent } from '../../src/events/index.ts';
import { until } from '../../src/lib/time.ts';

const VIEWER = 'viewer-token-0123456789';
const OPERATOR = 'operator-token-0123456789';
const tokens = [
  { id: 'v', role: 'viewer' as const, sha256: sha256Hex(VIEWER) },
  { id: 'o', role: 'operator' as const, sha256: sha256Hex(OPERATOR) },
];

const dir = mkdtempSync(join(tmpdir(), 'fg-api-'));
const log = new EventLog(join(dir, 'events.sqlite'));
const bus = new EventBus(log);
let api: ApiServer;
const opened: string[] = [];

t.before(async () => {
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => tokens,
      metrics: createMetrics({ defaultMetrics: false }),
      gates: {
        list: () => [{ id: 'front' }],
        get: (id) => (id === 'front' ? { id: 'front' } : undefined),
        manual: async (id, action, by, reason) => {
          opened.push(`${id}:${action}:${by}:${reason}`);
          return { ok: true };
        },
      },
    },
    { bind: '127.0.0.1', port: 0, allowedOrigins: ['https://console.example'], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
  );
});
t.teardown(async () => {
  await api.close();
  bus.close();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const health = (pad = 0): NewEvent => ({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok', message: `tick ${++seq} ${'x'.repeat(pad)}` } });
const wsUrl = (): string => `${api.url.replace('http', 'ws')}/v1/events`;

function open(headers: Record<string, string> = {}, protocols: string[] = ['facegate.v1'], url = wsUrl()): Promise<{ ws: WebSocket; messages: { type: string; [k: string]: unknown }[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    const messages: { type: string; [k: string]: unknown }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as { type: string }));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

t.test('WebSocket auth: no token, wrong token, token in the URL, bad origin are refused', async (t) => {
  await t.rejects(open(), /HTTP 401/, 'no token');
  await t.rejects(open({ authorization: 'Bearer nope' }), /HTTP 401/, 'wrong token');
  await t.rejects(open({}, ['facegate.v1'], `${wsUrl()}?token=${VIEWER}`), /HTTP 400/, 'token in the URL is refused even when valid');
  await t.rejects(open({ authorization: `Bearer ${VIEWER}`, origin: 'https://evil.example' }), /HTTP 403/, 'origin not allowed');
  const ok = await open({ authorization: `Bearer ${VIEWER}`, origin: 'https://console.example' });
  ok.ws.close();
  const viaProtocol = await open({}, ['facegate.v1', `facegate.token.${VIEWER}`]);
  t.equal(viaProtocol.ws.protocol, 'facegate.v1', 'token via Sec-WebSocket-Protocol; the server selects facegate.v1, never echoes the token');
  viaProtocol.ws.close();
});

t.test('HTTP roles: viewer reads, operator acts, no token is 401', async (t) => {
  const get = (path: string, token?: string, init: RequestInit = {}): Promise<Response> => fetch(`${api.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } });
  t.equal((await get('/healthz')).status, 200, 'health needs no token');
  t.equal((await get('/v1/gates')).status, 401);
  t.equal((await get('/v1/gates', VIEWER)).status, 200);
  t.equal((await get('/metrics', VIEWER)).status, 200);
  const post = { method: 'POST', body: JSON.stringify({ reason: 'delivery' }), headers: { 'content-type': 'application/json' } };
  const denied = await get('/v1/gates/front/open', VIEWER, post);
  t.equal(denied.status, 403, 'viewer cannot open a gate');
  t.match(await denied.json(), { error: /operator role/ });
  t.equal((await get('/v1/gates/front/open', OPERATOR, post)).status, 200);
  t.same(opened, ['front:open:o:delivery'], 'manual open audited with who and why');
  t.equal((await get(`/v1/gates?token=${OPERATOR}`)).status, 400, 'token in the URL refused');
  t.equal((await get('/v1/gates/front/open', OPERATOR, { method: 'POST', body: 'not json' })).status, 400);
  t.equal((await get('/v1/nothing', VIEWER)).status, 404);
});

t.test('subscribe, resume with since: every missed event exactly once', async (t) => {
  const first = bus.publish(health());
  const got: number[] = [];
  const w = watchEvents({ url: api.url, token: VIEWER, since: first.id - 1, onEvent: (e) => got.push(e.id) });
  await until('the condition', () => got.length === 1);
  for (let i = 0; i < 20; i++) bus.publish(health());
  await until('the condition', () => got.length === 21);
  w.close();
  await new Promise((r) => setTimeout(r, 100));
  // While the client is away, events go on.
  const missed = Array.from({ length: 30 }, () => bus.publish(health()).id);
  const resumed: number[] = [];
  const w2 = watchEvents({ url: api.url, token: VIEWER, since: w.lastId(), onEvent: (e) => resumed.push(e.id) });
  // Publish during the replay too: the seam must have no gap and no duplicate.
  for (let i = 0; i < 30; i++) bus.publish(health());
  await until('the condition', () => resumed.length === 60);
  w2.close();
  t.same(resumed.slice(0, 30), missed, 'the missed events first, in order');
  t.equal(new Set(resumed).size, resumed.length, 'no duplicates');
  t.same(resumed, [...resumed].sort((a, b) => a - b), 'ids increase');
  t.equal(resumed[resumed.length - 1], log.lastId());
});

t.test('filters: a subscriber sees only its types', async (t) => {
  const { ws, messages } = await open({ authorization: `Bearer ${VIEWER}` });
  ws.send(JSON.stringify({ type: 'subscribe', filter: { types: ['gate.*'] } }));
  await until('the condition', () => messages.some((m) => m.type === 'subscribed'));
  bus.publish(health());
  bus.publish({ type: 'gate.opened', timeMs: Date.now(), gateId: 'front', data: { action: 'open', by: 'o', reason: 'test' } });
  await until('the condition', () => messages.some((m) => m.type === 'event'));
  await new Promise((r) => setTimeout(r, 50));
  const events = messages.filter((m) => m.type === 'event').map((m) => (m.event as { type: string }).type);
  t.same(events, ['gate.opened']);
  ws.close();
});

t.test('malformed and oversized messages get an error frame; the connection stays', async (t) => {
  const { ws, messages } = await open({ authorization: `Bearer ${VIEWER}` });
  ws.send('{nope');
  ws.send(JSON.stringify({ type: 'subscribe', since: -5 }));
  ws.send(JSON.stringify({ type: 'launch-missiles' }));
  ws.send(JSON.stringify({ type: 'subscribe', extra: 1 }));
  ws.send('x'.repeat(70 * 1024));
  ws.send(JSON.stringify({ type: 'ping', nonce: 'n1' }));
  await until('the condition', () => messages.some((m) => m.type === 'pong'));
  const errors = messages.filter((m) => m.type === 'error').map((m) => m.code);
  t.same(errors, ['bad-json', 'bad-message', 'bad-message', 'bad-message', 'too-large']);
  t.equal(ws.readyState, WebSocket.OPEN, 'still connected');
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send(Buffer.alloc(2 * 1024 * 1024, 0x61));
  t.equal(await closed, 1009, 'past the hard frame cap the server closes with 1009');
});

t.test('10,000 fuzzed messages do not crash the server', async (t) => {
  const { ws, messages } = await open({ authorization: `Bearer ${VIEWER}` });
  let x = 12345;
  const rand = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const pieces = ['{', '}', '"type"', ':', '"subscribe"', '"since"', '-1', '1e309', 'null', '[', ']', ',', '"filter"', '{"cameras":[1]}', '"\\u0000"', 'true', '"ping"', '9'.repeat(30)];
  for (let i = 0; i < 10_000; i++) {
    let m = '';
    const n = 1 + Math.floor(rand() * 12);
    for (let k = 0; k < n; k++) m += pieces[Math.floor(rand() * pieces.length)];
    if (rand() < 0.1) m = Buffer.from(Array.from({ length: 40 }, () => Math.floor(rand() * 256))).toString('latin1');
    ws.send(m);
  }
  ws.send(JSON.stringify({ type: 'ping', nonce: 'end' }));
  await until('the condition', () => messages.some((m) => m.type === 'pong' && m.nonce === 'end'), 20_000);
  t.equal(ws.readyState, WebSocket.OPEN);
  t.ok(messages.filter((m) => m.type === 'error').length > 5000, 'each bad message answered');
  t.equal((await fetch(`${api.url}/healthz`)).status, 200, 'server healthy');
  ws.close();
});

/** Stuck consumers in another process (Debian's python): handshake, subscribe, never read. */
function stuckClients(port: number, n: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [fileURLToPath(new URL('../helpers/stuck-ws-clients.py', import.meta.url)), String(port), VIEWER, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdout.once('data', () => resolve(child));
    child.once('error', reject);
  });
}

t.test('slow consumers: 50 stuck clients are dropped with lagged; a normal client and the publisher are unaffected', async (t) => {
  const stuck = await stuckClients(api.port, 50);
  t.teardown(() => {
    stuck.stdin?.end();
    stuck.kill();
  });
  await until('the condition', () => api.clients() >= 50);
  const got: number[] = [];
  const w = watchEvents({ url: api.url, token: VIEWER, onEvent: (e) => got.push(e.id) });
  await until('the condition', () => api.clients() >= 51);
  await new Promise((r) => setTimeout(r, 200));
  const rss0 = process.memoryUsage().rss;
  const ids: number[] = [];
  // A busy door: bursts of 20 events, the event loop turning between bursts.
  let publishMs = 0;
  for (let i = 0; i < 150; i++) {
    const b0 = performance.now();
    for (let k = 0; k < 20; k++) ids.push(bus.publish(health(2000)).id);
    publishMs += performance.now() - b0;
    await new Promise((r) => setTimeout(r, 2));
  }
  await until('the condition', () => got.length >= 3000, 30_000);
  t.same(got.slice(-3000), ids, 'the normal client received every event in order');
  await until('the condition', () => api.clients() === 1, 10_000);
  t.pass('all 50 stuck clients were closed by the server');
  t.ok(publishMs < 15_000, `publishing 3000 events took ${publishMs.toFixed(0)} ms in total: publish never waits for clients`);
  const grown = (process.memoryUsage().rss - rss0) / 1e6;
  t.ok(grown < 300, `RSS grew ${grown.toFixed(0)} MB with 50 stuck clients (bounded send buffers)`);
  w.close();
});

t.test('/healthz says whether a token is needed (the dashboard skips sign-in when auth is off)', async (t) => {
  t.same(await (await fetch(`${api.url}/healthz`)).json(), { ok: true, auth: true });
  const open = await startApiServer(
    { events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) }, tokens: () => tokens, metrics: createMetrics({ defaultMetrics: false }) },
    { bind: '127.0.0.1', port: 0, authEnabled: false },
  );
  t.teardown(() => open.close());
  t.same(await (await fetch(`${open.url}/healthz`)).json(), { ok: true, auth: false });
  const me = await fetch(`${open.url}/v1/me`);
  t.equal(me.status, 200, 'with auth off, /v1/me answers without a token');
  t.match(await me.json(), { id: 'anonymous', role: 'admin' });
});
