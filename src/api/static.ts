/**
 * The operator dashboard's static bundle (built by scripts/build-web.ts into web/dist), served
 * under `/` by the API server itself: no framework server, nothing fetched at run time. Files are
 * read once into memory (gzip alongside); hashed assets are cached for a year (immutable), the
 * HTML page is revalidated every time. Every response carries a strict Content-Security-Policy:
 * scripts and styles from this origin only (no inline script, no eval), images from this origin
 * and blob: URLs (snapshots are fetched with the token, then shown as blobs), connections to this
 * origin only (HTTP API and the WebSocket).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | undefined;
  readonly type: string;
  readonly immutable: boolean;
  readonly etag: string;
}

export interface StaticSite {
  /** True when the request was answered (a file of the bundle, or the page for `/`). */
  serve(req: IncomingMessage, res: ServerResponse): boolean;
  readonly built: boolean;
}

const HASHED = /-[A-Z0-9]{8,}\.[a-z]+$/;

/** Load the bundle under `root` (index.html + assets/). A missing bundle serves a page saying how to build it. */
export function loadStaticSite(root: string | undefined): StaticSite {
  const files = new Map<string, StaticFile>();
  const add = (urlPath: string, file: string): void => {
    const body = readFileSync(file);
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const compressible = /^(text|application\/json|image\/svg)/.test(type) && body.length > 512;
    files.set(urlPath, { body, gzip: compressible ? gzipSync(body, { level: 9 }) : undefined, type, immutable: urlPath.startsWith('/assets/') && HASHED.test(urlPath), etag: `"${body.length.toString(16)}-${statSync(file).mtimeMs.toString(16)}"` });
  };
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
      else add(`${prefix}${name}`, full);
    }
  };
  const built = root !== undefined && existsSync(join(root, 'index.html'));
  if (built) walk(root, '/');
  const missing = Buffer.from(
    '<!doctype html><meta charset="utf-8"><title>facegate</title><p>The dashboard is not built. Run <code>npm run setup</code> (or <code>npx tsx scripts/build-web.ts</code>) and restart facegate. The API is under <code>/v1/</code>.</p>',
  );

  return {
    built,
    serve: (req, res) => {
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') return false;
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const key = path === '/' ? '/index.html' : path;
      const f = files.get(key);
      if (!f) {
        if (path !== '/' && path !== '/index.html') return false;
        res.writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': missing.length });
        res.end(method === 'HEAD' ? undefined : missing);
        return true;
      }
      const headers: Record<string, string | number> = {
        ...SECURITY_HEADERS,
        'content-type': f.type,
        'cache-control': f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        etag: f.etag,
        vary: 'accept-encoding',
      };
      if (req.headers['if-none-match'] === f.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      const gz = f.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gz && f.gzip ? f.gzip : f.body;
      if (gz) headers['content-encoding'] = 'gzip';
      headers['content-length'] = body.length;
      res.writeHead(200, headers);
      res.end(method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}
