import type { OperatorFunction } from 'rxjs';
import { releaseFrame } from '../lib/frame-lease.ts';
import { latestWins } from '../lib/latest-wins.ts';
import type { Face, Frame } from '../types.ts';
import type { Detector } from './detector.ts';

/** A frame with the faces found in it: what the detect stage emits. */
export interface FrameFaces {
  readonly frame: Frame;
  readonly faces: Face[];
  /** Wall time the detector spent on this frame (ms). */
  readonly detectMs: number;
  /** True when the gate let this frame pass without a detector run: `faces` is empty because nobody looked. */
  readonly skipped?: boolean;
}

/** Detect-stage counters, shared with metrics. */
export interface DetectStats {
  processed: number;
  /** Frames that arrived while the detector was busy and were replaced by a newer one. */
  dropped: number;
  errors: number;
  /** Frames the gate passed on without a detector run (absent: no gate). */
  skipped?: number;
}

export interface DetectFacesOptions {
  readonly stats?: DetectStats;
  /** Called for a frame whose detection failed; the stream goes on with the next frame. */
  readonly onError?: (error: unknown, frame: Frame) => void;
  /**
   * Asked for each frame as it is taken (after the previous run's result went downstream, so it
   * sees the tracker's state as of that frame): false passes the frame on with `skipped: true` and
   * no detector run. Frames dropped by latest-wins are never asked.
   */
  readonly gate?: (frame: Frame) => boolean;
}

/**
 * Run the detector on a live frame stream, latest frame wins: while a detection runs, newer frames
 * replace the waiting one (counted as dropped) so a slow model never builds a queue. A failed run
 * is reported through onError and skipped, never thrown across stages.
 *
 * A frame's hold (src/lib/frame-lease.ts) goes on with its FrameFaces; a frame that goes no further
 * (dropped, or its run failed) is released here.
 */
export function detectFaces(detector: Detector, opts: DetectFacesOptions = {}): OperatorFunction<Frame, FrameFaces> {
  const stats = opts.stats ?? { processed: 0, dropped: 0, errors: 0 };
  return latestWins(
    async (frame: Frame): Promise<FrameFaces> => {
      if (opts.gate && !opts.gate(frame)) {
        stats.skipped = (stats.skipped ?? 0) + 1;
        return { frame, faces: [], detectMs: 0, skipped: true };
      }
      const t0 = performance.now();
      const faces = await detector.detect(frame);
      stats.processed++;
      return { frame, faces, detectMs: performance.now() - t0 };
    },
    {
      onDrop: (frame) => {
        stats.dropped++;
        releaseFrame(frame);
      },
      onError: (error, frame) => {
        stats.errors++;
        opts.onError?.(error, frame);
        releaseFrame(frame);
      },
    },
  );
}
