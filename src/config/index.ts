/**
 * Configuration: one YAML file is the source of truth. The zod schema holds every default;
 * parse/load report every problem with its path and a fix; diffConfig and watchConfig let hot
 * reload restart only what changed.
 */
export {
  configSchema,
  configJsonSchema,
  cameraSchema,
  sourceSchema,
  rtspSourceSchema,
  fileSourceSchema,
  testSourceSchema,
  pipelineSourceSchema,
  decoderSchema,
  zoneSchema,
  detectorSettingsSchema,
  serverSchema,
  authSchema,
  tokenSchema,
  modelsSchema,
  recognitionSchema,
  eventsSchema,
  gallerySchema,
  loggingSchema,
  isLoopback,
  crossCheckIssues,
  CONFIG_SECTIONS,
  type Config,
  type ConfigInput,
  type ConfigSection,
  type ServerConfig,
  type AuthConfig,
  type TokenConfig,
  type Role,
  type ModelsConfig,
  type CameraEntry,
  type CameraSource,
  type CameraDecoder,
  type CameraDetectorSettings,
  type Zone,
  type RecognitionConfig,
  type GateEntry,
  type EventsConfig,
  type GalleryConfig,
  type LoggingConfig,
  type IssueParams,
  type CrossCheckIssue,
} from './schema.ts';
export { ConfigError, isConfigError, formatConfigErrors, formatConfigIssue, formatConfigPath, type ConfigErrorCode, type ConfigIssue, type ConfigPath } from './errors.ts';
export { parseConfig, parseConfigText, loadConfig, readConfigText, resolveConfigPaths, configWarnings, type ParseConfigOptions } from './parse.ts';
export { hashToken, verifyToken, type TokenHolder } from './auth.ts';
export { diffConfig, deepEqual, type ConfigDiff, type CameraChanges } from './diff.ts';
export { watchConfig, type WatchConfigOptions, type ConfigWatcher } from './watch.ts';
export { ingestCameraConfig } from './camera.ts';
export { registerConfigCommand, type ConfigCommandIo } from './cli.ts';
