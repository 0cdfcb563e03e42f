/**
 * The facegate configuration: one zod schema that holds every default (nowhere else), with strict
 * objects at every depth (a misspelt key is an error, never a silently ignored line) and the checks
 * that span sections (camera/gate ids, gate cameras, anti-passback pairs, auth on a public bind).
 *
 * Paths in the file (databases, snapshot folder, TLS files, file sources) are relative to the
 * config file's folder; parseConfig/loadConfig resolve them (see parse.ts).
 */
import { z } from 'zod';
import { gateSchema } from '../gates/index.ts';
import { cameraSchema, zoneSchema } from './camera-schema.ts';
import { eventsSchema, mqttOutputSchema } from './events-schema.ts';
import { fleetSchema } from './fleet.ts';
import { boundsIssues, MAX_ITEMS } from './limits.ts';
import { modelsSchema, recognitionSchema } from './models-schema.ts';
import { privacySchema } from './privacy-schema.ts';
import { isRecord } from '../lib/records.ts';
import { badTextIssues, crossCheckIssues } from './schema-checks.ts';
import type { IssueParams } from './schema-common.ts';
import { authSchema, gallerySchema, limitsSchema, loggingSchema, serverSchema } from './service-schema.ts';

// Each section lives in its own file; this module composes them and stays the one place that
// importers name (index.ts re-exports it).
export type { IssueParams } from './schema-common.ts';
export { rtspSourceSchema, fileSourceSchema, testSourceSchema, pipelineSourceSchema, sourceSchema, decoderSchema, zoneSchema, detectorSettingsSchema, cameraSchema } from './camera-schema.ts';
export { serverSchema, tokenSchema, authSchema, gallerySchema, loggingSchema, isLoopback, limitsSchema } from './service-schema.ts';
export { DEFAULT_EMBEDDER, providerSpecSchema, modelsSchema, recognitionSchema } from './models-schema.ts';
export { mqttOutputSchema, eventsSchema } from './events-schema.ts';
export { privacySchema, DEFAULT_CONSENT_NOTICE } from './privacy-schema.ts';
export { crossCheckIssues, badTextIssues, type CrossCheckIssue } from './schema-checks.ts';

const configObjectSchema = z.strictObject({
  server: serverSchema.prefault({}),
  auth: authSchema.prefault({}),
  models: modelsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  cameras: z.array(cameraSchema).max(MAX_ITEMS.cameras).default([]),
  recognition: recognitionSchema.prefault({}),
  /** Validated by the gates module's own schema (src/gates). */
  gates: z.array(gateSchema).default([]),
  events: eventsSchema.prefault({}),
  gallery: gallerySchema.prefault({}),
  /** Encryption at rest and consent (src/config/privacy-schema.ts). */
  privacy: privacySchema.prefault({}),
  logging: loggingSchema.prefault({}),
  /** Absent = a standalone box (src/config/fleet.ts). */
  fleet: fleetSchema.optional(),
});

/** The whole configuration file. `Config` is its output: every default filled in. */
export const configSchema = configObjectSchema.superRefine(
  (data, ctx) => {
    // parseConfig checks the bounds on the raw document before zod runs; this is for callers of
    // configSchema itself (and covers the gates, whose schema lives in src/gates).
    for (const i of [...boundsIssues(data), ...badTextIssues(data), ...crossCheckIssues(data)]) ctx.addIssue({ code: 'custom', path: [...i.path], message: i.message, params: { hint: i.hint } satisfies IssueParams });
  },
  { when: (payload) => isRecord(payload.value) },
);

/** What a person writes (everything with a default optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** A parsed configuration: every default filled in, relative paths resolved by parseConfig/loadConfig. */
export type Config = z.output<typeof configSchema>;
export type ServerConfig = Config['server'];
export type AuthConfig = Config['auth'];
export type TokenConfig = AuthConfig['tokens'][number];
export type Role = TokenConfig['role'];
export type ModelsConfig = Config['models'];
export type LimitsConfig = Config['limits'];
export type CameraEntry = Config['cameras'][number];
export type CameraSource = CameraEntry['source'];
export type CameraDecoder = CameraEntry['decoder'];
export type CameraDetectorSettings = CameraEntry['detector'];
export type Zone = z.output<typeof zoneSchema>;
export type RecognitionConfig = Config['recognition'];
export type GateEntry = Config['gates'][number];
export type EventsConfig = Config['events'];
export type MqttOutputConfig = z.output<typeof mqttOutputSchema>;
export type GalleryConfig = Config['gallery'];
export type PrivacyConfig = Config['privacy'];
export type LoggingConfig = Config['logging'];
export type { FleetConfig } from './fleet.ts';
export type ConfigSection = keyof Config;
export const CONFIG_SECTIONS: readonly ConfigSection[] = Object.keys(configObjectSchema.shape) as ConfigSection[];

/**
 * JSON Schema (draft 2020-12) of what a person writes: defaults shown as `default`, so editors
 * can complete and check the YAML. The cross-section checks are not expressible there;
 * `facegate config check` runs them.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return { ...schema, title: 'facegate configuration', description: 'facegate config file (YAML). Relative paths resolve against the folder of the file.' };
}
