/**
 * The API's router: routes as data (method + path pattern -> role + handler) instead of one long
 * if-chain. The role is checked by the auth gate before the handler runs; `:name` segments are
 * captured raw (handlers look ids up, nothing builds a path from them). HEAD runs the GET route
 * (Node sends no body for HEAD). Tables: ./http-routes.ts (events, cameras, snapshots, gates,
 * identities) and ./dashboard-routes.ts (what the dashboard added).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeBadText, findBadChar, findBadText, type BadText } from '../lib/text.ts';
import type { Principal, Role } from './auth.ts';

/** What a 400 adds for the client's program: a stable code, the field at fault, where it was, the fix. */
export interface HttpErrorDetails {
  readonly code: string;
  /** Dotted path of the offending field (`reason`, `groups[1]`, `filter.gates[0]`). */
  readonly field?: string;
  /** Which part of the request: the JSON body or the query string. */
  readonly in?: 'body' | 'query';
  readonly hint?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly details?: HttpErrorDetails,
  ) {
    super(message);
  }
}

const BAD_TEXT_HINT = 'remove it: text must be valid Unicode without NUL (U+0000) or unpaired surrogates (\\ud800-\\udfff escapes)';

/**
 * The 400 for text no store downstream can keep (src/lib/text.ts): a NUL reaches PostgreSQL at the
 * fleet hub and stops every edge's upload there, so it is refused where it comes in.
 */
export function badTextError(bad: BadText, where: 'body' | 'query'): HttpError {
  return new HttpError(400, describeBadText(bad, where === 'body' ? 'body field' : 'query parameter'), {}, { code: 'TEXT_INVALID', field: bad.path, in: where, hint: BAD_TEXT_HINT });
}

/**
 * Every query parameter's name and value, once per request, before any handler reads one. A
 * repeated parameter is named with its index (`group[1]`). URL decoding turns malformed UTF-8
 * into U+FFFD, so only a NUL (`%00`) can arrive here; the surrogate check costs nothing extra.
 */
export function refuseBadQuery(url: URL): void {
  const seen = new Map<string, number>();
  for (const [k, v] of url.searchParams) {
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    const badKey = findBadChar(k);
    if (badKey) throw badTextError({ path: k, ...badKey }, 'query');
    const bad = findBadChar(v);
    if (bad) throw badTextError({ path: url.searchParams.getAll(k).length > 1 ? `${k}[${n}]` : k, ...bad }, 'query');
  }
}

/**
 * Cut `text` to at most `max` UTF-16 units without splitting a surrogate pair: a cut inside one
 * would itself make the lone surrogate that every entry refuses.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const c = text.charCodeAt(max - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
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
  /**
   * Run a request that decodes images under the upload slots (./upload-slots.ts): `read` (its
   * body) once admitted, `work` once its decode turn comes; 503 + Retry-After when busy.
   */
  readonly decodeTurn: <B, T>(read: () => Promise<B>, work: (body: B) => Promise<T>) => Promise<T>;
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

/**
 * The one JSON body parser of the API: an object, and no string in it (keys included) that a
 * store downstream cannot keep. JSON escapes (`\u0000`, `\ud800`) make such text out of plain
 * ASCII, so the check is on the parsed value.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new HttpError(400, 'body must be a JSON object');
  const bad = findBadText(doc);
  if (bad) throw badTextError(bad, 'body');
  return doc as Record<string, unknown>;
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
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Segments after `v1`; `:name` captures one segment. */
  readonly pattern: readonly string[];
  /** 'signed': no bearer token; the handler checks the request's own signature (door webhook inputs). */
  readonly role: Role | 'signed';
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

/** Who a signed route's handler runs as before it checks the signature: no role of any token. */
const SIGNED_REQUEST: Principal = { id: 'signed-request', role: 'viewer' };

/** Answer a /v1 request from the tables, in order; false when no route matches. */
export function createRouter(routes: readonly Route[], authorize: (req: IncomingMessage, role: Role) => Principal): (c: RouteContext) => Promise<boolean> {
  return async (c) => {
    const segs = c.parts.slice(1);
    for (const r of routes) {
      if (r.method !== c.method && !(r.method === 'GET' && c.method === 'HEAD')) continue;
      const params = match(r.pattern, segs);
      if (!params) continue;
      const who = r.role === 'signed' ? SIGNED_REQUEST : authorize(c.req, r.role);
      refuseBadQuery(c.url);
      await r.handle(c, params, who);
      return true;
    }
    return false;
  };
}
