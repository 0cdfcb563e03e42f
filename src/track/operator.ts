/**
 * trackFaces: the RxJS face of the pure tracker. Holds one Tracker per camera (a stream may
 * interleave cameras), feeds it each frame's faces with the frame's capture time, and on the
 * end of the source ends every live track so downstream per-track state is released.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Face } from '../types.ts';
import type { TrackEndedEvent, TrackerParams, TrackStep } from './model.ts';
import { createTracker, resolveTrackerParams, type Tracker } from './tracker.ts';

/** What the tracker needs of a frame; a full `Frame` (with pixels) fits and is passed through. */
export interface FrameInfo {
  readonly cameraId: string;
  readonly seq: number;
  /** Wall-clock ms the frame arrived; the tracker's time base. */
  readonly capturedAt: number;
  readonly width: number;
  readonly height: number;
}

/** Input of trackFaces, structurally compatible with the detect stage's FrameFaces. */
export interface FrameFacesLike<F extends FrameInfo = FrameInfo> {
  readonly frame: F;
  readonly faces: readonly Face[];
  /**
   * True when no detection ran on this frame (a detection gate skipped it): the tracker only
   * predicts (`Tracker.predict`), so an empty `faces` does not turn live tracks into lost ones.
   */
  readonly skipped?: boolean;
}

/** One tracked frame: the input frame object itself (same reference) plus the tracker's step. */
export interface FrameTrackStep<F extends FrameInfo = FrameInfo> extends TrackStep {
  readonly kind: 'frame';
  readonly frame: F;
}

/** Emitted once per camera with live tracks when the source ends (completes or errors). */
export interface TrackFlush {
  readonly kind: 'flush';
  readonly cameraId: string;
  /** The camera's last frame time: the pure core has no clock to ask. */
  readonly timeMs: number;
  readonly events: readonly TrackEndedEvent[];
}

export type TrackOutput<F extends FrameInfo = FrameInfo> = FrameTrackStep<F> | TrackFlush;

export type TrackFacesOptions = Partial<TrackerParams>;

export function trackFaces<F extends FrameInfo>(
  options: TrackFacesOptions = {},
): OperatorFunction<FrameFacesLike<F>, TrackOutput<F>> {
  // Validate once, at composition time, so a bad config fails before any camera starts.
  const params = resolveTrackerParams(options);
  return (source) =>
    new Observable<TrackOutput<F>>((subscriber) => {
      const trackers = new Map<string, Tracker>();

      const flushAll = (): void => {
        for (const tracker of trackers.values()) {
          const events = tracker.flush();
          if (events.length > 0) {
            subscriber.next({ kind: 'flush', cameraId: tracker.cameraId, timeMs: events[0].timeMs, events });
          }
        }
        trackers.clear();
      };

      const subscription = source.subscribe({
        next: ({ frame, faces, skipped }) => {
          let tracker = trackers.get(frame.cameraId);
          if (tracker === undefined) {
            tracker = createTracker({ ...params, cameraId: frame.cameraId });
            trackers.set(frame.cameraId, tracker);
          }
          let step: TrackStep;
          try {
            step = skipped === true ? tracker.predict(frame.capturedAt) : tracker.update(faces, frame.capturedAt);
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.next({ kind: 'frame', frame, update: step.update, events: step.events });
        },
        complete: () => {
          flushAll();
          subscriber.complete();
        },
        error: (err: unknown) => {
          // The tracks did end: say so before the error tears the pipeline down.
          flushAll();
          subscriber.error(err);
        },
      });
      return () => subscription.unsubscribe();
    });
}
