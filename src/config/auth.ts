/**
 * API tokens are stored only as sha256 hashes in the config. Pure: hash a token, and find the
 * holder of a presented token with constant-time comparisons over every entry.
 */
import { authenticate, sha256Hex } from '../api/auth.ts';
import type { Role, TokenConfig } from './schema.ts';

export interface TokenHolder {
  readonly id: string;
  readonly role: Role;
}

/** sha256 hex of the token's UTF-8 bytes: the value to paste into `auth.tokens[].sha256`. */
export const hashToken = (token: string): string => sha256Hex(token);

/**
 * The holder of `presented`, or undefined: the API's own check (every stored hash compared in
 * constant time, no early exit) over the config's token list. Whether auth is enabled at all is
 * the caller's decision.
 */
export function verifyToken(config: { readonly auth: { readonly tokens: readonly TokenConfig[] } }, presented: string | undefined): TokenHolder | undefined {
  if (typeof presented !== 'string' || presented.length === 0) return undefined;
  return authenticate(config.auth.tokens, presented);
}
