/**
 * ByteTrack-style multi-face tracker for one camera: pure and synchronous. The caller passes each
 * frame's detections and its time; the tracker never reads a clock, does no I/O and never logs.
 *
 * Per frame (ByteTrack, Zhang et al. 2022):
 *  1. predict every track one frame ahead (Kalman, constant velocity);
 *  2. match high-score detections to confirmed + lost tracks (1 - IoU, Hungarian);
 *  3. match low-score detections to confirmed tracks still unmatched: a blurred or half-occluded
 *     face scores low, and dropping it would break the track exactly when it matters;
 *     confirmed tracks still unmatched become lost;
 *  4. match remaining high detections to tentative tracks; unmatched tentatives die;
 *  5. remaining high detections start tentative tracks;
 *  6. remove lost tracks that are too old or that duplicate a visible track.
 */
import { FacegateError } from '../errors.ts';
import type { Box, Face } from '../types.ts';
import { linearAssignment } from './assignment.ts';
import { iou, iouCostMatrix } from './iou.ts';
import { boxToMeasurement, type KalmanState, kalmanInitiate, kalmanPredict, kalmanUpdate, measurementToBox } from './kalman.ts';
import {
  DEFAULT_TRACKER_PARAMS,
  type TrackEndReason,
  type TrackEndedEvent,
  type TrackEvent,
  type TrackerOptions,
  type TrackerParams,
  type TrackState,
  type TrackStep,
  type TrackView,
} from './model.ts';

export interface Tracker {
  readonly cameraId: string;
  readonly params: Readonly<TrackerParams>;
  /** Advance one frame. `timeMs` is the frame's capture time; frames must come in order. */
  update(faces: readonly Face[], timeMs: number): TrackStep;
  /**
   * Advance one frame on which no detection ran: every track moves one Kalman step (so velocities
   * stay per frame whatever the detection interval), nothing is matched, started, lost or removed.
   * The step has `predicted: true` and no events.
   */
  predict(timeMs: number): TrackStep;
  /**
   * End every started track (confirmed or lost) with reason 'flush' and forget all state except the
   * id counter, so ids never repeat. `timeMs` defaults to the last frame's time.
   */
  flush(timeMs?: number): TrackEndedEvent[];
  /** Confirmed and lost tracks as of the last frame, in trackId number order. */
  liveTracks(): TrackView[];
}

interface TrackRecord {
  /** Public id number, 0 while tentative. */
  number: number;
  trackId: string;
  state: TrackState;
  kalman: KalmanState;
  face: Face;
  hits: number;
  firstFrame: number;
  lastMatchedFrame: number;
  firstSeenAt: number;
  lastSeenAt: number;
  /** timeMs of the last track.started / track.updated, for throttling. */
  lastEventAt: number;
}

function checkParam(ok: boolean, name: string, value: number, rule: string): void {
  if (!ok) {
    throw new FacegateError('BAD_ARGUMENT', `tracker option ${name} = ${value} is invalid: it must be ${rule}`, {
      context: { option: name, value },
      hint: `set ${name} to ${rule}, or leave it out for the default`,
    });
  }
}

/** Defaults merged with `overrides`, validated; throws a BAD_ARGUMENT FacegateError on a bad value. */
export function resolveTrackerParams(overrides: Partial<TrackerParams> = {}): Readonly<TrackerParams> {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<TrackerParams>;
  const p: TrackerParams = {
    ...DEFAULT_TRACKER_PARAMS,
    ...defined,
    kalman: { ...DEFAULT_TRACKER_PARAMS.kalman, ...defined.kalman },
  };
  const finite = Number.isFinite;
  checkParam(finite(p.highThresh), 'highThresh', p.highThresh, 'a finite number');
  checkParam(finite(p.lowThresh) && p.lowThresh <= p.highThresh, 'lowThresh', p.lowThresh, 'a finite number <= highThresh');
  checkParam(finite(p.newTrackThresh), 'newTrackThresh', p.newTrackThresh, 'a finite number');
  // IoU 0 as a minimum would let disjoint boxes match, hence the open lower bound.
  for (const name of ['highMinIou', 'lowMinIou', 'tentativeMinIou', 'duplicateIou'] as const) {
    checkParam(p[name] > 0 && p[name] <= 1, name, p[name], 'in (0, 1]');
  }
  checkParam(Number.isInteger(p.minHits) && p.minHits >= 1, 'minHits', p.minHits, 'an integer >= 1');
  checkParam(Number.isInteger(p.maxLostFrames) && p.maxLostFrames >= 0, 'maxLostFrames', p.maxLostFrames, 'an integer >= 0');
  checkParam(p.maxLostMs >= 0, 'maxLostMs', p.maxLostMs, '>= 0 (Infinity disables it)');
  checkParam(finite(p.updateIntervalMs) && p.updateIntervalMs >= 0, 'updateIntervalMs', p.updateIntervalMs, 'a finite number >= 0');
  checkParam(p.kalman.stdWeightPosition > 0 && finite(p.kalman.stdWeightPosition), 'kalman.stdWeightPosition', p.kalman.stdWeightPosition, 'a finite number > 0');
  checkParam(p.kalman.stdWeightVelocity > 0 && finite(p.kalman.stdWeightVelocity), 'kalman.stdWeightVelocity', p.kalman.stdWeightVelocity, 'a finite number > 0');
  return Object.freeze(p);
}

