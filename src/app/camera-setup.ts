/**
 * The add-camera wizard's pure helpers (the routes are in ./camera-setup-api.ts): the URL a probe
 * opens from what the form sent.
 */
import type { Config } from '../config/index.ts';
import { REDACTED, redactUrl } from '../redact.ts';

/**
 * The URL to open: `username` / `password` (when given) put into the URL's userinfo, percent-
 * encoded, replacing any already there. Pure.
 */
export function withCredentials(url: string, username: string | undefined, password: string | undefined): string {
  if (username === undefined && password === undefined) return url;
  const m = /^(rtsps?:\/\/)(?:[^@/]*@)?(.*)$/i.exec(url);
  if (!m) return url;
  const user = encodeURIComponent(username ?? '');
  const pass = password === undefined ? '' : `:${encodeURIComponent(password)}`;
  return `${m[1]}${user}${pass}@${m[2]}`;
}

/**
 * The URL a probe opens: a redacted URL (what the editor was shown) sent back for a configured
 * camera is that camera's own URL, credentials included; anything else is the URL as sent.
 */
export function resolveProbeUrl(url: string, cameraId: string | undefined, cameras: Config['cameras']): string {
  if (cameraId === undefined || !url.includes(REDACTED)) return url;
  const src = cameras.find((c) => c.id === cameraId)?.source;
  return src?.kind === 'rtsp' && redactUrl(src.url) === url ? src.url : url;
}
