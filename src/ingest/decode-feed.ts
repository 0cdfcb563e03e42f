/**
 * Which compressed frames go to the decoder: pure decision logic, no I/O, time passed in.
 *
 * Decoding is what an idle camera costs (every P-frame refers to the one before, so a decoder
 * must see them all). With `idleDecode: keyframes` the camera is parsed but not decoded while
 * nothing happens, and the decoder is fed:
 * - awake (motion, tracks, or the start): every access unit, as without this feed;
 * - asleep (the chain said "nothing to do" for `sleepAfterMs`): one key frame per
 *   `keyframeEveryMs` (each decodes on its own), so the motion gate and the keep-alive detection
 *   still see the scene;
 * - waking (a frame much larger than the idle ones of its kind, delta or key: something moved in
 *   the compressed stream; or the chain asks, after motion on a decoded key frame): the group of
 *   pictures since the last key frame, less what the decoder already has, so it catches up to the
 *   current frame. The frames before the wake are decoded but not delivered (split-run.ts moves the
 *   stream's segment to the waking frame).
 * A stream of key frames only (every frame intra, as some encoders make of a noisy scene) is sized
 * by its key frames alone; noise keeps them large and alike, so mostly the chain's motion on the
 * decoded key frames wakes it.
 */
import { median } from '../lib/stats.ts';

export interface DecodeFeedSettings {
  /** Nothing to do for this long (no motion, no tracks) and the decoder gets key frames only. */
  readonly sleepAfterMs: number;
  /** While asleep, decode one key frame per this many ms (every key frame when they are further apart). */
  readonly keyframeEveryMs: number;
  /** The size test of frames while asleep (delta and key frames against their own kind). */
  readonly wake: SizeWakeSettings;
  /** Longest group of pictures kept for a wake; beyond it the feed waits for the next key frame. */
  readonly maxGopBytes: number;
}

export interface SizeWakeSettings {
  /** Frames of the idle scene the baseline is taken over. */
  readonly window: number;
  /** Baseline frames needed before the size test is trusted. */
  readonly minSamples: number;
  /** A frame is "motion" when it exceeds the idle median by this many robust sigmas (1.4826 MAD)... */
  readonly sigmas: number;
  /** ... and by at least this fraction of the median ... */
  readonly ratio: number;
  /** ... and by at least this many bytes (a clean, static scene's frames are a few hundred bytes). */
  readonly minBytes: number;
}

export const DEFAULT_SIZE_WAKE: SizeWakeSettings = Object.freeze({ window: 64, minSamples: 8, sigmas: 6, ratio: 0.5, minBytes: 2048 });

export const DEFAULT_DECODE_FEED: DecodeFeedSettings = Object.freeze({
  sleepAfterMs: 2000,
  keyframeEveryMs: 2000,
  wake: DEFAULT_SIZE_WAKE,
  maxGopBytes: 16 * 1024 * 1024,
});

/** One parsed access unit (a whole compressed frame). */
export interface AccessUnit {
  /** A key frame: decodable on its own. */
  readonly key: boolean;
  readonly size: number;
}

export type WakeReason = 'size' | 'demand';

export interface FeedStep<T extends AccessUnit> {
  /** Send these to the decoder, in order. */
  readonly forward: readonly T[];
  /** Set when this access unit woke the decoder; `forward` then holds the group of pictures up to it. */
  readonly woke: WakeReason | undefined;
}

/** Median and robust spread of the idle scene's frame sizes (one baseline per kind of frame). */
export class SizeBaseline {
  private readonly sizes: number[] = [];
  private next = 0;

  constructor(readonly settings: SizeWakeSettings) {}

  add(size: number): void {
    if (this.sizes.length < this.settings.window) this.sizes.push(size);
    else this.sizes[this.next] = size;
    this.next = (this.next + 1) % this.settings.window;
  }

  /** The size above which a frame counts as motion; undefined until the baseline has `minSamples`. */
  threshold(): number | undefined {
    if (this.sizes.length < this.settings.minSamples) return undefined;
    const mid = median(this.sizes);
    const mad = median(this.sizes.map((x) => Math.abs(x - mid)));
    const s = this.settings;
    return mid + Math.max(s.sigmas * 1.4826 * mad, s.ratio * mid, s.minBytes);
  }