/** A detection the tracker can use: finite score and a box with positive width and height. */
function isTrackable(face: Face): boolean {
  const [x1, y1, x2, y2] = face.box;
  return Number.isFinite(face.score) && [x1, y1, x2, y2].every(Number.isFinite) && x2 > x1 && y2 > y1;
}

function byNumber(a: TrackRecord, b: TrackRecord): number {
  return a.number - b.number;
}

export function createTracker(options: TrackerOptions): Tracker {
  const { cameraId, ...overrides } = options;
  const params = resolveTrackerParams(overrides);
  const kp = params.kalman;

  let tracks: TrackRecord[] = [];
  let frameIndex = 0;
  let lastTimeMs = 0;
  let nextNumber = 1;

  function predictedBox(t: TrackRecord): Box {
    return measurementToBox(t.kalman.mean);
  }

  function view(t: TrackRecord): TrackView {
    return {
      trackId: t.trackId,
      cameraId,
      state: t.state,
      face: t.face,
      box: predictedBox(t),
      hits: t.hits,
      ageFrames: frameIndex - t.firstFrame + 1,
      lostFrames: frameIndex - t.lastMatchedFrame,
      firstSeenAt: t.firstSeenAt,
      lastSeenAt: t.lastSeenAt,
    };
  }

  function ended(t: TrackRecord, reason: TrackEndReason, timeMs: number): TrackEndedEvent {
    t.state = 'removed';
    return {
      type: 'track.ended',
      cameraId,
      trackId: t.trackId,
      timeMs,
      reason,
      durationMs: t.lastSeenAt - t.firstSeenAt,
      frameCount: t.hits,
      track: view(t),
    };
  }

  function confirm(t: TrackRecord): void {
    t.state = 'confirmed';
    t.number = nextNumber++;
    t.trackId = `${cameraId}:${t.number}`;
  }

  function match(t: TrackRecord, face: Face, timeMs: number): void {
    t.kalman = kalmanUpdate(t.kalman, boxToMeasurement(face.box), kp);
    t.face = face;
    t.hits++;
    t.lastMatchedFrame = frameIndex;
    t.lastSeenAt = timeMs;
    if (t.state === 'lost') t.state = 'confirmed';
  }

  /** Gated 1 - IoU assignment of `dets` to `candidates`; applies the matches, returns what is left. */
  function associate(
    candidates: readonly TrackRecord[],
    dets: readonly Face[],
    minIou: number,
    timeMs: number,
  ): { tracks: TrackRecord[]; dets: Face[] } {
    const cost = iouCostMatrix(candidates.map(predictedBox), dets.map((d) => d.box));
    // A track not matched on the previous frame (frames skipped by a detection interval, or lost)
    // has been carried on its velocity blind: someone who stopped meanwhile is still where they
    // were last seen, far from the prediction. Such a track takes the better of the two overlaps,
    // so stopping during skipped frames does not split it into a new track.
    for (let r = 0; r < candidates.length; r++) {
      const t = candidates[r];
      if (frameIndex - t.lastMatchedFrame <= 1) continue;
      for (let c = 0; c < dets.length; c++) cost.data[r * dets.length + c] = Math.min(cost.data[r * dets.length + c], 1 - iou(t.face.box, dets[c].box));
    }
    const result = linearAssignment(cost, 1 - minIou);
    for (const [r, c] of result.matches) match(candidates[r], dets[c], timeMs);
    return { tracks: result.unmatchedRows.map((r) => candidates[r]), dets: result.unmatchedCols.map((c) => dets[c]) };
  }

  /** A lost track keeps drifting along its last velocity (that is what lets it be found again
   * after an occlusion) but not growing or shrinking: ByteTrack zeroes vh there. */
  function predictAll(): void {
    for (const t of tracks) {
      if (t.state === 'lost') {
        const mean = Float64Array.from(t.kalman.mean);
        mean[7] = 0;
        t.kalman = kalmanPredict({ mean, covariance: t.kalman.covariance }, kp);
      } else {
        t.kalman = kalmanPredict(t.kalman, kp);
      }
    }
  }

  const countOf = (state: TrackState): number => tracks.filter((t) => t.state === state).length;

  function predict(timeMs: number): TrackStep {
    frameIndex++;
    lastTimeMs = timeMs;
    predictAll();
    const visible = tracks.filter((t) => t.state === 'confirmed').sort(byNumber);
    return { update: { cameraId, frameIndex, timeMs, tracks: visible.map(view), tentative: countOf('tentative'), lost: countOf('lost'), predicted: true }, events: [] };
  }

  function update(faces: readonly Face[], timeMs: number): TrackStep {
    frameIndex++;
    lastTimeMs = timeMs;
    const usable = faces.filter(isTrackable);
    const high = usable.filter((f) => f.score >= params.highThresh);
    const low = usable.filter((f) => f.score >= params.lowThresh && f.score < params.highThresh);

    // 1. Predict.
    predictAll();
    const pool = tracks.filter((t) => t.state === 'confirmed' || t.state === 'lost').sort(byNumber);
    const tentative = tracks.filter((t) => t.state === 'tentative');

    // 2. High detections vs every started track.
    const first = associate(pool, high, params.highMinIou, timeMs);
    // 3. Low detections only keep alive tracks that were visible last frame: a lost track has
    // no recent evidence, and a low score alone is too weak to bring it back.
    const second = associate(
      first.tracks.filter((t) => t.state === 'confirmed'),
      low,
      params.lowMinIou,
      timeMs,
    );
    for (const t of second.tracks) t.state = 'lost';

    // 4. Tentative tracks need consecutive matches: one miss and they are dropped silently.
    const started: TrackRecord[] = [];
    const third = associate(tentative, first.dets, params.tentativeMinIou, timeMs);
    for (const t of tentative) {
      if (t.lastMatchedFrame !== frameIndex) t.state = 'removed';
      else if (t.hits >= params.minHits) {
        confirm(t);
        started.push(t);
      }
    }

    // 5. New tracks. On the very first frame there is no history to wait for, so a confident
    // detection is trusted at once (ByteTrack); otherwise minHits applies.
    for (const face of third.dets) {
      const t: TrackRecord = {
        number: 0,
        trackId: '',
        state: 'tentative',
        kalman: kalmanInitiate(boxToMeasurement(face.box), kp),
        face,
        hits: 1,
        firstFrame: frameIndex,
        lastMatchedFrame: frameIndex,
        firstSeenAt: timeMs,
        lastSeenAt: timeMs,
        lastEventAt: timeMs,
      };
      tracks.push(t);
      if (params.minHits <= 1 || (frameIndex === 1 && face.score >= params.newTrackThresh)) {
        confirm(t);
        started.push(t);
      }
    }

    // 6. Removal.
    const endedEvents: TrackEndedEvent[] = [];
    const visible = tracks.filter((t) => t.state === 'confirmed').sort(byNumber);
    for (const t of tracks.filter((x) => x.state === 'lost').sort(byNumber)) {
      const lostFrames = frameIndex - t.lastMatchedFrame;
      if (lostFrames > params.maxLostFrames || timeMs - t.lastSeenAt > params.maxLostMs) {
        endedEvents.push(ended(t, 'lost', timeMs));
      } else {
        // A lost track parked on a visible face could steal that face's detection next frame
        // (an ID switch); the visible track is the one with current evidence, so it wins.
        const box = predictedBox(t);
        if (visible.some((v) => iou(box, predictedBox(v)) >= params.duplicateIou)) {
          endedEvents.push(ended(t, 'duplicate', timeMs));
        }
      }
    }
    tracks = tracks.filter((t) => t.state !== 'removed');

    const events: TrackEvent[] = [];
    for (const t of started.sort(byNumber)) {
      t.lastEventAt = timeMs;
      events.push({ type: 'track.started', cameraId, trackId: t.trackId, timeMs, track: view(t) });
    }
    for (const t of visible) {
      if (started.includes(t)) continue;
      const since = timeMs - t.lastEventAt;
      // since < 0: the clock stepped back (camera restart); emit rather than go quiet for ages.
      if (since >= params.updateIntervalMs || since < 0) {
        t.lastEventAt = timeMs;
        events.push({ type: 'track.updated', cameraId, trackId: t.trackId, timeMs, track: view(t) });
      }
    }
    events.push(...endedEvents);

    return {
      update: { cameraId, frameIndex, timeMs, tracks: visible.map(view), tentative: countOf('tentative'), lost: countOf('lost'), predicted: false },
      events,
    };
  }

  function flush(timeMs: number = lastTimeMs): TrackEndedEvent[] {
    const live = tracks.filter((t) => t.state === 'confirmed' || t.state === 'lost').sort(byNumber);
    const events = live.map((t) => ended(t, 'flush', timeMs));
    tracks = [];
    return events;
  }

  function liveTracks(): TrackView[] {
    return tracks
      .filter((t) => t.state === 'confirmed' || t.state === 'lost')
      .sort(byNumber)
      .map(view);
  }

  return { cameraId, params, update, predict, flush, liveTracks };
}
