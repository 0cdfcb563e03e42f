/**
 * Rate limits for MQTT gate commands. Pure: time is a parameter, no timers (the sink owns those).
 *
 * Why: anyone who may publish on <prefix>/gate/+/set could send hundreds of OPENs in a blink, and
 * each one opened the door and wrote an audit event and a log line. A person on a dashboard needs a few
 * presses, then one every few seconds: a token bucket per gate and action (OPEN and LOCK apart, so
 * an OPEN flood cannot use up the budget of the LOCK that stops it), and refusals reported once
 * per window with their count instead of once each.
 */

export interface CommandRate {
  /** Tokens added per minute, evenly. */
  readonly perMinute: number;
  /** The bucket's size: commands accepted at once. */
  readonly burst: number;
}

export interface Bucket {
  readonly tokens: number;
  readonly atMs: number;
}

/** The bucket at `nowMs`: refilled at the rate since `atMs`, never above the burst. */
export function refillTokens(b: Bucket, nowMs: number, rate: CommandRate): Bucket {
  const elapsed = Math.max(0, nowMs - b.atMs);
  return { tokens: Math.min(rate.burst, b.tokens + (elapsed * rate.perMinute) / 60_000), atMs: Math.max(b.atMs, nowMs) };
}

export interface RefusalSummary {
  readonly key: string;
  /** Refusals in the window, the first (logged on its own) included. */
  readonly refused: number;
  readonly sinceMs: number;
}

/**
 * Counts events per key in fixed windows opened by the first event: note() says whether an event
 * is the first of its window (log it), flush() returns the windows that ended with more than one
 * (log the count once). Bounded: at most `maxKeys` keys; beyond that, events share the key '*'.
 */
export class RefusalWindows {
  private readonly open = new Map<string, { sinceMs: number; count: number }>();

  constructor(
    readonly windowMs: number,
    private readonly maxKeys = 1000,
  ) {}

  note(key: string, nowMs: number): { readonly first: boolean } {
    const k = this.open.has(key) || this.open.size < this.maxKeys ? key : '*';
    const w = this.open.get(k);
    if (w && nowMs < w.sinceMs + this.windowMs) {
      w.count++;
      return { first: false };
    }
    this.open.set(k, { sinceMs: nowMs, count: 1 });
    return { first: true };
  }

  /** Windows over by `nowMs`: removed, and those with more than the first event returned. */
  flush(nowMs: number): RefusalSummary[] {
    const out: RefusalSummary[] = [];
    for (const [key, w] of this.open) {
      if (nowMs < w.sinceMs + this.windowMs) continue;
      this.open.delete(key);
      if (w.count > 1) out.push({ key, refused: w.count, sinceMs: w.sinceMs });
    }
    return out;
  }

  /** When the earliest open window ends (undefined: none open). */
  nextEndMs(): number | undefined {
    let end: number | undefined;
    for (const w of this.open.values()) end = Math.min(end ?? Infinity, w.sinceMs + this.windowMs);
    return end;
  }
}

/** 'mode': a door mode command, limited apart so a mode flood cannot use up OPEN's or LOCK's budget. */
export type GateAction = 'open' | 'close' | 'mode';

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryInMs: number; readonly firstInWindow: boolean };

export interface CommandRefusals {
  readonly gateId: string;
  readonly action: GateAction;
  readonly refused: number;
  readonly sinceMs: number;
}

/** Token buckets per gate and action, with the refusals counted per window. */
export class CommandLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refusals: RefusalWindows;

  constructor(
    private readonly rate: CommandRate,
    windowMs: number,
  ) {
    // Keys are configured gates x 2 actions (the command is parsed first): bounded by the config.
    this.refusals = new RefusalWindows(windowMs, Infinity);
  }

  take(gateId: string, action: GateAction, nowMs: number): TakeResult {
    const key = `${action}:${gateId}`;
    const b = refillTokens(this.buckets.get(key) ?? { tokens: this.rate.burst, atMs: nowMs }, nowMs, this.rate);
    if (b.tokens >= 1) {
      this.buckets.set(key, { tokens: b.tokens - 1, atMs: b.atMs });
      return { ok: true };
    }
    this.buckets.set(key, b);
    const retryInMs = Math.ceil(((1 - b.tokens) * 60_000) / this.rate.perMinute);
    return { ok: false, retryInMs, firstInWindow: this.refusals.note(key, nowMs).first };
  }

  /** Refusal counts of the windows that ended by `nowMs` (each reported once). */
  flush(nowMs: number): CommandRefusals[] {
    return this.refusals.flush(nowMs).map((r) => {
      const at = r.key.indexOf(':');
      return { gateId: r.key.slice(at + 1), action: r.key.slice(0, at) as GateAction, refused: r.refused, sinceMs: r.sinceMs };
    });
  }

  nextReportMs(): number | undefined {
    return this.refusals.nextEndMs();
  }
}
