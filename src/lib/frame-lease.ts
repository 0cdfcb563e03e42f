/**
 * Frame memory that is reused instead of allocated per frame, and the holds that say when it may be.
 *
 * Why: a 720p RGB frame is 2.7 MB. Allocated fresh per frame, each one is a new mapping (glibc maps
 * every block above its mmap threshold, which the service pins low to keep RSS down), so every
 * frame pays its page faults on first write and an unmapping when V8 finally collects it; until
 * then the frames awaiting collection count against RSS. A camera's frames are all the same size,
 * so the memory of a frame the chain has finished with can take the next one.
 *
 * The rule is ownership: a frame leaves ingest with one hold, which whoever consumes it passes on
 * with it or gives back (`releaseFrame`) where the frame stops (dropped, or its last stage done).
 * Anyone who reads the pixels after that, or across an await that may outlive it, takes its own
 * hold first (`holdFrame`) and gives it back after. A hold never given back only costs the pool
 * one buffer (the next frame is allocated, as without a pool); so when unsure, keep it.
 */
import type { Frame, FrameLease } from '../types.ts';

/** Counters of one pool (per camera stream): what was allocated, reused, and misuse seen. */
export interface BufferPoolStats {
  /** Buffers allocated because none was free. */
  allocated: number;
  /** Buffers handed out again after their frame was released. */
  reused: number;
  /** Released buffers not kept (the free list was full, or the size had changed). */
  discarded: number;
  /** Free buffers dropped because no frame took them for `maxIdleMs` (a camera with few frames). */
  trimmed: number;
}

export interface BufferPoolOptions {
  /** Free buffers kept at most (more released at once go to the garbage collector). Default 2. */
  readonly maxFree?: number;
  /**
   * Overwrite a buffer's bytes when it is released (tests: pixels read after their last hold
   * went show as black instead of passing as a plausible older frame).
   */
  readonly poison?: boolean;
  /**
   * `trim` drops free buffers released longer ago than this (default 1000 ms), all but the newest:
   * a camera that delivers a frame every few seconds (idle decoding) keeps the one buffer its next
   * frame takes, not the extra ones a burst of activity left; one at a few fps reuses every buffer
   * long before. (Trimming the last one too cost 24 cameras a fifth of a core: every idle frame
   * fresh memory again, and V8's full collections that fresh external memory starts.)
   */
  readonly maxIdleMs?: number;
}

/** Same-size buffers for one stream of frames. Pure: no I/O; time is passed in. */
export class BufferPool {
  private size = 0;
  /** Free buffers with the time each was given back, the most recent last. */
  private free: { buffer: Uint8Array; atMs: number }[] = [];
  private readonly maxFree: number;
  private readonly poison: boolean;
  private readonly maxIdleMs: number;
  readonly stats: BufferPoolStats = { allocated: 0, reused: 0, discarded: 0, trimmed: 0 };

  constructor(opts: BufferPoolOptions = {}) {
    this.maxFree = opts.maxFree ?? 2;
    this.poison = opts.poison ?? false;
    this.maxIdleMs = opts.maxIdleMs ?? 1000;
  }

  /** A buffer of exactly `size` bytes, contents undefined: a free one, or a fresh one. */
  take(size: number): Uint8Array {
    if (size !== this.size) {
      // New caps: the old size will not be asked for again.
      this.size = size;
      this.free = [];
    }
    const reused = this.free.pop();
    if (reused) {
      this.stats.reused++;
      return reused.buffer;
    }
    this.stats.allocated++;
    // No zero-fill: the stream writes every byte before anyone reads it.
    return Buffer.allocUnsafeSlow(size);
  }

  /** Give a buffer back for a later take(). Only buffers nobody reads any more. */
  give(buffer: Uint8Array, nowMs: number): void {
    if (buffer.length !== this.size || this.free.length >= this.maxFree) {
      this.stats.discarded++;
      return;
    }
    if (this.poison) buffer.fill(0);
    this.free.push({ buffer, atMs: nowMs });
  }

  /** Drop free buffers given back more than `maxIdleMs` before `nowMs` (to the garbage collector), but the newest. */
  trim(nowMs: number): void {
    const newest = this.free.length - 1;
    const kept = this.free.filter((f, i) => i === newest || nowMs - f.atMs <= this.maxIdleMs);
    this.stats.trimmed += this.free.length - kept.length;
    this.free = kept;
  }

  /** Free buffers held now (for tests and counters). */
  get freeCount(): number {
    return this.free.length;
  }
}

/**
 * A lease over a frame's buffers (the full frame and its detector copy), starting with one hold.
 * The last release gives every buffer back to its pool, once. `onMisuse` hears of a release after
 * the last one (a consumer that released a hold it did not own); it never throws into the chain.
 */
export function createFrameLease(parts: readonly (readonly [BufferPool, Uint8Array])[], onMisuse?: (what: 'release') => void, now: () => number = () => performance.now()): FrameLease {
  let holds = 1;
  return {
    retain() {
      if (holds <= 0) return false;
      holds++;
      return true;
    },
    release() {
      if (holds <= 0) {
        onMisuse?.('release');
        return;
      }
      holds--;
      if (holds === 0) {
        const t = now();
        for (const [pool, buffer] of parts) pool.give(buffer, t);
      }
    },
    get held() {
      return holds > 0;
    },
  };
}

/**
 * One more hold on a frame's pixels, before reading them across an await. False when the frame's
 * last hold is already gone (its memory may carry another frame now): do not read its pixels.
 * A frame without a lease (fresh memory, a still image) is always readable.
 */
export function holdFrame(frame: Frame): boolean {
  return frame.lease ? frame.lease.retain() : true;
}

/** Give back one hold on a frame (the chain's own, or one taken with holdFrame). */
export function releaseFrame(frame: Frame): void {
  frame.lease?.release();
}
