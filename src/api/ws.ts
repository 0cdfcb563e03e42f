/**
 * The /v1/events WebSocket: upgrade checks (path, token in URL, Origin, auth gate, connection
 * limits), then per client: hello, subscribe (replay then live) through a bounded outbox, ping,
 * heartbeat, lagging clients cut. Everything a client can trigger is answered on its own
 * connection and logged through the rate-limited log; nothing is processed after a close.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from './auth.ts';
import type { AuthGate } from './auth-gate.ts';
import { writeRawResponse, type ConnectionGuard } from './limits.ts';
import { BoundedOutbox, parseClientMessage, PROTOCOL_VERSION, type ServerMessage } from './protocol.ts';
import type { RateLimitedLog } from './rate-limit.ts';
import type { ApiDeps, ApiEvent } from './types.ts';

export interface EventsSocketOptions {
  readonly allowedOrigins: readonly string[];
  readonly maxMessageBytes: number;
  readonly sendBufferMessages: number;
  readonly maxBufferedBytes: number;
  readonly heartbeatMs: number;
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** The dashboard served by this same server: a page whose origin is this host:port may connect. */
export function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const o = new URL(origin);
    return (o.protocol === 'http:' || o.protocol === 'https:') && o.host === host.toLowerCase();
  } catch {
    return false;
  }
}

export interface EventsSocket {
  readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly clients: () => number;
  close(): void;
}

export function createEventsSocket(deps: ApiDeps, gate: AuthGate, guard: ConnectionGuard, log: RateLimitedLog, opts: EventsSocketOptions): EventsSocket {
  // ws enforces a hard frame cap (closes with 1009); our own, lower limit answers with an error
  // frame and keeps the connection, for the sizes a confused client plausibly sends.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(opts.maxMessageBytes * 16, 1024 * 1024),
    handleProtocols: (protocols) => (protocols.has('facegate.v1') ? 'facegate.v1' : false),
  });
  const live = new Set<WebSocket>();
  const { metrics } = deps;
  const refuse = (socket: Duplex, status: number, message: string, headers: Readonly<Record<string, string>> = {}): void => writeRawResponse(socket, status, STATUS_TEXT[status] ?? 'Error', message, headers);

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const over = guard.refusedReason(socket);
    if (over) return refuse(socket, 503, guard.refusedMessage(over), { 'Retry-After': '1' });
    const url = req.url ?? '/';
    if (new URL(url, 'http://x').pathname !== '/v1/events') return refuse(socket, 404, 'WebSocket endpoint is /v1/events');
    const origin = req.headers.origin;
    if (origin && !opts.allowedOrigins.includes(origin) && !sameOrigin(origin, req.headers.host)) return refuse(socket, 403, `origin ${origin} is not in server.allowedOrigins`);
    const v = gate(req, 'viewer', 'ws');
    if (!v.ok) return refuse(socket, v.status, v.message, v.headers);
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, v.principal, req.socket.remoteAddress));
  };

  const onConnection = (ws: WebSocket, principal: Principal, remote: string | undefined): void => {
    live.add(ws);
    metrics.wsClients.set(live.size);
    const outbox = new BoundedOutbox(opts.sendBufferMessages);
    let subscription: Subscription | undefined;
    let alive = true;
    let closed = false;
    const send = (m: ServerMessage, eventId?: number): boolean => {
      if (closed) return false;
      ws.send(JSON.stringify(m), (err) => {
        if (!err) outbox.sent(eventId);
      });
      return true;
    };
    const drop = (reason: string, code: number, message: string): void => {
      if (closed) return;
      metrics.wsDropped.inc({ reason });
      subscription?.unsubscribe();
      ws.close(code, message.slice(0, 120));
      closed = true;
      // A peer that is not reading never answers the close frame (it sits behind the backlog),
      // and ws would hold the socket for its 30 s close timeout: cut it after a short grace.
      const cut = setTimeout(() => ws.terminate(), 1000);
      cut.unref();
      ws.once('close', () => clearTimeout(cut));
    };
    send({ type: 'hello', v: PROTOCOL_VERSION, role: principal.role, lastId: deps.events.lastId() });
    ws.on('pong', () => {
      alive = true;
    });
    const heartbeat = setInterval(() => {
      if (!alive) {
        metrics.wsDropped.inc({ reason: 'dead-peer' });
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, opts.heartbeatMs);
    ws.on('message', (data, isBinary) => {
      // Frames already received when the server closed the connection are dropped unread.
      if (closed) return;
      const raw = isBinary ? Buffer.from(data as Buffer) : (data as Buffer).toString('utf8');
      const parsed = parseClientMessage(raw, opts.maxMessageBytes);
      if (!parsed.ok) {
        log.write('ws-bad-message', 'info', { remote, tokenId: principal.id, code: parsed.error.code, message: parsed.error.message.slice(0, 200) }, 'websocket message refused');
        send(parsed.error);
        return;
      }
      const m = parsed.message;
      if (m.type === 'ping') {
        send({ type: 'pong', ...(m.nonce ? { nonce: m.nonce } : {}) });
        return;
      }
      subscription?.unsubscribe();
      const since = m.since ?? deps.events.lastId();
      const filter = m.filter ?? {};
      send({ type: 'subscribed', since, filter });
      subscription = deps.events.replayThenLive(since, filter).subscribe({
        next: (event) => {
          if (closed) return;
          if (!outbox.admit() || ws.bufferedAmount > opts.maxBufferedBytes) {
            // Bypass the outbox for this one message: the client must learn where to resume.
            ws.send(JSON.stringify({ type: 'lagged', lastSentId: outbox.lastSentId, message: `more than ${opts.sendBufferMessages} events unsent; reconnect with since=${outbox.lastSentId}` } satisfies ServerMessage));
            drop('lagged', 4008, 'lagged');
            return;
          }
          send({ type: 'event', event: event as ApiEvent & Record<string, unknown> }, event.id);
        },
        error: (e: unknown) => {
          log.write('ws-feed-error', 'error', { err: e, remote, tokenId: principal.id }, 'event feed failed');
          send({ type: 'error', code: 'internal', message: 'event feed failed' });
          drop('feed-error', 1011, 'event feed failed');
        },
      });
    });
    ws.on('close', () => {
      closed = true;
      clearInterval(heartbeat);
      subscription?.unsubscribe();
      live.delete(ws);
      metrics.wsClients.set(live.size);
    });
    ws.on('error', () => ws.terminate());
  };

  return {
    onUpgrade,
    clients: () => live.size,
    close: () => {
      for (const ws of live) ws.terminate();
      wss.close();
    },
  };
}
