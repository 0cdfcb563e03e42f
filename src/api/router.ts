/**
 * The API's router: routes as data (method + path pattern -> role + handler) instead of one long
 * if-chain. The role is checked by the auth gate before the handler runs; `:name` segments are
 * captured raw (handlers look ids up, nothing builds a path from them). HEAD runs the GET route
 * (Node sends no body for HEAD). Tables: ./http-routes.ts (events, cameras, snapshots, gates,
 * identities) and ./dashboard-routes.ts (what the dashboard added).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal, Role } from './auth.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly method: string;
  /** Path segments, `v1` first. */
  readonly parts: readonly string[];
  /** Body limits: JSON bodies and photo uploads. */
  readonly maxMessageBytes: number;
  readonly maxUploadBytes: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
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

/** A photo upload: the raw body, JPEG / PNG / WebP. */
export async function readPhoto(req: IncomingMessage, limit: number): Promise<Buffer> {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^image\/(jpeg|png|webp)$/.test(type)) throw new HttpError(415, 'upload the photo as the raw body with Content-Type image/jpeg, image/png or image/webp');
  return readBody(req, limit);
}

export const stringArray = (v: unknown, field: string): string[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 100)) throw new HttpError(400, `${field} must be an array of non-empty strings`);
  return v as string[];
};

export interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Segments after `v1`; `:name` captures one segment. */
  readonly pattern: readonly string[];
  readonly role: Role;
  readonly handle: (c: RouteContext, params: Readonly<Record<string, string>>, who: Principal) => Promise<void> | void;
}

function match(pattern: readonly string[], segs: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) params[p.slice(1)] = segs[i];
    else if (p !== segs[i]) return undefined;
  }
  return params;
}

/** Answer a /v1 request from the tables, in order; false when no route matches. */
export function createRouter(routes: readonly Route[], authorize: (req: IncomingMessage, role: Role) => Principal): (c: RouteContext) => Promise<boolean> {
  return async (c) => {
    const segs = c.parts.slice(1);
    for (const r of routes) {
      if (r.method !== c.method && !(r.method === 'GET' && c.method === 'HEAD')) continue;
      const params = match(r.pattern, segs);
      if (!params) continue;
      const who = authorize(c.req, r.role);
      await r.handle(c, params, who);
      return true;
    }
    return false;
  };
}