  /** Whether a frame of this size is motion (never before the baseline is trusted). */
  isJump(size: number): boolean {
    const t = this.threshold();
    return t !== undefined && size > t;
  }
}

export class DecodeFeed<T extends AccessUnit> {
  private awake = true;
  private lastWantedAt: number | undefined;
  private lastKeyForwardAt: number | undefined;
  private gop: T[] = [];
  private gopBytes = 0;
  /** Leading access units of `gop` the decoder already has (a wake sends only the rest). */
  private sentInGop = 0;
  /** Idle sizes of delta frames and of key frames, apart: a key frame is many times larger. */
  private readonly baseline: SizeBaseline;
  private readonly keyBaseline: SizeBaseline;

  constructor(readonly settings: DecodeFeedSettings = DEFAULT_DECODE_FEED) {
    this.baseline = new SizeBaseline(settings.wake);
    this.keyBaseline = new SizeBaseline(settings.wake);
  }

  get asleep(): boolean {
    return !this.awake;
  }

  /**
   * One access unit as it arrives. `wanted`: the chain has something to do (motion, tracks,
   * not the warm-up) as of its last frame.
   */
  push(au: T, nowMs: number, wanted: boolean): FeedStep<T> {
    this.remember(au);
    if (wanted || this.lastWantedAt === undefined) this.lastWantedAt = nowMs;
    const wasAwake = this.awake;
    if (this.awake) {
      // Quiet frames while awake teach the baseline too, so the size test is ready when it sleeps.
      const quiet = au.key ? this.keyBaseline : this.baseline;
      if (!wanted && !quiet.isJump(au.size)) quiet.add(au.size);
      if (nowMs - this.lastWantedAt >= this.settings.sleepAfterMs) {
        this.awake = false;
      } else {
        if (au.key) this.lastKeyForwardAt = nowMs;
        this.sentInGop = this.gop.length;
        return { forward: [au], woke: undefined };
      }
    }
    // Asleep.
    // A key frame far above the idle key frames counts too: encoders put one where the scene
    // changes (a person stepping in front of the camera), and such a frame is no delta to size.
    const sizes = au.key ? this.keyBaseline : this.baseline;
    const jump = sizes.isJump(au.size);
    if (!jump && !wasAwake) sizes.add(au.size);
    if ((wanted || jump) && this.gop.length > 0 && this.gop[0].key) {
      this.awake = true;
      this.lastWantedAt = nowMs;
      this.lastKeyForwardAt = nowMs;
      const forward = this.gop.slice(this.sentInGop);
      this.sentInGop = this.gop.length;
      return { forward, woke: wanted ? 'demand' : 'size' };
    }
    if (au.key && (this.lastKeyForwardAt === undefined || nowMs - this.lastKeyForwardAt >= this.settings.keyframeEveryMs)) {
      this.lastKeyForwardAt = nowMs;
      this.sentInGop = 1;
      return { forward: [au], woke: undefined };
    }
    return { forward: [], woke: undefined };
  }

  /**
   * The decoder lost data (its input backed up): nothing more is sent until the next key frame,
   * which is where decoding can restart cleanly.
   */
  resync(): void {
    this.gop = [];
    this.gopBytes = 0;
    this.sentInGop = 0;
    this.awake = false;
    this.lastKeyForwardAt = undefined;
  }

  /** Keep the group of pictures since the last key frame (what a wake must decode). */
  private remember(au: T): void {
    if (au.key) {
      this.gop = [au];
      this.gopBytes = au.size;
      this.sentInGop = 0;
      return;
    }
    if (this.gop.length === 0) return; // no key frame yet: nothing decodable to keep
    if (this.gopBytes + au.size > this.settings.maxGopBytes) {
      this.gop = [];
      this.gopBytes = 0;
      this.sentInGop = 0;
      return;
    }
    this.gop.push(au);
    this.gopBytes += au.size;
  }
}
