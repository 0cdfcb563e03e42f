/**
 * The latest frame of every camera as a JPEG, for the dashboard's live tiles. The pipeline hands
 * every decoded frame to `onFrame`, which only keeps a reference and a hold on its pixels (the
 * camera reuses a frame's memory once nobody holds it: src/lib/frame-lease.ts), giving back the
 * previous frame's: nothing is encoded unless someone asks. A camera nobody has asked for within
 * `watchMs` keeps no frame at all (3.45 MB a 720p camera with its detector copy): the first request
 * then waits for the camera's next frame (a frame interval; an idle-decoding camera's key frame). A request encodes the newest frame at most once per
 * `minIntervalMs` per camera (default 500 ms: 2 fps) and every watcher in that window shares the
 * same JPEG, so three dashboards cost what one does, and none costs anything while nobody watches.
 */
import type { Frame } from '../types.ts';
import { loadSharp } from '../image/sharp.ts';
import { holdFrame, releaseFrame } from '../lib/frame-lease.ts';
import { Listeners } from '../lib/listeners.ts';

export interface LiveFrame {
  readonly jpeg: Buffer;
  readonly cameraId: string;
  readonly seq: number;
  /** Wall-clock capture time of the frame (ms since the epoch). */
  readonly capturedAt: number;
  readonly width: number;
  readonly height: number;
  /** Size of the source frame (event boxes are in these pixels). */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

export interface LiveFramesOptions {
  /** At most one encode per camera per this many ms (default 500: 2 fps). */
  readonly minIntervalMs?: number;
  /** Long side of the JPEG (default 640 px; the source is never enlarged). */
  readonly maxWidth?: number;
  readonly quality?: number;
  /** A frame older than this is not served (the camera is down or stalled; default 5 s). */
  readonly staleMs?: number;
  /** A camera counts as watched this long after a request: its newest frame is kept (default 30 s). */
  readonly watchMs?: number;
  /** How long a request for a camera whose frames were not kept waits for the next one (default 3 s). */
  readonly waitMs?: number;
  readonly now?: () => number;
}

export type LiveFrameResult = { readonly ok: true; readonly frame: LiveFrame } | { readonly ok: false; readonly reason: 'no-frame' | 'stale'; readonly message: string };

interface CameraSlot {
  latest: Frame | undefined;
  /** When the camera last delivered a frame (kept or not); 0: never. */
  latestAtMs: number;
  watchedUntilMs: number;
  /** Requests waiting for the next frame of a camera whose frames were not kept. */
  readonly waiters: Listeners;
  encoded: LiveFrame | undefined;
  encodedAtMs: number;
  encoding: Promise<LiveFrame> | undefined;
}

export class LiveFrames {
  private readonly slots = new Map<string, CameraSlot>();
  private readonly minIntervalMs: number;
  private readonly maxWidth: number;
  private readonly quality: number;
  private readonly staleMs: number;
  private readonly watchMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;
  /** JPEG encodes done since start (what the bench and tests look at). */
  encodes = 0;

  constructor(opts: LiveFramesOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? 500;
    this.maxWidth = opts.maxWidth ?? 640;
    this.quality = opts.quality ?? 70;
    this.staleMs = opts.staleMs ?? 5000;
    this.watchMs = opts.watchMs ?? 30_000;
    this.waitMs = opts.waitMs ?? 3000;
    this.now = opts.now ?? Date.now;
  }

  private slot(cameraId: string): CameraSlot {
    let slot = this.slots.get(cameraId);
    if (!slot) {
      slot = { latest: undefined, latestAtMs: 0, watchedUntilMs: 0, waiters: new Listeners(), encoded: undefined, encodedAtMs: 0, encoding: undefined };
      this.slots.set(cameraId, slot);
    }
    return slot;
  }

  /**
   * The pipeline's hook: O(1), keeps a reference to (and a hold on) the newest frame, while the
   * camera is watched. A frame in fresh memory (no lease) costs nothing to keep and is always kept.
   */
  readonly onFrame = (frame: Frame): void => {
    const slot = this.slot(frame.cameraId);
    const t = this.now();
    slot.latestAtMs = t;
    if (frame.lease && t >= slot.watchedUntilMs && slot.waiters.size === 0) {
      // Nobody watches: the frame's memory goes back to the camera as soon as the chain is done.
      if (slot.latest) releaseFrame(slot.latest);
      slot.latest = undefined;
      return;
    }
    if (!holdFrame(frame)) return;
    if (slot.latest) releaseFrame(slot.latest);
    slot.latest = frame;
    slot.waiters.emit();
  };

  /** Forget a camera (removed from the config). */
  forget(cameraId: string): void {
    const slot = this.slots.get(cameraId);
    if (slot?.latest) releaseFrame(slot.latest);
    this.slots.delete(cameraId);
  }

  /** The newest frame of a camera as JPEG, encoded at most once per interval. Marks the camera watched. */
  async latest(cameraId: string): Promise<LiveFrameResult> {
    // Only cameras that delivered a frame have a slot: a request for any other id stores nothing.
    const slot = this.slots.get(cameraId);
    if (!slot) return { ok: false, reason: 'no-frame', message: `camera ${cameraId} has not delivered a frame yet` };
    const t = this.now();
    slot.watchedUntilMs = t + this.watchMs;
    if (t - slot.latestAtMs > this.staleMs) return { ok: false, reason: 'stale', message: `camera ${cameraId} has delivered no frame for ${Math.round((t - slot.latestAtMs) / 1000)} s` };
    // Not watched until now: its frames were not kept; the next one is.
    if (!slot.latest && (await slot.waiters.next(this.waitMs)) === undefined) return { ok: false, reason: 'no-frame', message: `camera ${cameraId} delivered no frame within ${this.waitMs} ms` };
    if (!slot.latest) return { ok: false, reason: 'no-frame', message: `camera ${cameraId} has no frame kept` };
    if (slot.encoded && (t - slot.encodedAtMs < this.minIntervalMs || slot.encoded.seq === slot.latest.seq)) return { ok: true, frame: slot.encoded };
    if (!slot.encoding) {
      const frame = slot.latest;
      // The encode reads the pixels on sharp's threads while newer frames replace this one: its own
      // hold. A frame already given back (its camera forgotten meanwhile) is never read.
      if (!holdFrame(frame)) return { ok: false, reason: 'no-frame', message: `camera ${cameraId} has no frame kept` };
      slot.encodedAtMs = t;
      slot.encoding = this.encode(frame).finally(() => {
        releaseFrame(frame);
        slot.encoding = undefined;
      });
      slot.encoding.then(
        (f) => {
          slot.encoded = f;
        },
        () => undefined,
      );
    }
    return { ok: true, frame: await slot.encoding };
  }

  private async encode(frame: Frame): Promise<LiveFrame> {
    this.encodes++;
    const sharp = await loadSharp();
    const { data, info } = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .resize({ width: Math.min(frame.width, this.maxWidth), withoutEnlargement: true })
      .jpeg({ quality: this.quality })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, cameraId: frame.cameraId, seq: frame.seq, capturedAt: frame.capturedAt, width: info.width, height: info.height, sourceWidth: frame.width, sourceHeight: frame.height };
  }
}
