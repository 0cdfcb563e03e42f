import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { FacegateError, errorMessage } from '../errors.ts';
import { findModel, livenessSetKey, loadManifest, PROJECT_MODELS_DIR, type Manifest } from './manifest.ts';

/**
 * Cosine thresholds belong to the embedder: a 128-d and a 512-d model put the same pair of faces
 * at very different similarities. The manifest ships calibrated values for every embedder it can
 * measure; `facegate eval --write-thresholds` writes a local calibration file (git-ignored) that
 * takes precedence, so a site can recalibrate on its own people without the shipped manifest ever
 * being rewritten.
 */
export interface CalibratedThresholds {
  /** Unmasked probe vs plain templates: accept when similarity > unmasked. */
  readonly unmasked: number;
  /** Masked probe vs plain + synthetic-masked templates: accept when similarity > masked. */
  readonly masked: number;
  /** Where the numbers came from (the manifest's note, or the local file and when it was written). */
  readonly source: string;
}

/** models/calibration.json, or FACEGATE_CALIBRATION. */
export function calibrationPath(): string {
  return process.env.FACEGATE_CALIBRATION ?? `${PROJECT_MODELS_DIR}calibration.json`;
}

const similarity = z.number().min(-1).max(1);
const calibrationEntry = z.strictObject({
  unmasked: similarity,
  masked: similarity,
  source: z.string().min(1),
  writtenAt: z.string().optional(),
  /** sha256 of the weights measured: a calibration of other weights with the same name is ignored. */
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
/** A liveness threshold measured here (`facegate eval --pad DIR --write-thresholds`), keyed by livenessSetKey. */
const livenessCalibrationEntry = z.strictObject({
  rule: z.literal('median'),
  threshold: z.number().min(0).max(1),
  /** The folder measured and what its counts were. */
  data: z.string().min(1),
  source: z.string().min(1),
  writtenAt: z.string().optional(),
});
const calibrationSchema = z.strictObject({ version: z.literal(1), models: z.record(z.string(), calibrationEntry), liveness: z.record(z.string(), livenessCalibrationEntry).optional() });
export type CalibrationFile = z.infer<typeof calibrationSchema>;
export type CalibrationEntry = z.infer<typeof calibrationEntry>;
export type LivenessCalibrationEntry = z.infer<typeof livenessCalibrationEntry>;

/** The local calibration file, or an empty one when there is none. A malformed file is an error, never ignored. */
export function readCalibration(path: string = calibrationPath()): CalibrationFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, models: {} };
    throw new FacegateError('CALIBRATION_INVALID', `cannot read calibration file ${path}: ${errorMessage(e)}`, { context: { path }, hint: 'fix its permissions or point FACEGATE_CALIBRATION elsewhere' });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FacegateError('CALIBRATION_INVALID', `calibration file ${path} is not valid JSON: ${errorMessage(e)}`, { context: { path }, hint: `delete it and run \`facegate eval --data DIR --write-thresholds\` again` });
  }
  const parsed = calibrationSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FacegateError('CALIBRATION_INVALID', `calibration file ${path} is invalid: ${problems}`, { context: { path }, hint: `fix the listed fields, or delete it and run \`facegate eval --data DIR --write-thresholds\`` });
  }
  return parsed.data;
}

/**
 * Merge calibrations into the local file (other models' entries are kept), atomically.
 * Returns the path written.
 */
export function writeCalibration(entries: Readonly<Record<string, CalibrationEntry>>, path: string = calibrationPath(), liveness: Readonly<Record<string, LivenessCalibrationEntry>> = {}): string {
  const current = readCalibration(path);
  const mergedLiveness = { ...current.liveness, ...liveness };
  const next: CalibrationFile = { version: 1, models: { ...current.models, ...entries }, ...(Object.keys(mergedLiveness).length ? { liveness: mergedLiveness } : {}) };
  const doc = calibrationSchema.parse(next);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, path);
  return path;
}

export interface ThresholdOptions {
  readonly manifest?: Manifest;
  /** Overrides FACEGATE_CALIBRATION / models/calibration.json. */
  readonly calibrationPath?: string;
  /** The sha256 of the weights in use: a local calibration recorded for other weights is skipped. */
  readonly modelSha256?: string;
}

/** The thresholds to use for an embedder: local calibration first, then the manifest's shipped values. */
export function calibratedThresholds(modelName: string, opts: ThresholdOptions = {}): CalibratedThresholds {
  const entry = findModel(opts.manifest ?? loadManifest(), modelName);
  const path = opts.calibrationPath ?? calibrationPath();
  const local = readCalibration(path).models[modelName];
  if (local && (opts.modelSha256 === undefined || local.modelSha256 === undefined || local.modelSha256 === opts.modelSha256)) {
    return { unmasked: local.unmasked, masked: local.masked, source: `local calibration ${path}${local.writtenAt ? ` (${local.writtenAt})` : ''}: ${local.source}` };
  }
  if (entry.thresholds) return { unmasked: entry.thresholds.unmasked, masked: entry.thresholds.masked, source: `manifest: ${entry.thresholds.source}` };
  throw new FacegateError('THRESHOLDS_MISSING', `embedder "${modelName}" has no calibrated thresholds (none in the manifest, none in ${path})`, {
    context: { model: modelName, path },
    hint: `run \`npx facegate eval --data DIR --embedder ${modelName} --write-thresholds\` on photos of your own people, or set the thresholds in the config`,
  });
}

export interface CalibratedLivenessThreshold {
  /** Live at or above this track score. */
  readonly threshold: number;
  readonly rule: 'median';
  /** Where the number came from (the local file and when, or the manifest's data and date). */
  readonly source: string;
}

/**
 * The liveness threshold of a model set: the local calibration first (`facegate eval --pad DIR
 * --write-thresholds`), then the manifest's measured value. A set neither knows is an error: a
 * threshold of another ensemble would sit on another scale.
 */
export function calibratedLivenessThreshold(models: readonly string[], opts: Omit<ThresholdOptions, 'modelSha256'> = {}): CalibratedLivenessThreshold {
  const key = livenessSetKey(models);
  const path = opts.calibrationPath ?? calibrationPath();
  const local = readCalibration(path).liveness?.[key];
  if (local) return { threshold: local.threshold, rule: local.rule, source: `local calibration ${path}${local.writtenAt ? ` (${local.writtenAt})` : ''}: ${local.source}` };
  const shipped = (opts.manifest ?? loadManifest()).liveness?.find((l) => livenessSetKey(l.models) === key);
  if (shipped) return { threshold: shipped.threshold, rule: shipped.rule, source: `manifest: ${shipped.data}, ${shipped.date}: ${shipped.source}` };
  throw new FacegateError('THRESHOLDS_MISSING', `liveness models ${models.join(' + ')} have no calibrated threshold (none in the manifest, none in ${path})`, {
    context: { models: key, path },
    hint: 'run `npx facegate eval --pad DIR --write-thresholds` on live and attack recordings from your site, or set gates[].liveness.threshold in the config',
  });
}
