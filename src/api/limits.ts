/**
 * Connection limits of the API server: how many TCP connections (HTTP and WebSocket alike) it
 * holds in total and per remote address, and the timeouts that free the ones that do nothing
 * (slowloris: headers sent a byte at a time; a body trickled in; idle keep-alive sockets).
 * Without them ~20,000 idle sockets exhaust the process's file descriptors, and the next camera
 * restart fails with EMFILE. `ConnectionBudget` is the pure count; `limitConnections` wires it
 * to a node:http server.
 */
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Metrics } from './metrics.ts';
import type { RateLimitedLog } from './rate-limit.ts';

/** server.limits of the config (src/config/schema.ts), all required here. */
export interface ServerLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly authFailuresPerMinute: number;
}

/** The config's defaults, for callers that pass no limits (tests, tools). */
export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 5_000,
  authFailuresPerMinute: 20,
};

export type RejectReason = 'max-connections' | 'max-per-address';

/** Open connections in total and per address. Pure. */
export class ConnectionBudget {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    readonly maxTotal: number,
    readonly maxPerAddress: number,
  ) {}

  /** Take a slot for a new connection from `address`, or say why there is none. */
  admit(address: string): { ok: true } | { ok: false; reason: RejectReason } {
    if (this.total >= this.maxTotal) return { ok: false, reason: 'max-connections' };
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= this.maxPerAddress) return { ok: false, reason: 'max-per-address' };
    this.total++;
    this.perAddress.set(address, mine + 1);
    return { ok: true };
  }

  /** Give back the slot of a closed connection that `admit` let in. */
  release(address: string): void {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine <= 0) return;
    this.total--;
    if (mine === 1) this.perAddress.delete(address);
    else this.perAddress.set(address, mine - 1);
  }

  get open(): number {
    return this.total;
  }

  /** Addresses with at least one open connection. */
  get addresses(): number {
    return this.perAddress.size;
  }
}

/** The node:http timeouts for the limits: headers within requestTimeout (node requires it). */
export function httpTimeouts(limits: ServerLimits): { headersTimeout: number; requestTimeout: number; keepAliveTimeout: number; connectionsCheckingInterval: number } {
  const requestTimeout = limits.requestTimeoutMs;
  const headersTimeout = Math.min(limits.headersTimeoutMs, requestTimeout);
  // node checks the two timeouts on this interval (default 30 s, far too coarse for a 1 s limit).
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4)));
  return { headersTimeout, requestTimeout, keepAliveTimeout: limits.idleTimeoutMs, connectionsCheckingInterval };
}

const refusedBody = (reason: RejectReason): string => (reason === 'max-connections' ? 'too many connections to this server; retry later' : 'too many connections from your address; close some and retry');

/** A plain HTTP error response on a raw socket, then close. */
export function writeRawResponse(socket: Duplex, status: number, statusText: string, message: string, headers: Readonly<Record<string, string>> = {}): void {
  if (socket.destroyed) return;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${statusText}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nCache-Control: no-store\r\n${extra}Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
  // end() flushes then half-closes; destroy after a moment in case the peer never closes its side.
  const cut = setTimeout(() => socket.destroy(), 1000);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

export interface ConnectionGuard {
  /** Why this connection was refused, or undefined when it was admitted. */
  refusedReason(socket: Duplex): RejectReason | undefined;
  /** Answer an upgrade request on a refused connection with 503 and close it. */
  answerRefused(socket: Duplex, reason: RejectReason): void;
  /** The 503 text for a refused connection. */
  refusedMessage(reason: RejectReason): string;
  readonly budget: ConnectionBudget;
}

/**
 * Count and cap the server's connections. A connection over a limit is not given to anyone: if it
 * sends a request within a short grace it gets a plain 503 + Connection: close, otherwise it is
 * closed. The number of refused connections waiting out their grace is capped too, so a flood
 * costs a bounded number of file descriptors. Also counts node's headers / request
 * timeouts' cuts (reported by node as clientError) and answers them with a plain 408.
 */
export function limitConnections(server: HttpServer, limits: ServerLimits, metrics: Metrics, log: RateLimitedLog, opts: { readonly tls: boolean }): ConnectionGuard {
  const budget = new ConnectionBudget(limits.maxConnections, limits.maxConnectionsPerAddress);
  // The timeouts themselves are server options (see httpTimeouts; the checking interval can only
  // be set at creation); here they only word the 408.
  const t = httpTimeouts(limits);
  const refused = new WeakMap<Duplex, RejectReason>();
  const graceMs = Math.min(1000, t.headersTimeout);
  const maxWaiting = Math.max(64, Math.ceil(limits.maxConnections / 4));
  let waiting = 0;

  // The raw TCP connection, before any HTTP parsing (prepended: counted before node reads a byte).
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const verdict = budget.admit(address);
    if (verdict.ok) {
      metrics.connectionsOpen.set(budget.open);
      socket.once('close', () => {
        budget.release(address);
        metrics.connectionsOpen.set(budget.open);
      });
      return;
    }
    metrics.connectionsRejected.inc({ reason: verdict.reason });
    log.write(`connection-${verdict.reason}`, 'warn', { remote: address, reason: verdict.reason, open: budget.open, limit: verdict.reason === 'max-connections' ? limits.maxConnections : limits.maxConnectionsPerAddress, hint: 'raise server.limits if these are legitimate clients' }, 'connection refused: limit reached');
    // Over TLS the 503 would need a handshake first; and past the waiting cap there is no room:
    // just close.
    if (opts.tls || waiting >= maxWaiting) {
      socket.destroy();
      return;
    }
    refused.set(socket, verdict.reason);
    waiting++;
    const cut = setTimeout(() => socket.destroy(), graceMs);
    cut.unref();
    socket.once('close', () => {
      waiting--;
      clearTimeout(cut);
    });
  });

  // node reports its own timeouts (headers, request) and unparseable requests here.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    metrics.connectionsRejected.inc({ reason: timeout ? 'request-timeout' : 'client-error' });
    const remote = (socket as Partial<Socket>).remoteAddress;
    log.write(timeout ? 'connection-timeout' : 'client-error', 'info', { remote, code: err.code }, timeout ? 'connection cut: request not complete in time' : 'malformed request');
    // A response already under way cannot be replaced by an error response.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    writeRawResponse(socket, timeout ? 408 : 400, timeout ? 'Request Timeout' : 'Bad Request', timeout ? `send the whole request within server.limits (${t.headersTimeout} ms for headers, ${t.requestTimeout} ms in all)` : 'malformed HTTP request');
  });

  return {
    budget,
    refusedReason: (socket) => refused.get(socket),
    refusedMessage: refusedBody,
    answerRefused: (socket, reason) => writeRawResponse(socket, 503, 'Service Unavailable', refusedBody(reason), { 'Retry-After': '1' }),
  };
}
