/**
 * The HTTP routes of the API: health probes, /metrics, the dashboard's static bundle, and the /v1
 * routes as tables for ./router.ts: events (query), cameras, snapshots, gates (manual actions) and
 * identities (enrollment by photo upload) here, what the dashboard added in ./dashboard-routes.ts.
 * Every route but the health probes and the static bundle goes through the auth gate.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal, Role } from './auth.ts';
import type { AuthGate } from './auth-gate.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import type { RateLimitedLog } from './rate-limit.ts';
import { createRouter, HttpError, readJson, readPhoto, sendJson, stringArray, truncateText, type Route, type RouteContext } from './router.ts';
import type { StaticSite } from './static.ts';
import { isRefusal, SlotBusyError, UploadSlots, type SlotRefusal } from './upload-slots.ts';
import type { ApiDeps, ApiEvent, EventQuery } from './types.ts';
import { parseConsent } from './consent.ts';

export { HttpError, readJson, sendJson, stringArray } from './router.ts';

export interface RouteOptions {
  readonly maxMessageBytes: number;
  readonly maxUploadBytes: number;
  /** Said by /healthz (public): the dashboard skips its sign-in page when auth is off. */
  readonly authEnabled: boolean;
  /** Image-decoding requests at once and waiting (photo uploads, naming an unknown). */
  readonly uploads: UploadSlots;
}

/**
 * Read and drop a refused request's body (up to `limit` bytes, then cut), so that the client,
 * still sending, reads the 503 instead of a reset; nothing of it is kept.
 */
function discardBody(req: IncomingMessage, limit: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) req.destroy();
  });
  req.resume();
}

/** A typed stage error (a gallery validation error, say) carries a code and a fix: the client's fault. */
function typedError(e: unknown): { code: string; message: string; hint?: string } | undefined {
  if (e instanceof HttpError || !(e instanceof Error)) return undefined;
  const f = e as Error & { code?: unknown; hint?: unknown };
  if (typeof f.code !== 'string' || !('hint' in f)) return undefined;
  return { code: f.code, message: f.message, ...(typeof f.hint === 'string' ? { hint: f.hint } : {}) };
}

const MANUAL_ACTIONS = ['open', 'hold-open', 'close'] as const;
/** The event schema's limit for a gate.opened reason (src/events/types.ts): a longer one fails the audit event. */
const MAX_REASON = 256;

