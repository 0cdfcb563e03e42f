/** Caps parsing and frame assembly: pure, sync. */
import type { RgbImage } from '../types.ts';
import type { VideoCaps } from './types.ts';

/** GStreamer's default row stride for packed RGB: width*3 rounded up to 4 bytes. */
export function rgbStride(width: number): number {
  return (width * 3 + 3) & ~3;
}

function capsField(caps: string, name: string): string | undefined {
  // Fields look like `width=(int)640` or `format=RGB` (typed or untyped).
  const m = new RegExp(`(?:^|[,\\s])${name}=(?:\\([a-z0-9]+\\))?("?)([^,;"]*)\\1`, 'i').exec(caps);
  return m ? m[2].trim() : undefined;
}

/**
 * Parse the caps string gdppay sends (`video/x-raw, width=(int)640, ..., format=(string)RGB`).
 * Returns an error message instead of throwing: callers report it as a health value.
 */
export function parseVideoCaps(caps: string): VideoCaps | { error: string } {
  const media = caps.split(/[,;]/, 1)[0].trim();
  if (media !== 'video/x-raw') return { error: `expected raw video caps, got "${media}"` };
  if (/video\/x-raw\(/.test(caps)) return { error: 'caps carry a memory feature (not system memory)' };
  const format = capsField(caps, 'format');
  if (format !== 'RGB') return { error: `expected format RGB, got ${format ?? 'none'}` };
  const width = Number(capsField(caps, 'width'));
  const height = Number(capsField(caps, 'height'));
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    return { error: `caps without a usable size: ${caps}` };
  }
  let fps: number | undefined;
  const rate = capsField(caps, 'framerate');
  if (rate) {
    const [n, d] = rate.split('/').map(Number);
    if (n > 0 && d > 0) fps = n / d;
  }
  return { format: 'RGB', width, height, fps, stride: rgbStride(width) };
}

export function isVideoCaps(v: VideoCaps | { error: string }): v is VideoCaps {
  return !('error' in v);
}

/** Bytes GStreamer sends per frame for these caps. */
export function framePayloadSize(caps: VideoCaps): number {
  return caps.stride * caps.height;
}

/** True when rows carry no padding, so the payload can be the frame's pixels as is. */
export function isPacked(caps: VideoCaps): boolean {
  return caps.stride === caps.width * 3;
}

/**
 * Turn a GStreamer buffer into a packed RgbImage (the shared type has no row padding).
 * Packed payloads are used as they are (no copy); padded rows are copied into `out`
 * (allocated when not given). Returns an error message when the size does not match the caps.
 */
export function assembleRgbImage(payload: Uint8Array, caps: VideoCaps, out?: Uint8Array): RgbImage | { error: string } {
  const expected = framePayloadSize(caps);
  if (payload.length !== expected) {
    return { error: `buffer of ${payload.length} bytes, caps ${caps.width}x${caps.height} RGB need ${expected}` };
  }
  const row = caps.width * 3;
  if (caps.stride === row) return { data: payload, width: caps.width, height: caps.height };
  const data = out && out.length >= row * caps.height ? out.subarray(0, row * caps.height) : new Uint8Array(row * caps.height);
  for (let y = 0; y < caps.height; y++) {
    data.set(payload.subarray(y * caps.stride, y * caps.stride + row), y * row);
  }
  return { data, width: caps.width, height: caps.height };
}

/**
 * Frames GStreamer dropped between two delivered buffers, from videorate's buffer offsets
 * (a frame counter). Unknown offsets or a counter that went backwards (new segment) count 0.
 */
export function droppedBetween(previousOffset: number | undefined, offset: number | undefined): number {
  if (previousOffset === undefined || offset === undefined) return 0;
  const gap = offset - previousOffset - 1;
  return gap > 0 ? gap : 0;
}

/**
 * Nominal ns between delivered frames: 1 / min(stream fps, output fps cap). Undefined when
 * neither is known (variable-rate caps and no cap).
 */
export function expectedIntervalNs(capsFps: number | undefined, maxFps: number | undefined): number | undefined {
  const fps = [capsFps, maxFps].filter((f): f is number => f !== undefined && Number.isFinite(f) && f > 0);
  if (fps.length === 0) return undefined;
  return 1e9 / Math.min(...fps);
}

/**
 * Frames missing between two delivered frames, judged by their PTS: a gap of more than 1.75
 * nominal intervals counts round(gap / interval) - 1 frames (one lost frame leaves a gap of 2).
 * Jitter below that, unknown PTS or interval, and time going backwards (a new segment) count 0;
 * so does a cap just under the camera's rate (25 -> 20 fps keeps 4 frames of 5: steps of 1.6
 * intervals).
 *
 * Where the stream is faster than the output cap (`sourceIntervalNs` known and shorter than the
 * interval), videorate keeps one source frame per output slot, and a source frame's timestamp a
 * fraction of a millisecond either side of a slot (arrival-time jitter in rtspsrc) moves the pick
 * by one source frame: gaps of interval + one source interval occur without any frame lost. So a
 * decimated stream counts round((gap - source interval) / interval) - 1. Pure.
 */
export function missedBetween(previousPts: number | undefined, pts: number | undefined, intervalNs: number | undefined, sourceIntervalNs?: number): number {
  if (previousPts === undefined || pts === undefined || intervalNs === undefined || !(intervalNs > 0)) return 0;
  const gap = pts - previousPts;
  const slip = sourceIntervalNs !== undefined && sourceIntervalNs > 0 && sourceIntervalNs < 0.95 * intervalNs ? sourceIntervalNs : 0;
  if (slip > 0) return Math.max(0, Math.round((gap - slip) / intervalNs) - 1);
  if (!(gap > 1.75 * intervalNs)) return 0;
  return Math.max(0, Math.round(gap / intervalNs) - 1);
}

/**
 * A stream's source frame interval from the timestamps of its access units as they arrive (decode
 * order): the smallest positive step among the last `window` units. With B-frames decode order
 * jumps back and forth, but some step is always one frame. Undefined until two units are seen.
 */
export class SourceCadence {
  private readonly steps: number[] = [];
  private last: number | undefined;
  constructor(private readonly window = 32) {}

  push(pts: number | undefined): void {
    if (pts === undefined) return;
    if (this.last !== undefined && pts > this.last) {
      this.steps.push(pts - this.last);
      if (this.steps.length > this.window) this.steps.shift();
    }
    this.last = pts;
  }

  get intervalNs(): number | undefined {
    return this.steps.length > 0 ? Math.min(...this.steps) : undefined;
  }
}
