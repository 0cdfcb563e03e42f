/**
 * Camera ingestion: GStreamer pipelines (RTSP / file / test) as RxJS Observables of RGB frames,
 * with watchdog, reconnect with backoff, typed health and flow control.
 */
export { openCamera, cameraFrames, isFrameOutput, isHealthOutput, type Camera, type CameraOptions, type CameraOutput } from './camera.ts';
export { stillThroughPipeline } from './still.ts';
export { FramePairer, pairKey, type Pair } from './pair.ts';
export { probeCamera, type ProbeOptions, type ProbeResult } from './probe.ts';
export { buildPipeline, DETECT_VIEW_FD, describeArgv, encodeUserinfo, tokenizeLaunch, elementsOf, PipelineConfigError, type PipelineDescription } from './pipeline.ts';
export { GdpParser, GdpProtocolError, encodeGdpPacket, gdpCrc, type GdpPacket } from './gdp.ts';
export { parseVideoCaps, assembleRgbImage, rgbStride, droppedBetween, expectedIntervalNs, missedBetween } from './frame.ts';
export { classifyExit, classifySpawnError, refineConnectFailure, scrubSecrets, type PipelineExit } from './failure.ts';
export { secretStringsOf } from '../redact.ts';
export { GstLaunchSource, launchPlan, type LaunchPlan, type Source, type SourceEvent, type SourceRunOptions } from './source.ts';
export { isProcessRunning, ownedChildPids, childrenDieWithParent } from './children.ts';
export * from './types.ts';
