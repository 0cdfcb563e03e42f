/**
 * One filter schema for the WebSocket protocol and the event filter (issue 14, item 4 of the
 * report): type patterns the filter rejects (`GATE.*`, `gate.*.*`, `**`, trailing spaces) are a
 * `bad-message` error naming the reason, the connection stays open, and a viewer sending 2,000 of
 * them writes a bounded number of log lines. Nothing is processed after the server closes a
 * connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { parseClientMessage } from '../../src/api/protocol.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { EventBus, EventLog, type NewEvent } from '../../src/events/index.ts';
import { captureLog, sleep, until } from '../helpers/api-net.ts';

const VIEWER = 'viewer-token-ws-filter-0123456789';
const tokens = [{ id: 'v', role: 'viewer' as const, sha256: sha256Hex(VIEWER) }];
const dir = mkdtempSync(join(tmpdir(), 'fg-api-wsf-'));
const log = new EventLog(join(dir, 'events.sqlite'));
const bus = new EventBus(log);
const captured = captureLog();
let api: ApiServer;
let replays = 0;

t.before(async () => {
  api = await startApiServer(
    {
      events: {
        lastId: () => log.lastId(),
        replayThenLive: (since, filter) => {
          replays++;
          return bus.replayThenLive(since, filter);
        },
        query: (q) => log.query(q),
      },
      tokens: () => tokens,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: captured.logger,
    },
    { bind: '127.0.0.1', port: 0, heartbeatMs: 60_000, sendBufferMessages: 5 },
  );
});
t.teardown(async () => {
  await api.close();
  bus.close();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

type Msg = { type: string; code?: string; message?: string; nonce?: string };
function open(): Promise<{ ws: WebSocket; messages: Msg[]; closeCode: () => number | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}/v1/events`, ['facegate.v1'], { headers: { authorization: `Bearer ${VIEWER}` } });
    const messages: Msg[] = [];
    let code: number | undefined;
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Msg));
    ws.on('close', (c) => (code = c));
    ws.once('open', () => resolve({ ws, messages, closeCode: () => code }));
    ws.once('error', reject);
  });
}

const BAD_PATTERNS = ['GATE.*', 'gate.*.*', '**', 'gate.denied ', ' gate.*', 'gate..denied', '*.gate', ''];

t.test('the parser rejects every pattern the event filter rejects, naming the reason', async (t) => {
  for (const p of BAD_PATTERNS) {
    const r = parseClientMessage(JSON.stringify({ type: 'subscribe', filter: { types: [p] } }), 64 * 1024);
    t.notOk(r.ok, `rejected: ${JSON.stringify(p)}`);
    if (!r.ok) {
      t.equal(r.error.code, 'bad-message');
      t.match(r.error.message, /filter\.types\.0/, 'names the field');
    }
  }
  const r = parseClientMessage(JSON.stringify({ type: 'subscribe', filter: { types: ['GATE.*'] } }), 64 * 1024);
  t.match(!r.ok && r.error.message, /'GATE\.\*'.*event type/, 'names the value and what is expected');
  for (const p of ['gate.denied', 'gate.*', '*', 'system.health', 'identity.*']) t.ok(parseClientMessage(JSON.stringify({ type: 'subscribe', filter: { types: [p] } }), 64 * 1024).ok, `accepted: ${p}`);
});

t.test('2,000 bad filters: 2,000 bad-message replies, the connection stays open, the log stays small', async (t) => {
  const before = captured.lines().length;
  const { ws, messages, closeCode } = await open();
  const N = 2000;
  for (let i = 0; i < N; i++) ws.send(JSON.stringify({ type: 'subscribe', filter: { types: [BAD_PATTERNS[i % BAD_PATTERNS.length]] } }));
  ws.send(JSON.stringify({ type: 'ping', nonce: 'end' }));
  await until('the pong after 2,000 bad filters (or a close)', () => messages.some((m) => m.type === 'pong') || closeCode() !== undefined, 20_000);
  t.equal(closeCode(), undefined, 'not closed');
  t.equal(ws.readyState, WebSocket.OPEN, 'still open');
  const errors = messages.filter((m) => m.type === 'error');
  t.equal(errors.length, N, 'one error per bad filter');
  t.ok(errors.every((m) => m.code === 'bad-message'), 'all bad-message (none internal)');
  // Still usable: a valid subscription works on the same connection.
  ws.send(JSON.stringify({ type: 'subscribe', filter: { types: ['system.*'] } }));
  await until('subscribed', () => messages.some((m) => m.type === 'subscribed'));
  bus.publish({ type: 'system.health', timeMs: Date.now(), data: { status: 'ok' } } satisfies NewEvent);
  await until('the event', () => messages.some((m) => m.type === 'event'));
  ws.close();
  const lines = captured.lines().slice(before);
  t.ok(lines.length <= 20, `${lines.length} log lines for ${N} bad messages`);
  t.notOk(lines.some((l) => typeof l.err === 'object' && l.err !== null && 'stack' in l.err), 'no stack traces');
});

t.test('a feed that fails: an internal error once, a bounded log, and nothing processed after the close', async (t) => {
  // Subscriptions whose replay fails (an unreadable log) close the connection with 1011; the
  // messages the client queued behind them must not start new subscriptions.
  const before = captured.lines().length;
  const brokenDir = mkdtempSync(join(tmpdir(), 'fg-api-wsf-broken-'));
  const brokenLog = new EventLog(join(brokenDir, 'events.sqlite'));
  const brokenBus = new EventBus(brokenLog);
  brokenLog.close(); // replay reads a closed database: the feed errors
  let brokenReplays = 0;
  const broken = await startApiServer(
    {
      events: {
        lastId: () => 0,
        replayThenLive: (since, filter) => {
          brokenReplays++;
          return brokenBus.replayThenLive(since, filter);
        },
        query: () => [],
      },
      tokens: () => tokens,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: captured.logger,
    },
    { bind: '127.0.0.1', port: 0, heartbeatMs: 60_000 },
  );
  t.teardown(async () => {
    await broken.close();
    rmSync(brokenDir, { recursive: true, force: true });
  });
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => new Promise<{ ws: WebSocket; codes: number[]; messages: Msg[] }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${broken.port}/v1/events`, ['facegate.v1'], { headers: { authorization: `Bearer ${VIEWER}` } });
      const codes: number[] = [];
      const messages: Msg[] = [];
      ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Msg));
      ws.on('close', (c) => codes.push(c));
      ws.once('open', () => resolve({ ws, codes, messages }));
      ws.once('error', reject);
    })),
  );
  // Each client sends 50 subscribes in one burst: the first fails and closes the connection.
  for (const c of clients) for (let i = 0; i < 50; i++) c.ws.send(JSON.stringify({ type: 'subscribe', since: 0 }));
  await until('every connection closed', () => clients.every((c) => c.codes.length > 0), 10_000);
  t.ok(clients.every((c) => c.codes[0] === 1011), 'closed with 1011');
  t.ok(clients.every((c) => c.messages.filter((m) => m.type === 'error' && m.code === 'internal').length === 1), 'one internal error per connection');
  t.equal(brokenReplays, 20, 'one subscription per connection: the queued messages after the close were dropped');
  await sleep(50);
  const lines = captured.lines().slice(before);
  t.ok(lines.length <= 15, `${lines.length} log lines for 20 failed feeds`);
  t.ok(lines.filter((l) => typeof l.err === 'object').length <= 10, 'stack traces only up to the budget');
});
