/**
 * The Cameras page's and the gate editor's calls: the config file's cameras and gates with its
 * version (GET /v1/config/entries), probe and discover (POST /v1/cameras/{probe,discover}), and
 * changes through the config editor API (PUT / DELETE /v1/config/{cameras,gates}/:id with
 * If-Match). A refused change comes back as a value the page shows, not as a thrown error: 422
 * with every problem's path and fix, 409 with the version now on disk.
 */
import { ApiError, type Api } from './api.ts';

export type Entry = Readonly<Record<string, unknown>> & { readonly id: string };

export interface ConfigEntries {
  readonly version: string;
  readonly cameras: readonly Entry[];
  readonly gates: readonly Entry[];
}

export function loadEntries(api: Api): Promise<ConfigEntries> {
  return api.json<ConfigEntries>('/v1/config/entries');
}

export interface ProbeOk {
  readonly ok: true;
  readonly url: string;
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number | null;
  readonly firstFrameMs: number;
  readonly snapshot?: { readonly contentType: string; readonly base64: string };
}
export interface ProbeFailed {
  readonly ok: false;
  readonly error: string;
  readonly code: string;
  readonly hint?: string;
}

/** Probe a stream; a camera that fails (wrong password, no such path, timeout) is a ProbeFailed to show. */
export async function probeStream(api: Api, req: { url: string; username?: string; password?: string; cameraId?: string }): Promise<ProbeOk | ProbeFailed> {
  try {
    return await api.send<ProbeOk>('POST', '/v1/cameras/probe', req);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 422 || e.status === 504) && e.body) return { ok: false, error: e.message, code: String(e.body.code ?? 'error'), hint: typeof e.body.hint === 'string' ? e.body.hint : undefined };
    throw e;
  }
}

export interface DiscoveredProfile {
  readonly token: string;
  readonly name: string;
  readonly encoding?: string;
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  readonly streamUri?: string;
  readonly snapshotUri?: string;
}
export interface DiscoveredCamera {
  readonly address: string;
  readonly xaddr?: string;
  readonly from: string;
  readonly name?: string;
  readonly hardware?: string;
  readonly profiles: readonly DiscoveredProfile[];
  readonly error?: { readonly code: string; readonly message: string; readonly hint?: string };
}

export async function discoverOnvif(api: Api, req: { host?: string; username?: string; password?: string; timeoutMs?: number }): Promise<{ cameras: readonly DiscoveredCamera[]; multicast: boolean }> {
  return api.send('POST', '/v1/cameras/discover', req);
}

export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
}

export type SaveOutcome =
  | { readonly kind: 'saved'; readonly version: string; readonly restart: readonly string[]; readonly applied: boolean }
  | { readonly kind: 'invalid'; readonly error: string; readonly issues: readonly ConfigIssue[] }
  | { readonly kind: 'conflict'; readonly error: string; readonly current: string | undefined };

async function change(api: Api, method: 'PUT' | 'DELETE', section: 'cameras' | 'gates', id: string, version: string, value?: unknown): Promise<SaveOutcome> {
  try {
    const r = await api.json<{ version: string; restart: string[]; applied: boolean }>(`/v1/config/${section}/${encodeURIComponent(id)}`, {
      method,
      headers: { 'if-match': `"${version}"`, ...(value !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(value !== undefined ? { body: JSON.stringify(value) } : {}),
    });
    return { kind: 'saved', version: r.version, restart: r.restart ?? [], applied: r.applied };
  } catch (e) {
    if (e instanceof ApiError && e.status === 422 && e.body) {
      const issues = Array.isArray(e.body.issues) ? (e.body.issues as ConfigIssue[]) : [];
      return { kind: 'invalid', error: e.message, issues };
    }
    if (e instanceof ApiError && e.status === 409) return { kind: 'conflict', error: e.message, current: typeof e.body?.current === 'string' ? e.body.current : undefined };
    throw e;
  }
}

export function saveEntry(api: Api, section: 'cameras' | 'gates', id: string, value: Entry, version: string): Promise<SaveOutcome> {
  return change(api, 'PUT', section, id, version, value);
}

export function removeEntry(api: Api, section: 'cameras' | 'gates', id: string, version: string): Promise<SaveOutcome> {
  return change(api, 'DELETE', section, id, version);
}

/** A base64 JPEG as a blob: URL (the page's CSP allows blob: images, not data:); the caller revokes it. */
export function jpegUrl(base64: string): string {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }));
}

/**
 * The URL to save: the stream URL with `username` / `password` put into its userinfo (replacing
 * one already there, a redacted `***@` included). Without either, the URL as typed: a redacted
 * URL sent back unchanged keeps the file's credentials.
 */
export function urlWithCredentials(url: string, username: string, password: string): string {
  if (username === '' && password === '') return url;
  const m = /^(rtsps?:\/\/)(?:[^@/]*@)?(.*)$/i.exec(url.trim());
  if (!m) return url;
  return `${m[1]}${encodeURIComponent(username)}${password === '' ? '' : `:${encodeURIComponent(password)}`}@${m[2]}`;
}

/** One problem as the page shows it: the path in the file, what is wrong, the fix. */
export function issueText(i: ConfigIssue): string {
  return `${i.path}: ${i.message}${i.hint ? ` (fix: ${i.hint})` : ''}`;
}
