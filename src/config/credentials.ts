/**
 * Warnings about credentials in places where they travel further than they should. Pure.
 *
 * A password in a URL's query string (`rtsp://host/stream?password=...`) is hidden in facegate's
 * own logs and events (src/redact.ts), but cameras, proxies and RTSP servers log request lines
 * with their query strings, and a query string is easy to paste into a ticket. The userinfo
 * form (`rtsp://user:password@host/...`) is the one RTSP clients send as authentication instead.
 */
import { urlSecrets } from '../redact.ts';
import { formatConfigPath, type ConfigPath } from './errors.ts';

export interface CredentialInput {
  readonly cameras: ReadonlyArray<{ readonly id: string; readonly source: { readonly kind: string; readonly url?: string } }>;
  readonly gates: ReadonlyArray<{ readonly id: string; readonly actuation?: { readonly webhook?: { readonly url: string } | undefined } | undefined }>;
}

/** Names of the query (or fragment) parameters of `url` that carry secrets, in order, once each. */
function queryCredentialNames(url: string): string[] {
  return [...new Set(urlSecrets(url).filter((s) => s.kind === 'query').map((s) => s.name))];
}

/** The names are those of the parameters, never their values. */
const quoteNames = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');

/**
 * One warning per URL whose query string carries a credential: camera URLs and gate webhook
 * URLs. Says where (config path and id) and which parameter, never the value.
 */
export function credentialWarnings(config: CredentialInput): string[] {
  const out: string[] = [];
  const warn = (path: ConfigPath, id: string, what: string, names: readonly string[], fix: string): void => {
    out.push(`${formatConfigPath(path)} ('${id}'): the ${what} carries a credential in its query string (${quoteNames(names)}); servers and proxies log query strings: ${fix}`);
  };
  config.cameras.forEach((c, i) => {
    if (c.source.kind !== 'rtsp' || c.source.url === undefined) return;
    const names = queryCredentialNames(c.source.url);
    if (names.length > 0) warn(['cameras', i], c.id, 'camera URL', names, 'if the camera accepts it, move user and password into the userinfo (user:password@ before the host)');
  });
  config.gates.forEach((g, i) => {
    const url = g.actuation?.webhook?.url;
    if (url === undefined) return;
    const names = queryCredentialNames(url);
    if (names.length > 0) warn(['gates', i, 'actuation', 'webhook', 'url'], g.id, 'webhook URL', names, 'the webhook is signed with `secret` (X-Facegate-Signature): let the receiver check that instead');
  });
  return out;
}
