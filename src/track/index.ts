/** Public surface of the track stage. Other stages import from here only. */
export type { Matrix } from './matrix.ts';
export {
  matAdd,
  matCreate,
  matDiag,
  matFromRows,
  matGet,
  matIdentity,
  matInverse,
  matMultiply,
  matMulVec,
  matSub,
  matToRows,
  matTranspose,
} from './matrix.ts';
export type { KalmanParams, KalmanProjection, KalmanState } from './kalman.ts';
export {
  boxToMeasurement,
  DEFAULT_KALMAN_PARAMS,
  kalmanInitiate,
  kalmanPredict,
  kalmanProject,
  kalmanUpdate,
  MEASUREMENT_DIM,
  measurementToBox,
  STATE_DIM,
} from './kalman.ts';
export { iou, iouCostMatrix, iouMatrix } from './iou.ts';
export type { AssignmentResult } from './assignment.ts';
export { linearAssignment, solveAssignment } from './assignment.ts';
export type {
  TrackEndedEvent,
  TrackEndReason,
  TrackerOptions,
  TrackerParams,
  TrackEvent,
  TrackEventType,
  TrackStartedEvent,
  TrackState,
  TrackStep,
  TrackUpdate,
  TrackUpdatedEvent,
  TrackView,
} from './model.ts';
export { DEFAULT_TRACKER_PARAMS } from './model.ts';
export type { Tracker } from './tracker.ts';
export { createTracker, resolveTrackerParams } from './tracker.ts';
export type { GroundTruthBox, GroundTruthMatches, PredictedBox } from './metrics.ts';
export { countIdSwitches, matchGroundTruth } from './metrics.ts';
export type { FrameFacesLike, FrameInfo, FrameTrackStep, TrackFacesOptions, TrackFlush, TrackOutput } from './operator.ts';
export { trackFaces } from './operator.ts';
