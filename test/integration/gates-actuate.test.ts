import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { commandActuator, createActuator, parseGate, signBody, verifySignature, webhookActuator, type ActuationRequest, type GateGranted, type WebhookBody, type WebhookConfig } from '../../src/gates/index.ts';

const SECRET = 'test-secret-0123456789-abcdef-XYZ';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly raw: Buffer;
  readonly signatureOk: boolean;
  readonly body: WebhookBody;
  readonly at: number;
}

/** A loopback HTTP server (127.0.0.1 only) that verifies the signature of every request. */
async function startServer(respond: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; received: Received[]; close: () => Promise<void>; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      received.push({ headers: req.headers, raw, signatureOk: verifySignature(SECRET, raw, req.headers['x-facegate-signature'] as string | undefined), body: JSON.parse(raw.toString('utf8')) as WebhookBody, at: Date.now() });
      respond(received.length, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/door`,
    received,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const granted: GateGranted = { type: 'gate.granted', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:4', identityId: 'alice-id', name: 'Alice', score: 0.71, masked: false, timeMs: 1767607200000 };
const request: ActuationRequest = { gateId: 'front', action: 'open', event: granted };
const hook = (url: string, over: Partial<WebhookConfig> = {}): WebhookConfig => ({ url, secret: SECRET, timeoutMs: 1000, retries: 2, backoffMs: 10, ...over });

function captureLog(): { log: ReturnType<typeof pino>; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => text };
}

t.test('signBody / verifySignature', async (t) => {
  const sig = signBody('k', '{"a":1}');
  t.match(sig, /^sha256=[0-9a-f]{64}$/);
  t.equal(sig, 'sha256=' + (await import('node:crypto')).createHmac('sha256', 'k').update('{"a":1}').digest('hex'));
  t.ok(verifySignature('k', Buffer.from('{"a":1}'), sig));
  t.notOk(verifySignature('k', '{"a":2}', sig), 'other body');
  t.notOk(verifySignature('j', '{"a":1}', sig), 'other key');
  t.notOk(verifySignature('k', '{"a":1}', undefined));
  t.notOk(verifySignature('k', '{"a":1}', 'sha256=00'));
});

t.test('webhook: signed POST to a real loopback server', async (t) => {
  const srv = await startServer((_n, _req, res) => res.writeHead(204).end());
  t.teardown(srv.close);
  const { log, text } = captureLog();
  const out = await webhookActuator(hook(srv.url), { log }).actuate(request);
  t.match(out, { ok: true, outcomes: [{ target: 'webhook', ok: true, attempts: 1, status: 204 }] });
  t.equal(out.outcomes[0].error, undefined);
  t.equal(srv.received.length, 1);
  const r = srv.received[0];
  t.ok(r.signatureOk, 'HMAC of the raw body verifies');
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(r.headers['x-facegate-timestamp'], String(r.body.sentAtMs), 'timestamp header = signed sentAtMs');
  t.ok(Math.abs(r.body.sentAtMs - r.at) < 5000);
  t.same(r.body.event, granted);
  t.match(r.body, { v: 1, gateId: 'front', action: 'open', attempt: 1 });
  t.notOk(text().includes(SECRET), 'secret never logged');
  t.notOk(JSON.stringify(out).includes(SECRET), 'secret not in the outcome');
});

t.test('webhook: 500 then 200 is retried; the retry is signed afresh', async (t) => {
  const srv = await startServer((n, _req, res) => res.writeHead(n === 1 ? 500 : 200).end('ok'));
  t.teardown(srv.close);
  const out = await webhookActuator(hook(srv.url)).actuate(request);
  t.match(out, { ok: true, outcomes: [{ ok: true, attempts: 2, status: 200 }] });
  t.equal(srv.received.length, 2);
  t.ok(srv.received.every((r) => r.signatureOk));
  t.same(srv.received.map((r) => r.body.attempt), [1, 2]);
});

t.test('webhook: always 500 gives up after 1 + retries attempts, with backoff', async (t) => {
  const srv = await startServer((_n, _req, res) => res.writeHead(500).end('nope'));
  t.teardown(srv.close);
  const delays: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    delays.push(ms);
  };
  const { log, text } = captureLog();
  const out = await webhookActuator(hook(srv.url, { retries: 3, backoffMs: 100 }), { sleep, log }).actuate(request);
  t.match(out, { ok: false, outcomes: [{ ok: false, attempts: 4, status: 500, error: 'HTTP 500' }] });
  t.equal(srv.received.length, 4, 'bounded');
  t.same(delays, [100, 200, 400], 'exponential backoff');
  t.match(text(), /gate webhook attempt failed/);
  t.notOk(text().includes(SECRET));
  const once = await webhookActuator(hook(srv.url, { retries: 0 })).actuate(request);
  t.equal(once.outcomes[0].attempts, 1, 'retries 0: one attempt');
});

t.test('webhook: 4xx other than 408/429 is not retried; 429 is', async (t) => {
  const srv = await startServer((n, _req, res) => res.writeHead(n === 1 ? 403 : 200).end());
  t.teardown(srv.close);
  const out = await webhookActuator(hook(srv.url)).actuate(request);
  t.match(out.outcomes[0], { ok: false, attempts: 1, status: 403, error: 'HTTP 403' });
  const srv2 = await startServer((n, _req, res) => res.writeHead(n === 1 ? 429 : 200).end());
  t.teardown(srv2.close);
  t.match((await webhookActuator(hook(srv2.url)).actuate(request)).outcomes[0], { ok: true, attempts: 2 });
});

t.test('webhook: a slow server times out per attempt', async (t) => {
  const srv = await startServer((_n, _req, res) => {
    setTimeout(() => res.writeHead(200).end(), 1500).unref();
  });
  t.teardown(srv.close);
  const started = Date.now();
  const out = await webhookActuator(hook(srv.url, { timeoutMs: 150, retries: 1 })).actuate(request);
  const took = Date.now() - started;
  t.match(out.outcomes[0], { ok: false, attempts: 2, error: 'timed out after 150 ms' });
  t.equal(out.outcomes[0].status, undefined);
  t.ok(took < 1200, `gave up in ${took} ms, not waiting for the server`);
});

t.test('webhook: connection refused, credentials in the URL redacted from logs', async (t) => {
  const srv = await startServer((_n, _req, res) => res.end());
  const port = (srv.server.address() as AddressInfo).port;
  await srv.close();
  const { log, text } = captureLog();
  const out = await webhookActuator(hook(`http://user:hunter2pass@127.0.0.1:${port}/x`, { retries: 1 }), { log }).actuate(request);
  t.match(out.outcomes[0], { ok: false, attempts: 2, error: /ECONNREFUSED/ });
  t.notOk(text().includes('hunter2pass'), 'URL password not logged');
  t.notOk(JSON.stringify(out).includes('hunter2pass'), 'nor in the outcome');
  t.match(text(), /\*\*\*@127\.0\.0\.1/);
});

