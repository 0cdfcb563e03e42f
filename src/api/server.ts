/**
 * The HTTP API and the WebSocket alert stream on one port. Secure by default: loopback bind,
 * every route but the health probes needs a token, tokens never from the URL, Origin allow-list,
 * failed authentication rate-limited per address, connections capped in total and per address,
 * headers / request / idle timeouts, and a log that a client cannot flood.
 * Routes: ./http-routes.ts; WebSocket: ./ws.ts; limits: ./limits.ts; rate limits: ./rate-limit.ts.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAuthGate } from './auth-gate.ts';
import { createHttpHandler, sendJson } from './http-routes.ts';
import { DEFAULT_LIMITS, httpTimeouts, limitConnections, writeRawResponse } from './limits.ts';
import { RateLimitedLog } from './rate-limit.ts';
import type { ApiDeps, ApiOptions, ApiServer } from './types.ts';
import { createEventsSocket } from './ws.ts';
import { loadStaticSite } from './static.ts';
import { DEFAULT_UPLOAD_LIMITS, UploadSlots } from './upload-slots.ts';

export type { ApiDeps, ApiEvent, ApiOptions, ApiServer, EnrollOutcome, EventFeed, EventQuery, GateApi, IdentityApi, LiveFrameApi, PhotoApi, SystemInfo, UnknownCluster, UnknownsApi } from './types.ts';
export type { ServerLimits } from './limits.ts';
export type { UploadLimits } from './upload-slots.ts';

export async function startApiServer(deps: ApiDeps, opts: ApiOptions): Promise<ApiServer> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const maxMessageBytes = opts.maxMessageBytes ?? 64 * 1024;
  const log = new RateLimitedLog(deps.logger, { maxLines: opts.logLinesPerMinute ?? 10, windowMs: 60_000, onSuppressed: (topic) => deps.metrics.logSuppressed.inc({ topic }) });
  const gate = createAuthGate({ tokens: deps.tokens, authEnabled: opts.authEnabled ?? true, failuresPerMinute: limits.authFailuresPerMinute, metrics: deps.metrics, log });
  const site = deps.webRoot !== undefined ? loadStaticSite(deps.webRoot) : undefined;
  const uploads = new UploadSlots(opts.uploads ?? DEFAULT_UPLOAD_LIMITS);
  const routes = createHttpHandler(deps, gate, log, { maxMessageBytes, maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024, authEnabled: opts.authEnabled ?? true, uploads }, site);

  let guard: ReturnType<typeof limitConnections> | undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    // Every response, whatever route or error writes it: no browser may guess another type than the
    // one declared (a JSON error or a JPEG rendered as HTML).
    res.setHeader('x-content-type-options', 'nosniff');
    const over = guard?.refusedReason(req.socket);
    if (over && guard) return sendJson(res, 503, { error: guard.refusedMessage(over) }, { connection: 'close', 'retry-after': '1' });
    routes(req, res);
  };
  const t = httpTimeouts(limits);
  const serverOpts = { headersTimeout: t.headersTimeout, requestTimeout: t.requestTimeout, keepAliveTimeout: t.keepAliveTimeout, connectionsCheckingInterval: t.connectionsCheckingInterval };
  const server: Server = opts.tls ? createHttpsServer({ ...serverOpts, cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler) : createHttpServer(serverOpts, handler);
  guard = limitConnections(server, limits, deps.metrics, log, { tls: opts.tls !== undefined });

  const events = createEventsSocket(deps, gate, guard, log, {
    allowedOrigins: opts.allowedOrigins ?? [],
    maxMessageBytes,
    sendBufferMessages: opts.sendBufferMessages ?? 1000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 4 * 1024 * 1024,
    heartbeatMs: opts.heartbeatMs ?? 15_000,
  });
  // events.outputs.ws.enabled: false turns the WebSocket stream off (the HTTP API stays).
  if (opts.eventsSocket === false) server.on('upgrade', (_req, socket: Duplex) => writeRawResponse(socket, 404, 'Not Found', 'the WebSocket event stream is disabled (events.outputs.ws.enabled: false)'));
  else server.on('upgrade', events.onUpgrade);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bind, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const connectionGuard = guard;
  return {
    port,
    url: `${opts.tls ? 'https' : 'http'}://${opts.bind.includes(':') ? `[${opts.bind}]` : opts.bind}:${port}`,
    clients: events.clients,
    connections: () => connectionGuard.budget.open,
    close: async () => {
      events.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Idle keep-alive sockets and refused ones waiting out their grace must not hold close().
      server.closeAllConnections();
      await closed;
      log.close();
    },
  };
}
