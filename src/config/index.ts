/**
 * Configuration: one YAML file is the source of truth. The zod schema holds every default;
 * parse/load report every problem with its path and a fix; diffConfig and watchConfig let hot
 * reload restart only what changed.
 */
export {
  DEFAULT_EMBEDDER,
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
  privacySchema,
  DEFAULT_CONSENT_NOTICE,
  loggingSchema,
  limitsSchema,
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
  type LimitsConfig,
  type CameraEntry,
  type CameraSource,
  type CameraDecoder,
  type CameraDetectorSettings,
  type Zone,
  type RecognitionConfig,
  type GateEntry,
  type EventsConfig,
  type GalleryConfig,
  type PrivacyConfig,
  type LoggingConfig,
  type IssueParams,
  type CrossCheckIssue,
} from './schema.ts';
export { ConfigError, isConfigError, formatConfigErrors, formatConfigIssue, formatConfigPath, type ConfigErrorCode, type ConfigIssue, type ConfigPath } from './errors.ts';
export { parseConfig, parseConfigText, loadConfig, readConfigText, resolveConfigPaths, configWarnings, newConfigWarnings, type ParseConfigOptions, type ConfigWarningHost } from './parse.ts';
export {
  boundsIssues,
  cameraStartDelayMs,
  cameraStartDelays,
  capacityWarnings,
  maxStringLength,
  maxListLength,
  MAX_LENGTH,
  MAX_ITEMS,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_DEPTH,
  MAX_CONFIG_ISSUES,
  DEFAULT_MAX_CAMERAS,
  DEFAULT_CAMERA_START_STAGGER_MS,
  MEASURED_CAPACITY,
  CAMERAS_PER_CORE,
  type BoundsIssue,
  type CapacityInput,
} from './limits.ts';
export { credentialWarnings, type CredentialInput } from './credentials.ts';
export { hashToken, verifyToken, type TokenHolder } from './auth.ts';
export { diffConfig, deepEqual, type ConfigDiff, type CameraChanges } from './diff.ts';
export { watchConfig, type WatchConfigOptions, type ConfigWatcher } from './watch.ts';
export { ingestCameraConfig } from './camera.ts';
export { providerFor, describeProviders, MODEL_ROLES, type ModelRole } from './providers.ts';
export { registerConfigCommand, type ConfigCommandIo } from './cli.ts';