t.test('webhook: credentials in the URL travel as Authorization: Basic', async (t) => {
  const srv = await startServer((_n, _req, res) => res.writeHead(200).end());
  t.teardown(srv.close);
  const url = srv.url.replace('http://', 'http://door%40user:p%3Ass@');
  const out = await webhookActuator(hook(url)).actuate(request);
  t.ok(out.ok);
  t.equal(srv.received[0].headers.authorization, `Basic ${Buffer.from('door@user:p:ss').toString('base64')}`);
  t.ok(srv.received[0].signatureOk);
});

t.test('webhook: an abort stops retrying', async (t) => {
  const srv = await startServer((_n, _req, res) => res.writeHead(500).end());
  t.teardown(srv.close);
  const ac = new AbortController();
  const p = webhookActuator(hook(srv.url, { retries: 5, backoffMs: 300 })).actuate(request, ac.signal);
  setTimeout(() => ac.abort(), 100);
  const started = Date.now();
  const out = await p;
  t.match(out.outcomes[0], { ok: false, error: 'aborted' });
  t.ok(out.outcomes[0].attempts <= 2);
  t.ok(Date.now() - started < 1000);
});

t.test('command: execFile without a shell; env carries the event', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-gate-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'opened');
  const out = await commandActuator({ argv: ['/usr/bin/touch', file], timeoutMs: 5000 }).actuate(request);
  t.match(out, { ok: true, outcomes: [{ target: 'command', ok: true, attempts: 1, exitCode: 0 }] });
  t.ok(existsSync(file), 'the program ran');

  const literal = join(dir, 'x;touch y $(touch z)');
  const noShell = await commandActuator({ argv: ['/usr/bin/touch', literal], timeoutMs: 5000 }).actuate(request);
  t.ok(noShell.ok);
  t.same(readdirSync(dir).sort(), ['opened', 'x;touch y $(touch z)'], 'metacharacters are one literal argument');

  const envFile = join(dir, 'env');
  const env = await commandActuator({ argv: ['/bin/sh', '-c', 'printf "%s %s %s" "$FACEGATE_GATE_ID" "$FACEGATE_ACTION" "$FACEGATE_EVENT_TYPE" > "$1"; printf "%s" "$FACEGATE_EVENT" >> "$1"', 'sh', envFile], timeoutMs: 5000 }).actuate(request);
  t.ok(env.ok);
  const text = readFileSync(envFile, 'utf8');
  t.ok(text.startsWith('front open gate.granted'));
  t.same(JSON.parse(text.slice('front open gate.granted'.length)), granted);
});

