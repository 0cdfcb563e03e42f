/**
 * Small loopback-only network helpers for the API hardening tests: raw TCP clients that record
 * what the server sent and when it closed, plain HTTP requests from a chosen local address
 * (127.0.0.0/8 is all loopback on Linux, so 127.0.0.2 is "another client"), and a pino logger
 * whose lines are captured in memory.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface RawClient {
  readonly socket: Socket;
  /** Everything the server sent, as latin1 text. */
  received: () => string;
  /** ms after connect when the server (or an error) closed it; undefined while open. */
  closedAfterMs: () => number | undefined;
  readonly closed: Promise<number>;
}

/** A raw TCP connection to 127.0.0.1:port; resolves once connected. */
export function rawClient(port: number, localAddress = '127.0.0.1'): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    let connectedAt = 0;
    let closedAt: number | undefined;
    let onClosed: (ms: number) => void = () => undefined;
    const closed = new Promise<number>((r) => (onClosed = r));
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => undefined); // a reset is an expected way for a refused socket to end
    socket.on('close', () => {
      closedAt = Date.now() - connectedAt;
      onClosed(closedAt);
    });
    socket.once('connect', () => {
      connectedAt = Date.now();
      socket.off('error', reject);
      resolve({ socket, received: () => text, closedAfterMs: () => closedAt, closed });
    });
    socket.once('error', reject);
  });
}

export interface PlainResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request on its own connection (no agent, no keep-alive) from `localAddress`. */
export function httpRequest(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {}): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress ?? '127.0.0.1', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface CapturedLog {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  readonly lines: () => Record<string, unknown>[];
  /** The raw text written so far (to search for secrets). */
  readonly text: () => string;
}

export function captureLog(level = 'info'): CapturedLog {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const logger = pino({ level, redact: { paths: ['token', '*.token', 'authorization', '*.authorization'], censor: '[redacted]' } }, sink);
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => text,
  };
}

export { sleep, until } from '../../src/lib/time.ts';
