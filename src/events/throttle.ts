/**
 * Rate limit for alarm-type events that a fault can produce per frame (a model failing on every
 * frame at 5 fps x N cameras would flood the log and every subscriber): at most one event per key
 * per window, the next one saying how many were suppressed in between. Pure: time is passed in.
 */
export class EventThrottle {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    /** Keys remembered at most (a flood of distinct keys must not grow memory without bound). */
    private readonly maxKeys = 1024,
  ) {}

  /** undefined: suppress this one; a number: emit it, with that many suppressed since the last. */
  admit(key: string, nowMs: number): number | undefined {
    const seen = this.last.get(key);
    if (seen && nowMs - seen.atMs < this.windowMs) {
      seen.suppressed++;
      return undefined;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.delete(key); // re-insert: Map order is then least recently emitted first
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > this.maxKeys) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    return suppressed;
  }
}