/** `?force=true` on an enrollment: enroll a photo that looks like someone already enrolled. */
function parseForce(url: URL): boolean {
  const v = url.searchParams.get('force');
  if (v === null || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1') return true;
  throw new HttpError(400, 'force must be true or false');
}

/** Events, cameras, snapshots, gates, identities. */
function coreRoutes(deps: ApiDeps): Route[] {
  const routes: Route[] = [
    {
      method: 'GET',
      pattern: ['events'],
      role: 'viewer',
      handle: async ({ res, url }) => {
        const num = (k: string): number | undefined => {
          const v = url.searchParams.get(k);
          if (v === null) return undefined;
          const n = Number(v);
          if (!Number.isFinite(n)) throw new HttpError(400, `${k} must be a number`);
          return n;
        };
        const types = url.searchParams.getAll('type');
        const order = url.searchParams.get('order');
        if (order !== null && order !== 'asc' && order !== 'desc') throw new HttpError(400, 'order must be asc or desc');
        const query = async (q: EventQuery): Promise<readonly ApiEvent[]> => {
          try {
            return await deps.events.query(q);
          } catch (e) {
            if (typedError(e)?.code === 'EVENT_FILTER_INVALID') throw e;
            // The hub's history store (PostgreSQL) is down: the client may retry; the API stays up.
            throw new HttpError(503, `the event history cannot be read now: ${e instanceof Error ? e.message : String(e)}`, { 'retry-after': '5' });
          }
        };
        sendJson(res, 200, {
          events: await query({
            fromMs: num('from'),
            toMs: num('to'),
            types: types.length ? types : undefined,
            cameraId: url.searchParams.get('camera') ?? undefined,
            gateId: url.searchParams.get('gate') ?? undefined,
            identityId: url.searchParams.get('identity') ?? undefined,
            nodeId: url.searchParams.get('node') ?? undefined,
            site: url.searchParams.get('site') ?? undefined,
            order: order ?? undefined,
            limit: Math.min(num('limit') ?? 100, 1000),
          }),
        });
      },
    },
    { method: 'GET', pattern: ['cameras'], role: 'viewer', handle: ({ res }) => sendJson(res, 200, { cameras: deps.cameras?.() ?? [] }) },
    {
      method: 'GET',
      pattern: ['snapshots', ':id'],
      role: 'viewer',
      handle: async ({ res, url }, { id }) => {
        const kind = url.searchParams.get('kind') === 'frame' ? 'frame' : 'face';
        // Through the store: an encrypted snapshot is decrypted on the way out (never on disk).
        const bytes = await deps.snapshotBytes?.(id, kind);
        if (!bytes) throw new HttpError(404, `no snapshot ${id}`);
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.length });
        res.end(bytes);
      },
    },
  ];
  const gates = deps.gates;
  if (gates) {
    routes.push(
      { method: 'GET', pattern: ['gates'], role: 'viewer', handle: ({ res }) => sendJson(res, 200, { gates: gates.list() }) },
      {
        method: 'GET',
        pattern: ['gates', ':id'],
        role: 'viewer',
        handle: ({ res }, { id }) => {
          const g = gates.get(id);
          if (!g) throw new HttpError(404, `no gate ${id}`);
          sendJson(res, 200, g);
        },
      },
      ...MANUAL_ACTIONS.map(
        (action): Route => ({
          method: 'POST',
          pattern: ['gates', ':id', action],
          role: 'operator',
          handle: async ({ req, res, maxMessageBytes }, { id }, who) => {
            const body = await readJson(req, maxMessageBytes);
            const reason = typeof body.reason === 'string' ? truncateText(body.reason, MAX_REASON) : '';
            if (!gates.get(id)) throw new HttpError(404, `no gate ${id}`);
            sendJson(res, 200, await gates.manual(id, action, who.id, reason));
          },
        }),
      ),
    );
  }
  const ids = deps.identities;
  if (ids) {
    routes.push(
      { method: 'GET', pattern: ['identities'], role: 'viewer', handle: ({ res }) => sendJson(res, 200, { identities: ids.list() }) },
      {
        // POST /v1/identities?name=Ada&group=staff with the first photo as the raw body.
        method: 'POST',
        pattern: ['identities'],
        role: 'admin',
        handle: async ({ req, res, url, maxUploadBytes, decodeTurn }, _p, who) => {
          const name = (url.searchParams.get('name') ?? '').trim();
          if (!name || name.length > 200) throw new HttpError(400, 'name (query parameter) must be a non-empty string of at most 200 characters');
          const groups = stringArray(url.searchParams.getAll('group'), 'group');
          const consent = parseConsent((k) => url.searchParams.get(k) ?? undefined);
          const force = parseForce(url);
          const r = await decodeTurn(
            () => readPhoto(req, maxUploadBytes),
            (photo) => ids.create({ name, groups, photo, ...(consent ? { consent } : {}), ...(force ? { force } : {}) }, who.id),
          );
          sendJson(res, r.ok ? 201 : 422, r);
        },
      },
      {
        method: 'GET',
        pattern: ['identities', ':id'],
        role: 'viewer',
        handle: ({ res }, { id }) => {
          const one = ids.get(id);
          if (!one) throw new HttpError(404, `no identity ${id}`);
          sendJson(res, 200, one);
        },
      },
      {
        method: 'PATCH',
        pattern: ['identities', ':id'],
        role: 'admin',
        handle: async ({ req, res, maxMessageBytes }, { id }, who) => {
          const body = await readJson(req, maxMessageBytes);
          if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
          let name: string | undefined;
          if (body.name !== undefined) {
            if (typeof body.name !== 'string' || !body.name.trim()) throw new HttpError(400, 'name must be a non-empty string');
            name = body.name.trim();
          }
          const groups = body.groups === undefined ? undefined : stringArray(body.groups, 'groups');
          const metadata = body.metadata;
          if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))) {
            throw new HttpError(400, 'metadata must be an object (its keys are merged; a key set to null is removed)');
          }
          sendJson(res, 200, ids.update(id, { ...(name !== undefined ? { name } : {}), ...(groups !== undefined ? { groups } : {}), ...(metadata !== undefined ? { metadata: metadata as Record<string, unknown> } : {}) }, who.id));
        },
      },
      {
        method: 'DELETE',
        pattern: ['identities', ':id'],
        role: 'admin',
        handle: ({ res }, { id }, who) => {
          if (!ids.remove(id, who.id)) throw new HttpError(404, `no identity ${id}`);
          sendJson(res, 200, { removed: id });
        },
      },
      {
        // Erasure (docs/privacy.md): the identity and its biometric data, its snapshots, its name and id in past events.
        method: 'POST',
        pattern: ['identities', ':id', 'erase'],
        role: 'admin',
        handle: async ({ res }, { id }, who) => {
          if (!ids.erase) throw new HttpError(409, 'erasure is not offered here (a fleet edge: erase at the hub)');
          const receipt = await ids.erase(id, who.id);
          if (receipt === undefined) throw new HttpError(404, `no identity ${id}`);
          sendJson(res, 200, receipt);
        },
      },
      {
        // A visitor's end: {"validUntil": ms | ISO date | null}; the retention run erases the identity after it.
        method: 'POST',
        pattern: ['identities', ':id', 'valid-until'],
        role: 'admin',
        handle: async ({ req, res, maxMessageBytes }, { id }, who) => {
          if (!ids.setValidUntil) throw new HttpError(409, 'not offered here (a fleet edge: change people at the hub)');
          const body = await readJson(req, maxMessageBytes);
          const v = body.validUntil;
          const ms = v === null ? null : typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : typeof v === 'string' && Number.isFinite(Date.parse(v)) ? Date.parse(v) : undefined;
          if (ms === undefined) throw new HttpError(400, 'validUntil must be ms since the epoch, an ISO date, or null');
          const r = ids.setValidUntil(id, ms, who.id);
          if (r === undefined) throw new HttpError(404, `no identity ${id}`);
          sendJson(res, 200, r);
        },
      },
      {
        // Subject-access export: one ZIP of JSON and JPEG, decrypted.
        method: 'GET',
        pattern: ['identities', ':id', 'export'],
        role: 'admin',
        handle: async ({ res }, { id }) => {
          if (!ids.exportZip) throw new HttpError(409, 'export is not offered here (a fleet edge: export at the hub)');
          const zip = await ids.exportZip(id);
          if (!zip) throw new HttpError(404, `no identity ${id}`);
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip.length, 'content-disposition': `attachment; filename="${id.replace(/[^A-Za-z0-9_-]/g, '_')}.zip"`, 'cache-control': 'no-store' });
          res.end(zip);
        },
      },
      {
        method: 'POST',
        pattern: ['identities', ':id', 'photos'],
        role: 'admin',
        handle: async ({ req, res, url, maxUploadBytes, decodeTurn }, { id }, who) => {
          if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
          const force = parseForce(url);
          const r = await decodeTurn(
            () => readPhoto(req, maxUploadBytes),
            (photo) => ids.enrollPhoto(id, photo, who.id, { force }),
          );
          sendJson(res, r.ok ? 201 : 422, r);
        },
      },
    );
  }
  return routes;
}

