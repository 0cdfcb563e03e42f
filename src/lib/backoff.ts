/** Retry delays: exponential, capped, jittered, forever (cameras, brokers, NATS, the hub). Pure: randomness is a parameter. */

export interface BackoffOptions {
  /** Delay of the first retry before jitter. */
  readonly baseMs: number;
  /** Cap on the un-jittered delay. */
  readonly maxMs: number;
  /** Growth per attempt. */
  readonly factor: number;
  /**
   * Fraction of the delay that is random, 0..1. 0.5 gives delays in [d/2, d]: cameras that dropped
   * together (a switch rebooting) do not all reconnect in the same millisecond.
   */
  readonly jitter: number;
}

/** First retries 125-250, 250-500, 500-1000 ms: a camera that blinked is back within a second or two. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000, factor: 2, jitter: 0.5 };

/**
 * Delay in ms before retry number `attempt` (0-based). `random01` is a value in [0, 1).
 * Never negative, never above `maxMs`, never below `(1 - jitter) * min(maxMs, baseMs)`.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random01: number): number {
  const a = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 0));
  // Cap the exponent so factor^a stays finite however long a camera has been gone.
  const grown = opts.baseMs * Math.pow(Math.max(1, opts.factor), Math.min(a, 64));
  const capped = Math.min(opts.maxMs, Number.isFinite(grown) ? grown : opts.maxMs);
  const jitter = Math.min(1, Math.max(0, opts.jitter));
  const r = Math.min(1, Math.max(0, random01));
  return Math.round(capped * (1 - jitter) + capped * jitter * r);
}

/** The first `n` delays for a given random sequence (for tests, docs and `cameras probe`). */
export function backoffSchedule(n: number, opts: BackoffOptions, random: () => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(backoffDelay(i, opts, random()));
  return out;
}

export function resolveBackoff(partial: Partial<BackoffOptions> | undefined): BackoffOptions {
  return { ...DEFAULT_BACKOFF, ...(partial ?? {}) };
}
