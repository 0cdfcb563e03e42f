/** Shared domain types. Stages import these and each other's public index.ts only. */

/** A decoded image in memory: packed RGB, 8 bits per channel, row-major, no row padding. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A point in original-image pixel coordinates. */
export type Point = readonly [x: number, y: number];

/** [x1, y1, x2, y2] in original-image pixel coordinates. */
export type Box = readonly [x1: number, y1: number, x2: number, y2: number];

/** Five landmarks in SCRFD/ArcFace order: left eye, right eye, nose, left mouth, right mouth (as seen in the image). */
export type Landmarks = readonly [Point, Point, Point, Point, Point];

export interface Face {
  readonly box: Box;
  readonly score: number;
  readonly landmarks: Landmarks;
}

/** Pixel formats a Frame can carry across the pipe from GStreamer. Only packed RGB for now. */
export type PixelFormat = 'RGB';

/**
 * One decoded video frame from a camera, already converted to RGB by GStreamer.
 * `seq` increases by one per delivered frame of a pipeline run (frames dropped before JS are
 * counted separately); `pts` is the pipeline timestamp in ns when known; `capturedAt` is the
 * wall-clock ms (Date.now()) when the frame arrived in Node.
 */
export interface Frame extends RgbImage {
  readonly cameraId: string;
  readonly seq: number;
  readonly pts: number | undefined;
  readonly capturedAt: number;
  readonly format: PixelFormat;
  /**
   * The same frame scaled in GStreamer to the detector's input size (long side = detector size,
   * aspect kept), when the camera has `detectScale` on. The detector runs on it and maps faces
   * back to this frame's coordinates; everything else (recognition, snapshots, live view) uses
   * the full-resolution frame.
   */
  readonly detectView?: RgbImage;
  /**
   * Who still reads this frame's pixels, when its memory comes from the camera's pool and is
   * reused once every hold is given back (src/lib/frame-lease.ts). Absent: fresh memory that the
   * garbage collector frees.
   */
  readonly lease?: FrameLease;
}

/** Holds on a pooled frame's pixels: the frame starts with one, owned by whoever has the frame. */
export interface FrameLease {
  /** One more hold; false when every hold is already gone (the pixels may be another frame's now). */
  retain(): boolean;
  /** Give one hold back; the last one returns the memory to the pool. */
  release(): void;
  /** True while some hold is out. */
  readonly held: boolean;
}

/**
 * An event type pattern as filters, sinks and the fleet take it: a type ('gate.denied',
 * 'door.held_open'), a family ('gate.*') or '*'. Lower-case words, underscores inside a word.
 */
export const EVENT_TYPE_PATTERN = /^(\*|[a-z]+(_[a-z]+)*(\.[a-z]+(_[a-z]+)*)*(\.\*)?)$/;
