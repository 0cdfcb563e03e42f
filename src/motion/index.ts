/** Public surface of the motion stage. Other stages import from here only. */
export { createMotionDetector, greyThumbnail, medianInPlace, residuals, DEFAULT_MOTION_PARAMS, type GreyImage, type MotionDetector, type MotionParams, type MotionResult } from './motion.ts';
export { decideDetection, DetectionGate, newGateCounts, UNGATED, type DetectionGateSettings, type GateCounts, type GateDecision, type GateInput, type GateReason, type MotionGateSettings, type TrackActivity, type TrackerState } from './gate.ts';
export { DEFAULT_PERSON_ZONE, motionBesideFaces, type MovedCells, type PersonZone } from './beside.ts';
export { observeMotion, reportTracks, type TrackedLike } from './operator.ts';
