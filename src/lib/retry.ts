/**
 * Retry loops, in one place: try, and after a failure wait the next backoff delay (src/lib/backoff.ts)
 * and try again, until an attempt succeeds, the caller's part stops, or the attempts run out.
 * The caller says how loud a failure is (`onError`): most log once when failing starts and once
 * when it ends, not per attempt, so the loop itself never logs.
 *
 * Randomness and waiting are parameters, so the schedule is testable without timers.
 */
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { sleep } from './time.ts';

export interface RetryOptions {
  readonly backoff: BackoffOptions;
  /**
   * True ends the retries: checked before every attempt and before every wait (a part that is
   * closing stops at once instead of sleeping first).
   */
  readonly stopped?: () => boolean;
  /** At most this many attempts (default: no limit). No wait follows the last one. */
  readonly maxAttempts?: number;
  /** A failed attempt's error and its 0-based number, before the wait. */
  readonly onError?: (error: unknown, attempt: number) => void;
  /** A value in [0, 1) for the jitter (default Math.random). */
  readonly random?: () => number;
  /** How to wait (default: an unref'd timer, so a background retry never keeps the process alive). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type RetryResult<T> = { readonly ok: true; readonly value: T; readonly attempts: number } | { readonly ok: false; readonly attempts: number };

/** An attempt of retryUntil that answered false: a failure with nothing to report. */
const NOT_YET: unique symbol = Symbol('not yet');

const unrefSleep = (ms: number): Promise<void> => sleep(ms, { unref: true });

/**
 * Run `attempt(n)` until it resolves (ok, with its value) or the retries end (not ok: stopped, or
 * `maxAttempts` failures). A thrown error is a failure: `onError`, then the wait of backoff delay n.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<RetryResult<T>> {
  const stopped = opts.stopped ?? (() => false);
  const max = opts.maxAttempts ?? Number.POSITIVE_INFINITY;
  const random = opts.random ?? Math.random;
  const wait = opts.sleep ?? unrefSleep;
  let n = 0;
  while (n < max && !stopped()) {
    try {
      const value = await attempt(n);
      return { ok: true, value, attempts: n + 1 };
    } catch (e) {
      opts.onError?.(e, n);
    }
    n++;
    if (n >= max || stopped()) break;
    await wait(backoffDelay(n - 1, opts.backoff, random()));
  }
  return { ok: false, attempts: n };
}

/**
 * Run `attempt(n)` until it resolves true; false (or a thrown error, given to `onError`) is a
 * failure followed by its wait. Resolves true on success, false when the retries ended without one.
 */
export async function retryUntil(attempt: (n: number) => Promise<boolean>, opts: RetryOptions): Promise<boolean> {
  const r = await retry(async (n) => {
    if (!(await attempt(n))) throw NOT_YET;
    return true;
  }, { ...opts, onError: (e, n) => (e === NOT_YET ? undefined : opts.onError?.(e, n)) });
  return r.ok;
}
