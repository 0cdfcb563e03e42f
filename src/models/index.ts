export { loadManifest, findModel, parseManifest, mergeManifests, PROJECT_MODELS_DIR, type Manifest, type ModelEntry, type ModelRole, type ModelInputSpec, type ModelThresholds, type DerivedModelSpec, type LivenessThresholdEntry, livenessSetKey } from './manifest.ts';
export { resolveModel, candidatePaths, materializeDerived, derivedOutputDirs, SHARED_MODELS_DIR, SERVICE_RESOLVE_OPTIONS, type ResolvedModel, type ResolveOptions, type VerifyMode } from './resolve.ts';
export { downloadModel, type DownloadOptions, type DownloadProgress, type DownloadResult } from './download.ts';
export { sha256File, VerdictCache } from './verify.ts';
export { bindingDir, createSession, openSession, createModelSession, openModelSession, defaultSessionThread, providerChoice, providerMissing, sessionProvider, EXECUTION_PROVIDERS, type ExecutionProvider, type ProviderChoice, type ProviderSpec, type SessionOptions, type ModelSession, type SessionThread } from './session.ts';
export { dequantizeOnnx, dequantizeWeights, type DequantizeResult } from './dequantize.ts';
export { calibratedLivenessThreshold, calibratedThresholds, calibrationPath, readCalibration, writeCalibration, type CalibratedLivenessThreshold, type CalibratedThresholds, type CalibrationEntry, type CalibrationFile, type LivenessCalibrationEntry, type ThresholdOptions } from './calibration.ts';