t.test('command: failures are recorded, not thrown', async (t) => {
  const code = await commandActuator({ argv: ['/bin/sh', '-c', 'echo boom >&2; exit 3'], timeoutMs: 5000 }).actuate(request);
  t.match(code.outcomes[0], { ok: false, exitCode: 3, error: 'exited with code 3: boom' });
  const started = Date.now();
  const slow = await commandActuator({ argv: ['/bin/sleep', '5'], timeoutMs: 200 }).actuate(request);
  t.match(slow.outcomes[0], { ok: false, error: /timed out after 200 ms/ });
  t.ok(Date.now() - started < 3000, 'killed, not awaited');
  const missing = await commandActuator({ argv: ['/nonexistent/door-opener'], timeoutMs: 1000 }).actuate(request);
  t.match(missing.outcomes[0], { ok: false, error: /cannot run '\/nonexistent\/door-opener': ENOENT/ });
  const ac = new AbortController();
  const p = commandActuator({ argv: ['/bin/sleep', '5'], timeoutMs: 10_000 }).actuate(request, ac.signal);
  setTimeout(() => ac.abort(), 50);
  t.match((await p).outcomes[0], { ok: false, error: 'aborted' });
});

t.test('createActuator from a parsed gate config runs webhook and command together', async (t) => {
  const srv = await startServer((_n, _req, res) => res.writeHead(200).end());
  t.teardown(srv.close);
  const dir = mkdtempSync(join(tmpdir(), 'facegate-gate-both-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gate = parseGate({ id: 'front', cameras: ['cam1'], actuation: { webhook: { url: srv.url, secret: SECRET }, command: { argv: ['/usr/bin/touch', join(dir, 'f')] } } });
  const actuator = createActuator(gate.actuation!);
  const out = await actuator.actuate(request);
  t.equal(out.ok, true);
  t.same(out.outcomes.map((o) => o.target).sort(), ['command', 'webhook']);
  t.ok(srv.received[0].signatureOk);
  t.ok(existsSync(join(dir, 'f')));
  const failing = createActuator({ command: { argv: ['/bin/false'], timeoutMs: 1000 } });
  t.equal((await failing.actuate(request)).ok, false);
});
