/**
 * The one place a request (HTTP or WebSocket upgrade) is authenticated: token from the headers,
 * role check, failures counted per remote address (past server.limits.authFailuresPerMinute a
 * failure gets 429 with Retry-After; a valid token with the role still passes), every failure logged with the address and, when the token
 * is known, its id (never the token), through a rate-limited log.
 */
import type { IncomingMessage } from 'node:http';
import { authenticate, hasRole, presentedToken, urlCarriesToken, type Principal, type Role, type TokenEntry } from './auth.ts';
import type { Metrics } from './metrics.ts';
import { FailureWindow, type RateLimitedLog } from './rate-limit.ts';

export type AuthFailureReason = 'missing-token' | 'invalid-token' | 'insufficient-role';

export type AuthVerdict =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly status: 400 | 401 | 403 | 429; readonly message: string; readonly headers?: Readonly<Record<string, string>> };

export interface AuthGateOptions {
  readonly tokens: () => readonly TokenEntry[];
  readonly authEnabled: boolean;
  readonly failuresPerMinute: number;
  readonly metrics: Metrics;
  readonly log: RateLimitedLog;
  readonly now?: () => number;
}

export type AuthGate = (req: IncomingMessage, role: Role, channel: 'http' | 'ws') => AuthVerdict;

const ANONYMOUS: Principal = { id: 'anonymous', role: 'admin' };

export function createAuthGate(opts: AuthGateOptions): AuthGate {
  const failures = new FailureWindow(opts.failuresPerMinute, 60_000);
  const now = opts.now ?? Date.now;
  return (req, role, channel) => {
    if (urlCarriesToken(req.url ?? '')) return { ok: false, status: 400, message: 'tokens are not accepted in the URL; send Authorization: Bearer <token>' };
    if (!opts.authEnabled) return { ok: true, principal: ANONYMOUS };
    const remote = req.socket.remoteAddress ?? 'unknown';
    const t = now();
    const presented = presentedToken(req.headers);
    const principal = authenticate(opts.tokens(), presented);
    // Only failures are limited: a valid token passes even from an address over its failure budget,
    // so a misconfigured client behind the operators' NAT cannot lock them out. The price: a limited
    // address still learns which guess is right (200 among 429s), so the limit bounds the log and
    // the work, not guessing; `config hash-token --generate` tokens (256 random bits) are beyond any
    // guessing rate, and hash-token warns about short ones.
    if (principal && hasRole(principal, role)) return { ok: true, principal };
    const retryAfter = failures.retryAfterSeconds(remote, t);
    if (retryAfter > 0) {
      opts.metrics.authRateLimited.inc();
      opts.log.write('auth-rate-limited', 'warn', { remote, channel, retryAfterSec: retryAfter }, 'authentication rate limit: request refused');
      return { ok: false, status: 429, message: `too many failed authentications from ${remote}; retry in ${retryAfter} s`, headers: { 'Retry-After': String(retryAfter) } };
    }
    const reason: AuthFailureReason = principal ? 'insufficient-role' : presented ? 'invalid-token' : 'missing-token';
    const count = failures.record(remote, t);
    opts.metrics.authFailures.inc({ reason });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // One log budget per reason: a flood of guesses must not hide a known token probing for roles.
    opts.log.write(`auth-${reason}`, 'warn', { remote, channel, path, method: req.method, reason, ...(principal ? { tokenId: principal.id, role: principal.role, needed: role } : {}), failuresInWindow: count, limit: opts.failuresPerMinute }, 'authentication failed');
    if (principal) return { ok: false, status: 403, message: `this needs the ${role} role; your token has ${principal.role}` };
    return { ok: false, status: 401, message: 'missing or invalid token; send Authorization: Bearer <token>' };
  };
}
