/**
 * How many image-decoding requests (photo uploads, naming an unknown cluster) the API works on at
 * once. Each decodes a photo (a large JPEG costs tens of MB inside libvips), then runs the
 * enrolment detector and embedder on the same cores as the cameras: unbounded, a burst of
 * uploads multiplied the process's memory and took frames from the cameras (docs/reliability.md).
 * So at most `concurrent`
 * requests decode at a time, at most `queued` more wait for their turn (their bodies read, so a
 * slow uploader never holds a decode slot), and the rest get 503 with Retry-After before their
 * body is read. Pure counting and waiting; the HTTP side is in ./http-routes.ts.
 */

/** Limits for the image-decoding routes (ApiOptions.uploads). */
export interface UploadLimits {
  /** Requests decoding (and enrolling) at the same time. */
  readonly concurrent: number;
  /** Requests admitted to wait for a decode slot; past concurrent + queued: 503. */
  readonly queued: number;
  /** A request waiting longer than this for its slot gets 503 (a stuck enrolment must not hold the queue forever). */
  readonly maxWaitMs: number;
}

/** One decode at a time on a 2-core edge box; a dashboard uploads its photos one by one. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { concurrent: 1, queued: 4, maxWaitMs: 20_000 };

export type SlotRefusal = { readonly reason: 'busy' | 'wait-timeout'; readonly retryAfterSeconds: number; readonly message: string };

/** An admitted request: wait for the slot, then release it (always, once) when done. */
export interface SlotTicket {
  /** Resolves when this request may decode; rejects with SlotBusyError after maxWaitMs. */
  ready(): Promise<void>;
  release(): void;
}

export class SlotBusyError extends Error {
  constructor(readonly refusal: SlotRefusal) {
    super(refusal.message);
    this.name = 'SlotBusyError';
  }
}

export class UploadSlots {
  private active = 0;
  private admitted = 0;
  private readonly waiters: (() => void)[] = [];
  /** Mean time a slot is held (ms), exponentially weighted: what Retry-After is estimated from. */
  private meanHoldMs = 1000;
  /** Most requests decoding at once since start (for tests and metrics). */
  peakActive = 0;

  constructor(
    readonly limits: UploadLimits,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(limits.concurrent) || limits.concurrent < 1) throw new RangeError(`uploads.concurrent must be a positive integer, got ${limits.concurrent}`);
    if (!Number.isInteger(limits.queued) || limits.queued < 0) throw new RangeError(`uploads.queued must be a non-negative integer, got ${limits.queued}`);
  }

  /** Requests decoding now. */
  get decoding(): number {
    return this.active;
  }

  /** Requests admitted (decoding, reading their body or waiting). */
  get inFlight(): number {
    return this.admitted;
  }

  private retryAfter(): number {
    // The time for the queue ahead to drain at the measured pace, whole seconds, 1..30.
    const ahead = this.admitted + 1;
    return Math.min(30, Math.max(1, Math.ceil((ahead * this.meanHoldMs) / this.limits.concurrent / 1000)));
  }

  /** Admit a request, or refuse it (busy) when concurrent + queued are already admitted. */
  admit(): SlotTicket | SlotRefusal {
    if (this.admitted >= this.limits.concurrent + this.limits.queued) {
      const retryAfterSeconds = this.retryAfter();
      return { reason: 'busy', retryAfterSeconds, message: `too many photos being processed (${this.limits.concurrent} at a time, ${this.limits.queued} waiting); retry in ${retryAfterSeconds} s` };
    }
    this.admitted++;
    let state: 'admitted' | 'waiting' | 'active' | 'released' = 'admitted';
    let startedMs = 0;
    let wake: (() => void) | undefined;
    const start = (): void => {
      state = 'active';
      startedMs = this.now();
      this.active++;
      this.peakActive = Math.max(this.peakActive, this.active);
    };
    return {
      ready: () => {
        if (state !== 'admitted') return Promise.reject(new Error(`ready() called twice (state ${state})`));
        if (this.active < this.limits.concurrent) {
          start();
          return Promise.resolve();
        }
        state = 'waiting';
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            const i = this.waiters.indexOf(w);
            if (i >= 0) this.waiters.splice(i, 1);
            const retryAfterSeconds = this.retryAfter();
            reject(new SlotBusyError({ reason: 'wait-timeout', retryAfterSeconds, message: `waited ${this.limits.maxWaitMs} ms for a turn to process the photo; retry in ${retryAfterSeconds} s` }));
          }, this.limits.maxWaitMs);
          const w = (): void => {
            clearTimeout(timer);
            start();
            resolve();
          };
          wake = w;
          this.waiters.push(w);
        });
      },
      release: () => {
        if (state === 'released') return;
        if (state === 'waiting' && wake) {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
        }
        const wasActive = state === 'active';
        state = 'released';
        this.admitted--;
        if (!wasActive) return;
        this.active--;
        this.meanHoldMs = 0.8 * this.meanHoldMs + 0.2 * Math.max(1, this.now() - startedMs);
        const next = this.waiters.shift();
        next?.();
      },
    };
  }
}

export const isRefusal = (x: SlotTicket | SlotRefusal): x is SlotRefusal => 'reason' in x;
