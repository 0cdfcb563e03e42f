import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };

export interface TokenEntry {
  readonly id: string;
  readonly role: Role;
  /** sha256 hex of the token: tokens are stored only as hashes. */
  readonly sha256: string;
}

export interface Principal {
  readonly id: string;
  readonly role: Role;
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Compare the presented token's hash with every stored hash in constant time. */
export function authenticate(tokens: readonly TokenEntry[], presented: string | undefined): Principal | undefined {
  if (!presented) return undefined;
  const h = Buffer.from(sha256Hex(presented), 'hex');
  let found: Principal | undefined;
  for (const t of tokens) {
    const stored = Buffer.from(t.sha256, 'hex');
    // No early exit: timing reveals neither which entry matched nor how much of a hash did.
    const same = stored.length === h.length && timingSafeEqual(stored, h);
    if (same && found === undefined) found = { id: t.id, role: t.role };
  }
  return found;
}

export function hasRole(p: Principal, needed: Role): boolean {
  return ROLE_RANK[p.role] >= ROLE_RANK[needed];
}

/** WebSocket subprotocol carrying a token: browsers cannot set Authorization on a WebSocket. */
export const TOKEN_PROTOCOL_PREFIX = 'facegate.token.';

/**
 * The bearer token of a request: `Authorization: Bearer T`, or the `Sec-WebSocket-Protocol` value
 * `facegate.token.T`. Never from the URL: query strings end up in proxy and access logs.
 */
export function presentedToken(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const auth = headers.authorization;
  const a = Array.isArray(auth) ? auth[0] : auth;
  if (a) {
    const m = /^Bearer\s+(\S+)$/i.exec(a.trim());
    if (m) return m[1];
  }
  const proto = headers['sec-websocket-protocol'];
  const p = Array.isArray(proto) ? proto.join(',') : proto;
  if (p) {
    for (const part of p.split(',').map((s) => s.trim())) if (part.startsWith(TOKEN_PROTOCOL_PREFIX)) return part.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

/** True when the URL carries something that looks like a credential: refused outright. */
export function urlCarriesToken(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const k of params.keys()) if (/^(token|access_token|auth|authorization|bearer|key|api_key)$/i.test(k)) return true;
  return false;
}
