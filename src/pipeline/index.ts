/**
 * The pipeline's vocabulary: the item union every stage's output becomes, item -> event, the gate
 * stage, and publishEvents (log, then publish). Stages know nothing of it; streams/ composes it.
 */
export { cameraItem, trackItem, recognitionItem, gateItem, actuationItem, stageErrorItem, type PipelineItem, type PipelineItemOf, type PipelineKind, type PipelineStage, type StageFailure } from './items.ts';
export { eventFromGate, eventFromRecognition, eventFromTrack, eventFromCameraHealth, eventFromActuation, eventFromStageFailure, type RecognitionEventInput } from './to-event.ts';
export { publishEvents, STAGE_ERROR_WINDOW_MS, type PublishEventsOptions } from './publish.ts';
export { decideGates, gateInputOf, type DecideGatesOptions, type ZonesOfRecognition } from './gate-stage.ts';
export { cameraChain, withTrackEvents, newCameraCounters, sameCamera, type CameraSlot, type CameraCounters, type SharedModels, type RecognitionSettings } from './camera-chain.ts';
