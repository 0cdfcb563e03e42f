/**
 * The HTTP routes of the API: health probes, /metrics, /v1/events (query), cameras, snapshots,
 * gates (manual actions) and identities (enrollment by photo upload). Every route but the health
 * probes goes through the auth gate.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal, Role } from './auth.ts';
import type { AuthGate } from './auth-gate.ts';
import type { RateLimitedLog } from './rate-limit.ts';
import type { ApiDeps } from './types.ts';
import { createDashboardRoutes } from './dashboard-routes.ts';
import type { StaticSite } from './static.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
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

export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  try {
    const doc = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
}

export const stringArray = (v: unknown, field: string): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 100)) throw new HttpError(400, `${field} must be an array of non-empty strings`);
  return v as string[];
};

export interface RouteOptions {
  readonly maxMessageBytes: number;
  readonly maxUploadBytes: number;
}

/** A typed stage error (a gallery validation error, say) carries a code and a fix: the client's fault. */
function typedError(e: unknown): { code: string; message: string; hint?: string } | undefined {
  if (e instanceof HttpError || !(e instanceof Error)) return undefined;
  const f = e as Error & { code?: unknown; hint?: unknown };
  if (typeof f.code !== 'string' || !('hint' in f)) return undefined;
  return { code: f.code, message: f.message, ...(typeof f.hint === 'string' ? { hint: f.hint } : {}) };
}

export function createHttpHandler(deps: ApiDeps, gate: AuthGate, log: RateLimitedLog, opts: RouteOptions, site?: StaticSite): (req: IncomingMessage, res: ServerResponse) => void {
  const readPhoto = async (req: IncomingMessage): Promise<Buffer> => {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^image\/(jpeg|png|webp)$/.test(type)) throw new HttpError(415, 'upload the photo as the raw body with Content-Type image/jpeg, image/png or image/webp');
    return readBody(req, opts.maxUploadBytes);
  };
  const dashboard = createDashboardRoutes(deps);
  const require = (req: IncomingMessage, role: Role): Principal => {
    const v = gate(req, role, 'http');
    if (!v.ok) throw new HttpError(v.status, v.message, v.headers);
    return v.principal;
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
    if (parts[0] !== 'v1') {
      // The dashboard's static bundle (no token needed: it holds no data; the API calls do).
      if (site?.serve(req, res)) return;
      throw new HttpError(404, `no route ${method} ${path}`);
    }
    // Routes of the dashboard (live frames, photos, unknowns, system, me): ./dashboard-routes.ts.
    if (await dashboard({ req, res, url, method, parts, require, maxMessageBytes: opts.maxMessageBytes })) return;
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
      const order = url.searchParams.get('order');
      if (order !== null && order !== 'asc' && order !== 'desc') throw new HttpError(400, 'order must be asc or desc');
      return sendJson(res, 200, {
        events: deps.events.query({
          fromMs: num('from'),
          toMs: num('to'),
          types: types.length ? types : undefined,
          cameraId: url.searchParams.get('camera') ?? undefined,
          gateId: url.searchParams.get('gate') ?? undefined,
          identityId: url.searchParams.get('identity') ?? undefined,
          order: order ?? undefined,
          limit: Math.min(num('limit') ?? 100, 1000),
        }),
      });
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
        const body = await readJson(req, opts.maxMessageBytes);
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
        const p = require(req, 'admin');
        const name = (url.searchParams.get('name') ?? '').trim();
        if (!name || name.length > 200) throw new HttpError(400, 'name (query parameter) must be a non-empty string of at most 200 characters');
        const groups = stringArray(url.searchParams.getAll('group'), 'group');
        const photo = await readPhoto(req);
        const r = await ids.create({ name, groups, photo }, p.id);
        return sendJson(res, r.ok ? 201 : 422, r);
      }
      if (id && method === 'GET' && !sub) {
        require(req, 'viewer');
        const one = ids.get(id);
        if (!one) throw new HttpError(404, `no identity ${id}`);
        return sendJson(res, 200, one);
      }
      if (id && method === 'PATCH' && !sub) {
        const p = require(req, 'admin');
        const body = await readJson(req, opts.maxMessageBytes);
        if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
        let name: string | undefined;
        if (body.name !== undefined) {
          if (typeof body.name !== 'string' || !body.name.trim()) throw new HttpError(400, 'name must be a non-empty string');
          name = body.name.trim();
        }
        const groups = body.groups === undefined ? undefined : stringArray(body.groups, 'groups');
        return sendJson(res, 200, ids.update(id, { ...(name !== undefined ? { name } : {}), ...(groups !== undefined ? { groups } : {}) }, p.id));
      }
      if (id && method === 'DELETE' && !sub) {
        const p = require(req, 'admin');
        if (!ids.remove(id, p.id)) throw new HttpError(404, `no identity ${id}`);
        return sendJson(res, 200, { removed: id });
      }
      if (id && sub === 'photos' && method === 'POST') {
        const p = require(req, 'admin');
        if (!ids.get(id)) throw new HttpError(404, `no identity ${id}`);
        const photo = await readPhoto(req);
        const r = await ids.enrollPhoto(id, photo, p.id);
        return sendJson(res, r.ok ? 201 : 422, r);
      }
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  };

  return (req, res) => {
    route(req, res).catch((e: unknown) => {
      const typed = typedError(e);
      const status = e instanceof HttpError ? e.status : typed ? 400 : 500;
      if (status === 500) log.write('api-error', 'error', { err: e, path: new URL(req.url ?? '/', 'http://x').pathname }, 'api error');
      const body = e instanceof HttpError ? { error: e.message } : typed ? { error: typed.message, code: typed.code, hint: typed.hint } : { error: 'internal error' };
      if (!res.headersSent) sendJson(res, status, body, e instanceof HttpError ? e.headers : {});
      else res.destroy();
    });
  };
}
