import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.ts';
import { authenticate, hasRole, presentedToken, urlCarriesToken, type Principal, type Role, type TokenEntry } from './auth.ts';
import type { Metrics } from './metrics.ts';
import { BoundedOutbox, parseClientMessage, PROTOCOL_VERSION, type EventFilter, type ServerMessage } from './protocol.ts';

/** An event as the API sees it: the log's envelope, with its monotonic id. */
export interface ApiEvent {
  readonly id: number;
  readonly type: string;
}

export interface EventQuery {
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly types?: readonly string[];
  readonly cameraId?: string;
  readonly limit?: number;
}

/** What the API needs of the event log + bus. */
export interface EventFeed {
  lastId(): number;
  /** Every logged event after `sinceId` matching the filter, then live ones: no gap, no duplicate. */
  replayThenLive(sinceId: number, filter: EventFilter): Observable<ApiEvent>;
  query(q: EventQuery): readonly ApiEvent[];
}

export interface IdentityApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  /** A new identity from its first photo: an identity without a template could never be recognised. */
  create(input: { name: string; groups: readonly string[]; photo: Buffer }): Promise<{ ok: boolean; message?: string; reason?: string; identity?: unknown }>;
  rename(id: string, name: string): unknown;
  setGroups(id: string, groups: readonly string[]): unknown;
  remove(id: string): boolean;
  /** Enroll one photo (bytes) for an identity; resolves to what was stored or a rejection. */
  enrollPhoto(id: string, photo: Buffer): Promise<{ ok: boolean; message?: string; reason?: string; templates?: number }>;
}

export interface GateApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  manual(id: string, action: 'open' | 'hold-open' | 'close', by: string, reason: string): Promise<unknown>;
}

export interface ApiDeps {
  readonly events: EventFeed;
  readonly tokens: () => readonly TokenEntry[];
  readonly metrics: Metrics;
  readonly identities?: IdentityApi;
  readonly gates?: GateApi;
  readonly cameras?: () => readonly unknown[];
  /** Absolute path of a snapshot JPEG by id, or undefined (ids are validated by the store). */
  readonly snapshotPath?: (id: string, kind: 'face' | 'frame') => string | undefined;
  readonly ready?: () => boolean;
  readonly logger?: Logger;
}

export interface ApiOptions {
  readonly bind: string;
  readonly port: number;
  readonly authEnabled?: boolean;
  readonly allowedOrigins?: readonly string[];
  readonly maxMessageBytes?: number;
  readonly sendBufferMessages?: number;
  /** Bytes the socket may hold unsent for one client before it counts as lagging (default 4 MiB). */
  readonly maxBufferedBytes?: number;
  readonly heartbeatMs?: number;
  readonly maxUploadBytes?: number;
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface ApiServer {
  readonly port: number;
  readonly url: string;
  readonly clients: () => number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body exceeds the ${limit}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  try {
    const doc = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
}

const stringArray = (v: unknown, field: string): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 100)) throw new HttpError(400, `${field} must be an array of non-empty strings`);
  return v as string[];
};

/**
 * The HTTP API and the WebSocket alert stream on one port. Secure by default: loopback bind,
 * every route but the health probes needs a token, tokens never from the URL, Origin allow-list.
 */