export function createHttpHandler(deps: ApiDeps, gate: AuthGate, log: RateLimitedLog, opts: RouteOptions, site?: StaticSite): (req: IncomingMessage, res: ServerResponse) => void {
  const authorize = (req: IncomingMessage, role: Role): Principal => {
    const v = gate(req, role, 'http');
    if (!v.ok) throw new HttpError(v.status, v.message, v.headers);
    return v.principal;
  };
  const v1 = createRouter([...coreRoutes(deps), ...dashboardRoutes(deps), ...(deps.routes ?? [])], authorize);
  const { uploads } = opts;
  const busy = (req: IncomingMessage, r: SlotRefusal): HttpError => {
    deps.metrics.uploadsRefused.inc({ reason: r.reason });
    log.write('upload-busy', 'warn', { remote: req.socket.remoteAddress, reason: r.reason, decoding: uploads.decoding, inFlight: uploads.inFlight, limits: uploads.limits }, 'image upload refused: busy');
    return new HttpError(503, r.message, { 'retry-after': String(r.retryAfterSeconds), connection: 'close' }, { code: 'UPLOADS_BUSY', hint: `retry after ${r.retryAfterSeconds} s; send photos one at a time` });
  };
  const decodeTurnFor =
    (req: IncomingMessage, maxUploadBytes: number): RouteContext['decodeTurn'] =>
    async (read, work) => {
      const ticket = uploads.admit();
      if (isRefusal(ticket)) {
        discardBody(req, maxUploadBytes);
        throw busy(req, ticket);
      }
      deps.metrics.uploadsInFlight.set(uploads.inFlight);
      try {
        const body = await read();
        try {
          await ticket.ready();
        } catch (e) {
          if (e instanceof SlotBusyError) throw busy(req, e.refusal);
          throw e;
        }
        return await work(body);
      } finally {
        ticket.release();
        deps.metrics.uploadsInFlight.set(uploads.inFlight);
      }
    };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const parts = path.split('/').filter(Boolean);
    if (path === '/healthz') return sendJson(res, 200, { ok: true, auth: opts.authEnabled });
    if (path === '/readyz') {
      const ready = deps.ready ? deps.ready() : true;
      return sendJson(res, ready ? 200 : 503, { ready });
    }
    if (path === '/metrics') {
      authorize(req, 'viewer');
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (parts[0] === 'v1') {
      if (await v1({ req, res, url, method, parts, maxMessageBytes: opts.maxMessageBytes, maxUploadBytes: opts.maxUploadBytes, decodeTurn: decodeTurnFor(req, opts.maxUploadBytes) })) return;
    } else if (site?.serve(req, res)) {
      // The dashboard's static bundle: no token needed (it holds no data; its API calls do).
      return;
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  };

  return (req, res) => {
    route(req, res).catch((e: unknown) => {
      const typed = typedError(e);
      const status = e instanceof HttpError ? e.status : typed ? 400 : 500;
      if (status === 500) log.write('api-error', 'error', { err: e, path: new URL(req.url ?? '/', 'http://x').pathname }, 'api error');
      const body = e instanceof HttpError ? { error: e.message, ...e.details } : typed ? { error: typed.message, code: typed.code, hint: typed.hint } : { error: 'internal error' };
      if (!res.headersSent) sendJson(res, status, body, e instanceof HttpError ? e.headers : {});
      else res.destroy();
    });
  };
}
