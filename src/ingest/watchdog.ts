/**
 * The camera watchdog's decision: pure, no timers, time passed in (camera.ts keeps the clock and
 * acts on the verdict: camera.stalled, then the run is rebuilt with backoff).
 *
 * A run is stalled when, after its first frame:
 * - no sign of life came for `stallMs`: no frame out and (a split run, `idleDecode: keyframes`) no
 *   access unit parsed while none was being forwarded, which is how a sleeping camera's stream
 *   shows it is alive between the key frames it decodes; or
 * - a split run's decoder was fed and gives nothing back: more than `DECODER_HOLD_MAX` access units
 *   went to it since its last frame out, the first of them `stallMs` ago or longer. While the
 *   camera is awake the first rule sees a hung decoder (every unit is forwarded, so only frames are
 *   life); while it sleeps the parsed stream keeps the first rule quiet, and this one notices the
 *   decoder: with the defaults (a key frame per 2 s, stallMs 5 s) within about 7 s of the hang.
 * Before the first frame only the start timeout applies.
 */

/**
 * Access units a decoder may hold with no frame out before it counts as hung. libav with one
 * thread (the cpu preset of a split run) returns each lone key frame at once; a hardware decoder,
 * or a stream with frame reordering, may hold one or two until the next arrives. Three key frames in
 * and none out is no decoder at work. The age condition (`stallMs` since the first of them) keeps
 * a sleeping camera whose key frames come further apart than `stallMs` from stalling on the
 * decoder's ordinary delay.
 */
export const DECODER_HOLD_MAX = 2;

export interface WatchdogClock {
  /** When the run was started. */
  readonly runStartedAt: number;
  /** When its first frame came out; undefined until then. */
  readonly upAt: number | undefined;
  /** The last sign of life: a frame out, or an access unit parsed while none was forwarded. */
  readonly lastLifeAt: number;
  /** The last frame out. */
  readonly lastFrameAt: number;
  /** Split runs: access units forwarded to the decoder since its last frame out (0 otherwise). */
  readonly owed: number;
  /** When the first of `owed` was forwarded; undefined when none is owed. */
  readonly owedSince: number | undefined;
}

export interface WatchdogLimits {
  readonly stallMs: number;
  readonly startMs: number;
}

export type WatchdogVerdict =
  | { readonly kind: 'ok' }
  /** `silentMs`: since the last sign of life (`stream`) or the last frame out (`decoder`). */
  | { readonly kind: 'stalled'; readonly cause: 'stream' | 'decoder'; readonly silentMs: number; readonly owed: number }
  | { readonly kind: 'start-timeout' };

export function watchdogVerdict(c: WatchdogClock, now: number, limits: WatchdogLimits): WatchdogVerdict {
  if (c.upAt === undefined) return now - c.runStartedAt >= limits.startMs ? { kind: 'start-timeout' } : { kind: 'ok' };
  const silent = now - c.lastLifeAt;
  if (silent >= limits.stallMs) return { kind: 'stalled', cause: 'stream', silentMs: silent, owed: c.owed };
  if (c.owed > DECODER_HOLD_MAX && c.owedSince !== undefined && now - c.owedSince >= limits.stallMs) {
    return { kind: 'stalled', cause: 'decoder', silentMs: now - c.lastFrameAt, owed: c.owed };
  }
  return { kind: 'ok' };
}

/** A split run's decoder ledger: what it was given since it last gave a frame back. */
export interface DecoderOwed {
  readonly owed: number;
  readonly owedSince: number | undefined;
}

export const NOTHING_OWED: DecoderOwed = Object.freeze({ owed: 0, owedSince: undefined });

/** `n` access units forwarded at `now`. */
export function forwardedTo(d: DecoderOwed, n: number, now: number): DecoderOwed {
  if (n <= 0) return d;
  return { owed: d.owed + n, owedSince: d.owedSince ?? now };
}
