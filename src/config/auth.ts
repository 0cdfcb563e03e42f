/**
 * API tokens are stored only as sha256 hashes in the config. Pure: hash a token, and find the
 * holder of a presented token with constant-time comparisons over every entry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenConfig } from './schema.ts';

export interface TokenHolder {
  readonly id: string;
  readonly role: Role;
}

/** sha256 hex of the token's UTF-8 bytes: the value to paste into `auth.tokens[].sha256`. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The holder of `presented`, or undefined. Every stored hash is compared (constant time, no early
 * exit), so timing reveals neither which entry matched nor how much of a hash did. Looks only at
 * the token list: whether auth is enabled at all is the caller's decision.
 */
export function verifyToken(config: { readonly auth: { readonly tokens: readonly TokenConfig[] } }, presented: string | undefined): TokenHolder | undefined {
  if (typeof presented !== 'string' || presented.length === 0) return undefined;
  const h = Buffer.from(hashToken(presented), 'hex');
  let found: TokenHolder | undefined;
  for (const t of config.auth.tokens) {
    const stored = Buffer.from(t.sha256, 'hex');
    // A malformed stored hash (not 32 bytes) never matches; the schema refuses those anyway.
    const same = stored.length === h.length && timingSafeEqual(stored, h);
    if (same && found === undefined) found = { id: t.id, role: t.role };
  }
  return found;
}
