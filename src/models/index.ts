export { loadManifest, findModel, parseManifest, mergeManifests, PROJECT_MODELS_DIR, type Manifest, type ModelEntry, type ModelRole, type ModelInputSpec } from './manifest.ts';
export { resolveModel, candidatePaths, SHARED_MODELS_DIR, type ResolvedModel, type ResolveOptions } from './resolve.ts';
export { downloadModel, type DownloadOptions, type DownloadProgress, type DownloadResult } from './download.ts';
export { sha256File, VerdictCache } from './verify.ts';
export { createSession, type ExecutionProvider, type SessionOptions } from './session.ts';
