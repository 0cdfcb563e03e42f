/** Public data shapes of the track stage: track views, per-frame updates, events, parameters. */
import type { Box, Face } from '../types.ts';
import { DEFAULT_KALMAN_PARAMS, type KalmanParams } from './kalman.ts';

/**
 * tentative: seen, not yet minHits consecutive matches; has no public id and is never output.
 * confirmed: matched in the latest processed frame (visible).
 * lost: confirmed once, unmatched now; kept alive on Kalman prediction for re-association.
 * removed: gone for good (only ever seen in a track.ended event).
 */
export type TrackState = 'tentative' | 'confirmed' | 'lost' | 'removed';

/** Immutable snapshot of one track as of a frame. */
export interface TrackView {
  /**
   * `${cameraId}:${n}`, n = 1, 2, 3... per tracker instance, assigned at confirmation so ids have
   * no gaps from tentative tracks that died. Unique per camera within one process run; the events
   * stage gives events their globally unique, durable ids.
   */
  readonly trackId: string;
  readonly cameraId: string;
  readonly state: TrackState;
  /**
   * The detection last matched to this track, as the detector produced it (box, score,
   * landmarks). Recognition must align on these landmarks, not on the smoothed Kalman box.
   */
  readonly face: Face;
  /** Kalman estimate of the box as of this frame (smoothed when matched, predicted when lost). */
  readonly box: Box;
  /** Frames in which a detection was matched to this track (tentative phase included). */
  readonly hits: number;
  /** Frames processed since the track's first detection, that frame counting as 1. */
  readonly ageFrames: number;
  /** Frames since the last match: 0 when matched in this frame. */
  readonly lostFrames: number;
  /** timeMs of the first matched detection (tentative phase included). */
  readonly firstSeenAt: number;
  /** timeMs of the last matched detection. */
  readonly lastSeenAt: number;
}

/** Per-frame tracker output: every confirmed track matched in this frame. */
export interface TrackUpdate {
  readonly cameraId: string;
  /** 1-based count of frames this tracker has processed. */
  readonly frameIndex: number;
  readonly timeMs: number;
  /** Visible confirmed tracks, in trackId number order. */
  readonly tracks: readonly TrackView[];
  /**
   * Tentative tracks after this frame: faces appearing, not yet confirmed. A detection gate keeps
   * detecting every frame while any exist (confirmation takes consecutive detections).
   */
  readonly tentative: number;
  /** Lost tracks after this frame: confirmed faces not matched lately (occluded, leaving), kept for maxLostMs. */
  readonly lost: number;
  /**
   * True for a predict-only step (`Tracker.predict`: no detection ran on this frame): `tracks` are
   * the confirmed tracks at their Kalman-predicted boxes, their `face` is the last real detection,
   * and nothing was matched, started or ended. Recognition must skip these frames.
   */
  readonly predicted: boolean;
}

export interface TrackStartedEvent {
  readonly type: 'track.started';
  readonly cameraId: string;
  readonly trackId: string;
  readonly timeMs: number;
  readonly track: TrackView;
}

/** Emitted for a visible confirmed track at most once per updateIntervalMs (track.started counts as one). */
export interface TrackUpdatedEvent {
  readonly type: 'track.updated';
  readonly cameraId: string;
  readonly trackId: string;
  readonly timeMs: number;
  readonly track: TrackView;
}

/** lost: unmatched too long. duplicate: a lost track sitting on top of a visible one. flush: the stream ended. */
export type TrackEndReason = 'lost' | 'duplicate' | 'flush';

/** Only tracks that were started end: a tentative track that dies emits nothing. */
export interface TrackEndedEvent {
  readonly type: 'track.ended';
  readonly cameraId: string;
  readonly trackId: string;
  /** When the removal was decided (the frame's time, or the flush time). */
  readonly timeMs: number;
  readonly reason: TrackEndReason;
  /** lastSeenAt - firstSeenAt: how long the face was actually seen. */
  readonly durationMs: number;
  /** Frames with a matched detection (= track.hits). */
  readonly frameCount: number;
  /** Final snapshot, state 'removed'; `face` is the last matched detection. */
  readonly track: TrackView;
}

export type TrackEvent = TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent;
export type TrackEventType = TrackEvent['type'];

export interface TrackStep {
  readonly update: TrackUpdate;
  /** track.started, then track.updated, then track.ended; each group in trackId number order. */
  readonly events: readonly TrackEvent[];
}

/** Every tunable of the tracker. Scores are detector confidences in [0, 1]. */
export interface TrackerParams {
  /** Detections at or above this are "high": they can start tracks and match lost tracks. */
  readonly highThresh: number;
  /** Detections in [lowThresh, highThresh) only extend tracks matched in the previous frame. */
  readonly lowThresh: number;
  /** On a tracker's first frame, a new detection at or above this is confirmed at once. */
  readonly newTrackThresh: number;
  /** Stage 1 (high detections vs confirmed + lost tracks) accepts pairs with IoU >= this. */
  readonly highMinIou: number;
  /** Stage 2 (low detections vs still-unmatched confirmed tracks) accepts pairs with IoU >= this. */
  readonly lowMinIou: number;
  /** Stage 3 (remaining high detections vs tentative tracks) accepts pairs with IoU >= this. */
  readonly tentativeMinIou: number;
  /** Consecutive matched frames that confirm a tentative track (1 = confirm on first sight). */
  readonly minHits: number;
  /** A lost track is removed once unmatched for more than this many frames... */
  readonly maxLostFrames: number;
  /** ...or for more than this many ms, whichever comes first (Infinity disables). */
  readonly maxLostMs: number;
  /** A lost track whose predicted box overlaps a visible track with IoU >= this is removed. */
  readonly duplicateIou: number;
  /** Minimum spacing of track.updated events per track (0 = every matched frame). */
  readonly updateIntervalMs: number;
  readonly kalman: KalmanParams;
}

/**
 * ByteTrack's published defaults (track_thresh 0.5, det_thresh = +0.1, match_thresh 0.8 / 0.5 /
 * 0.7 as costs, track_buffer 30, duplicate IoU 0.85), plus a time cap on lost tracks because the
 * detector drops frames under load and a frame count alone then stretches in time.
 */
export const DEFAULT_TRACKER_PARAMS: Readonly<TrackerParams> = Object.freeze({
  highThresh: 0.5,
  lowThresh: 0.1,
  newTrackThresh: 0.6,
  highMinIou: 0.2,
  lowMinIou: 0.5,
  tentativeMinIou: 0.3,
  minHits: 2,
  maxLostFrames: 30,
  maxLostMs: 2000,
  duplicateIou: 0.85,
  updateIntervalMs: 1000,
  kalman: DEFAULT_KALMAN_PARAMS,
});

export interface TrackerOptions extends Partial<TrackerParams> {
  /** Prefix of every track id and carried on every update and event. */
  readonly cameraId: string;
}
