/**
 * Rate limits of the API: failures counted per key (a remote address) in a sliding window, and a
 * log that writes at most N lines per topic per window and then one "suppressed K" summary. The
 * counting cores are pure (time is a parameter); RateLimitedLog is the thin I/O wrapper.
 */
import type { Logger } from '../log.ts';

/**
 * Failures per key in a sliding window. A key that has `limit` failures inside the window is
 * blocked until the oldest of them leaves it. Memory is bounded: at most `limit` timestamps per
 * key and `maxKeys` keys (the least recently failing key is forgotten first).
 */
export class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    readonly maxKeys = 10_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
  }

  /** Failures of `key` still inside the window at `nowMs`, oldest first. */
  private recent(key: string, nowMs: number): number[] {
    const all = this.failures.get(key);
    if (!all) return [];
    const from = nowMs - this.windowMs;
    let i = 0;
    while (i < all.length && all[i] <= from) i++;
    if (i === all.length) {
      this.failures.delete(key);
      return [];
    }
    if (i > 0) all.splice(0, i);
    return all;
  }

  /** Whole seconds until `key` may try again (at least 1), or 0 when it is not blocked. */
  retryAfterSeconds(key: string, nowMs: number): number {
    const r = this.recent(key, nowMs);
    if (r.length < this.limit) return 0;
    const freeAt = r[r.length - this.limit] + this.windowMs;
    return Math.max(1, Math.ceil((freeAt - nowMs) / 1000));
  }

  /** Count one failure of `key`; returns how many it has in the window now. */
  record(key: string, nowMs: number): number {
    const r = this.recent(key, nowMs);
    r.push(nowMs);
    if (r.length > this.limit) r.splice(0, r.length - this.limit);
    // Re-insert so the Map's order is least recently failing first.
    this.failures.delete(key);
    this.failures.set(key, r);
    while (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return r.length;
  }

  /** Keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }
}

/**
 * A budget of log lines: `maxLines` per window; the lines over it are counted, and the count of
 * a window is handed back once, when the window is over.
 */
export class LineBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;
  private suppressed = 0;

  constructor(
    readonly maxLines: number,
    readonly windowMs: number,
  ) {}

  /**
   * Ask to write one line at `nowMs`. `write`: whether to write it; `endedSuppressed`: lines
   * suppressed in the window that just ended (report them once, before this line).
   */
  take(nowMs: number): { write: boolean; endedSuppressed: number } {
    let endedSuppressed = 0;
    if (nowMs - this.windowStart >= this.windowMs) {
      endedSuppressed = this.suppressed;
      this.windowStart = nowMs;
      this.used = 0;
      this.suppressed = 0;
    }
    if (this.used < this.maxLines) {
      this.used++;
      return { write: true, endedSuppressed };
    }
    this.suppressed++;
    return { write: false, endedSuppressed };
  }

  /** Lines suppressed in the current window, reset to 0 (the window's summary is being written). */
  flush(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }

  /** When the current window ends (ms). */
  get windowEndMs(): number {
    return this.windowStart + this.windowMs;
  }
}

export type LogLevel = 'error' | 'warn' | 'info';

/**
 * A logger for what outsiders can trigger (bad messages, failed logins): per topic at most
 * `maxLines` lines per `windowMs`, then one line `{ topic, suppressed: K }` "log lines suppressed"
 * at the end of the window, so a flood costs a bounded number of lines.
 */
export class RateLimitedLog {
  private readonly budgets = new Map<string, LineBudget>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly log: Logger | undefined,
    readonly opts: { readonly maxLines: number; readonly windowMs: number; readonly onSuppressed?: (topic: string) => void; readonly now?: () => number } = { maxLines: 10, windowMs: 60_000 },
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  write(topic: string, level: LogLevel, fields: Record<string, unknown>, msg: string): void {
    if (!this.log) return;
    let budget = this.budgets.get(topic);
    if (!budget) {
      budget = new LineBudget(this.opts.maxLines, this.opts.windowMs);
      this.budgets.set(topic, budget);
    }
    const { write, endedSuppressed } = budget.take(this.now());
    if (endedSuppressed > 0) this.summary(topic, level, endedSuppressed);
    if (write) {
      this.log[level]({ topic, ...fields }, msg);
      return;
    }
    this.opts.onSuppressed?.(topic);
    if (!this.timers.has(topic)) {
      // The flood may stop within the window: the summary must not wait for the next line.
      const b = budget;
      const timer = setTimeout(() => {
        this.timers.delete(topic);
        const n = b.flush();
        if (n > 0) this.summary(topic, level, n);
      }, Math.max(0, b.windowEndMs - this.now()));
      timer.unref();
      this.timers.set(topic, timer);
    }
  }

  private summary(topic: string, level: LogLevel, suppressed: number): void {
    this.log?.[level]({ topic, suppressed, windowMs: this.opts.windowMs }, `log lines suppressed: ${suppressed} more '${topic}' lines in ${this.opts.windowMs} ms`);
  }

  /** Write the pending summaries now and stop the timers (server close). */
  close(): void {
    for (const [topic, timer] of this.timers) {
      clearTimeout(timer);
      const n = this.budgets.get(topic)?.flush() ?? 0;
      if (n > 0) this.summary(topic, 'warn', n);
    }
    this.timers.clear();
  }
}
