import { Observable, type OperatorFunction } from 'rxjs';
import type { Face, Frame } from '../types.ts';
import type { Detector } from './detector.ts';

/** A frame with the faces found in it: what the detect stage emits. */
export interface FrameFaces {
  readonly frame: Frame;
  readonly faces: Face[];
  /** Wall time the detector spent on this frame (ms). */
  readonly detectMs: number;
}

/** Detect-stage counters, shared with metrics. */
export interface DetectStats {
  processed: number;
  /** Frames that arrived while the detector was busy and were replaced by a newer one. */
  dropped: number;
  errors: number;
}

export interface DetectFacesOptions {
  readonly stats?: DetectStats;
  /** Called for a frame whose detection failed; the stream goes on with the next frame. */
  readonly onError?: (error: unknown, frame: Frame) => void;
}

/**
 * Run the detector on a live frame stream, latest frame wins: while a detection runs, newer frames
 * replace the waiting one (counted as dropped) so a slow model never builds a queue. A failed run
 * is reported through onError and skipped, never thrown across stages.
 */
export function detectFaces(detector: Detector, opts: DetectFacesOptions = {}): OperatorFunction<Frame, FrameFaces> {
  const stats = opts.stats ?? { processed: 0, dropped: 0, errors: 0 };
  return (source) =>
    new Observable<FrameFaces>((subscriber) => {
      let pending: Frame | undefined;
      let running = false;
      let completed = false;
      let closed = false;

      const pump = (): void => {
        if (running || closed) return;
        const frame = pending;
        if (!frame) {
          if (completed) subscriber.complete();
          return;
        }
        pending = undefined;
        running = true;
        const t0 = performance.now();
        detector.detect(frame).then(
          (faces) => {
            running = false;
            stats.processed++;
            if (!closed) subscriber.next({ frame, faces, detectMs: performance.now() - t0 });
            pump();
          },
          (error: unknown) => {
            running = false;
            stats.errors++;
            opts.onError?.(error, frame);
            pump();
          },
        );
      };

      const sub = source.subscribe({
        next: (frame) => {
          if (pending) stats.dropped++;
          pending = frame;
          pump();
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          completed = true;
          pump();
        },
      });
      return () => {
        closed = true;
        sub.unsubscribe();
      };
    });
}