export async function startApiServer(deps: ApiDeps, opts: ApiOptions): Promise<ApiServer> {
  const authEnabled = opts.authEnabled ?? true;
  const maxMessageBytes = opts.maxMessageBytes ?? 64 * 1024;
  const sendBuffer = opts.sendBufferMessages ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const maxUpload = opts.maxUploadBytes ?? 10 * 1024 * 1024;
  const readPhoto = async (req: IncomingMessage): Promise<Buffer> => {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^image\/(jpeg|png|webp)$/.test(type)) throw new HttpError(415, 'upload the photo as the raw body with Content-Type image/jpeg, image/png or image/webp');
    return readBody(req, maxUpload);
  };
  const log = deps.logger;

  const principalOf = (req: IncomingMessage): Principal | undefined => (authEnabled ? authenticate(deps.tokens(), presentedToken(req.headers)) : { id: 'anonymous', role: 'admin' });
  const require = (req: IncomingMessage, role: Role): Principal => {
    if (urlCarriesToken(req.url ?? '')) throw new HttpError(400, 'tokens are not accepted in the URL; send Authorization: Bearer <token>');
    const p = principalOf(req);
    if (!p) throw new HttpError(401, 'missing or invalid token; send Authorization: Bearer <token>');
    if (!hasRole(p, role)) throw new HttpError(403, `this needs the ${role} role; your token has ${p.role}`);
    return p;
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const parts = path.split('/').filter(Boolean);
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path === '/readyz') {
      const ready = deps.ready ? deps.ready() : true;
      return sendJson(res, ready ? 200 : 503, { ready });
    }
    if (path === '/metrics') {
      require(req, 'viewer');
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (parts[0] !== 'v1') throw new HttpError(404, `no route ${method} ${path}`);
    const [, resource, id, sub] = parts;
    if (resource === 'events' && method === 'GET' && !id) {
      require(req, 'viewer');
      const num = (k: string): number | undefined => {
        const v = url.searchParams.get(k);
        if (v === null) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new HttpError(400, `${k} must be a number`);
        return n;
      };
      const types = url.searchParams.getAll('type');
      return sendJson(res, 200, { events: deps.events.query({ fromMs: num('from'), toMs: num('to'), types: types.length ? types : undefined, cameraId: url.searchParams.get('camera') ?? undefined, limit: Math.min(num('limit') ?? 100, 1000) }) });
    }
    if (resource === 'cameras' && method === 'GET') {
      require(req, 'viewer');
      return sendJson(res, 200, { cameras: deps.cameras?.() ?? [] });
    }
    if (resource === 'snapshots' && method === 'GET' && id) {
      require(req, 'viewer');
      const kind = url.searchParams.get('kind') === 'frame' ? 'frame' : 'face';
      const file = deps.snapshotPath?.(id, kind);
      if (!file) throw new HttpError(404, `no snapshot ${id}`);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new HttpError(404, `no snapshot ${id}`);
      }
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': size });
      createReadStream(file).pipe(res);
      return;
    }
    if (resource === 'gates' && deps.gates) {
      if (method === 'GET' && !id) {
        require(req, 'viewer');
        return sendJson(res, 200, { gates: deps.gates.list() });
      }
      if (method === 'GET' && id && !sub) {
        require(req, 'viewer');
        const g = deps.gates.get(id);
        if (!g) throw new HttpError(404, `no gate ${id}`);
        return sendJson(res, 200, g);
      }
      if (method === 'POST' && id && (sub === 'open' || sub === 'hold-open' || sub === 'close')) {
        const p = require(req, 'operator');
        const body = await readJson(req, maxMessageBytes);
        const reason = typeof body.reason === 'string' ? body.reason.slice(0, 500) : '';
        if (!deps.gates.get(id)) throw new HttpError(404, `no gate ${id}`);
        return sendJson(res, 200, await deps.gates.manual(id, sub, p.id, reason));
      }
    }
    if (resource === 'identities' && deps.identities) {
      const ids = deps.identities;
      if (method === 'GET' && !id) {
        require(req, 'viewer');
        return sendJson(res, 200, { identities: ids.list() });
      }
      if (method === 'POST' && !id) {
        // POST /v1/identities?name=Ada&group=staff with the first photo as the raw body.
        require(req, 'admin');
        const name = (url.searchParams.get('name') ?? '').trim();
        if (!name || name.length > 200) throw new HttpError(400, 'name (query parameter) must be a non-empty string of at most 200 characters');
        const groups = stringArray(url.searchParams.getAll('group'), 'group');
        const photo = await readPhoto(req);
        const r = await ids.create({ name, groups, photo });
        return sendJson(res, r.ok ? 201 : 422, r);
      }
      if (id && method === 'GET' && !sub) {
        require(req, 'viewer');
        const one = ids.get(id);
        if (!one) throw new HttpError(404, `no identity ${id}`);
        return sendJson(res, 200, one);
      }
      if (id && method === 'PATCH' && !sub) {
        require(req, 'admin');
        const body = await readJson(req, maxMessageBytes);
        if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
        if (body.name !== undefined) {
          if (typeof body.name !== 'string' || !body.name.trim()) throw new HttpError(400, 'name must be a non-empty string');
          ids.rename(id, body.name.trim());
        }
        if (body.groups !== undefined) ids.setGroups(id, stringArray(body.groups, 'groups'));
        return sendJson(res, 200, ids.get(id));
      }
      if (id && method === 'DELETE' && !sub) {
        require(req, 'admin');
        if (!ids.remove(id)) throw new HttpError(404, `no identity ${id}`);
        return sendJson(res, 200, { removed: id });
      }
      if (id && sub === 'photos' && method === 'POST') {
        require(req, 'admin');
        if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
        const photo = await readPhoto(req);
        const r = await ids.enrollPhoto(id, photo);
        return sendJson(res, r.ok ? 201 : 422, r);
      }
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((e: unknown) => {
      // Typed stage errors (a gallery validation error, say) carry a code and a fix: the client's fault.
      const typed = !(e instanceof HttpError) && e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && 'hint' in e;
      const status = e instanceof HttpError ? e.status : typed ? 400 : 500;
      if (status === 500) log?.error({ err: e, path: new URL(req.url ?? '/', 'http://x').pathname }, 'api error');
      const body = e instanceof HttpError ? { error: e.message } : typed ? { error: (e as Error).message, code: (e as unknown as { code: string }).code, hint: (e as unknown as { hint?: string }).hint } : { error: 'internal error' };
      if (!res.headersSent) sendJson(res, status, body);
      else res.destroy();
    });
  };
  const server: Server = opts.tls ? createHttpsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler) : createHttpServer(handler);

  // ws enforces a hard frame cap (closes with 1009); our own, lower limit answers with an error
  // frame and keeps the connection, for the sizes a confused client plausibly sends.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: Math.max(maxMessageBytes * 16, 1024 * 1024),
    handleProtocols: (protocols) => (protocols.has('facegate.v1') ? 'facegate.v1' : false),
  });
  const live = new Set<WebSocket>();
  const refuse = (socket: import('node:stream').Duplex, status: number, message: string): void => {
    socket.write(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Bad Request'}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
    socket.destroy();
  };
  server.on('upgrade', (req, socket, head) => {
    const url = req.url ?? '/';
    if (new URL(url, 'http://x').pathname !== '/v1/events') return refuse(socket, 404, 'WebSocket endpoint is /v1/events');
    if (urlCarriesToken(url)) return refuse(socket, 400, 'tokens are not accepted in the URL');
    const origin = req.headers.origin;
    if (origin && !(opts.allowedOrigins ?? []).includes(origin)) return refuse(socket, 403, `origin ${origin} is not in server.allowedOrigins`);
    const principal = principalOf(req);
    if (!principal) return refuse(socket, 401, 'missing or invalid token');
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, principal));
  });

  const onConnection = (ws: WebSocket, principal: Principal): void => {
    live.add(ws);
    deps.metrics.wsClients.set(live.size);
    const outbox = new BoundedOutbox(sendBuffer);
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
      deps.metrics.wsDropped.inc({ reason });
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
        deps.metrics.wsDropped.inc({ reason: 'dead-peer' });
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, heartbeatMs);
    ws.on('message', (data, isBinary) => {
      const raw = isBinary ? Buffer.from(data as Buffer) : (data as Buffer).toString('utf8');
      const parsed = parseClientMessage(raw, maxMessageBytes);
      if (!parsed.ok) {
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
          if (!outbox.admit() || ws.bufferedAmount > maxBuffered) {
            // Bypass the outbox for this one message: the client must learn where to resume.
            ws.send(JSON.stringify({ type: 'lagged', lastSentId: outbox.lastSentId, message: `more than ${sendBuffer} events unsent; reconnect with since=${outbox.lastSentId}` } satisfies ServerMessage));
            drop('lagged', 4008, 'lagged');
            return;
          }
          send({ type: 'event', event: event as ApiEvent & Record<string, unknown> }, event.id);
        },
        error: (e: unknown) => {
          log?.error({ err: e }, 'event feed failed');
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
      deps.metrics.wsClients.set(live.size);
    });
    ws.on('error', () => ws.terminate());
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bind, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://${opts.bind.includes(':') ? `[${opts.bind}]` : opts.bind}:${port}`,
    clients: () => live.size,
    close: async () => {
      for (const ws of live) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
