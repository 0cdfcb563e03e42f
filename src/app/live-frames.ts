/**
 * The latest frame of every camera as a JPEG, for the dashboard's live tiles. The pipeline hands
 * every decoded frame to `onFrame`, which only keeps a reference and a hold on its pixels (the
 * camera reuses a frame's memory once nobody holds it: src/lib/frame-lease.ts), giving back the
 * previous frame's: nothing is encoded unless someone asks. A request encodes the newest frame at most once per
 * `minIntervalMs` per camera (default 500 ms: 2 fps) and every watcher in that window shares the
 * same JPEG, so three dashboards cost what one does, and none costs anything while nobody watches.
 */
import type { Frame } from '../types.ts';
import { loadSharp } from '../image/sharp.ts';
import { holdFrame, releaseFrame } from '../lib/frame-lease.ts';

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
  readonly now?: () => number;
}

export type LiveFrameResult = { readonly ok: true; readonly frame: LiveFrame } | { readonly ok: false; readonly reason: 'no-frame' | 'stale'; readonly message: string };

interface CameraSlot {
  latest: Frame | undefined;
  latestAtMs: number;
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
  private readonly now: () => number;
  /** JPEG encodes done since start (what the bench and tests look at). */
  encodes = 0;

  constructor(opts: LiveFramesOptions = {}) {
    this.minIntervalMs = opts.minIntervalMs ?? 500;
    this.maxWidth = opts.maxWidth ?? 640;
    this.quality = opts.quality ?? 70;
    this.staleMs = opts.staleMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** The pipeline's hook: O(1), keeps a reference to (and a hold on) the newest frame. */
  readonly onFrame = (frame: Frame): void => {
    if (!holdFrame(frame)) return;
    let slot = this.slots.get(frame.cameraId);
    if (!slot) {
      slot = { latest: undefined, latestAtMs: 0, encoded: undefined, encodedAtMs: 0, encoding: undefined };
      this.slots.set(frame.cameraId, slot);
    }
    if (slot.latest) releaseFrame(slot.latest);
    slot.latest = frame;
    slot.latestAtMs = this.now();
  };

  /** Forget a camera (removed from the config). */
  forget(cameraId: string): void {
    const slot = this.slots.get(cameraId);
    if (slot?.latest) releaseFrame(slot.latest);
    this.slots.delete(cameraId);
  }

  /** The newest frame of a camera as JPEG, encoded at most once per interval. */
  async latest(cameraId: string): Promise<LiveFrameResult> {
    const slot = this.slots.get(cameraId);
    if (!slot?.latest) return { ok: false, reason: 'no-frame', message: `camera ${cameraId} has not delivered a frame yet` };
    const t = this.now();
    if (t - slot.latestAtMs > this.staleMs) return { ok: false, reason: 'stale', message: `camera ${cameraId} has delivered no frame for ${Math.round((t - slot.latestAtMs) / 1000)} s` };
    if (slot.encoded && (t - slot.encodedAtMs < this.minIntervalMs || slot.encoded.seq === slot.latest.seq)) return { ok: true, frame: slot.encoded };
    if (!slot.encoding) {
      const frame = slot.latest;
      slot.encodedAtMs = t;
      // The encode reads the pixels on sharp's threads while newer frames replace this one: its own hold.
      const held = holdFrame(frame);
      slot.encoding = this.encode(frame).finally(() => {
        if (held) releaseFrame(frame);
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
