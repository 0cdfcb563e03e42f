import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FacegateError } from '../errors.ts';
import { projectPath } from '../paths.ts';

/** The project's models/ folder: home of manifest.json and the git-ignored weight cache. */
export const PROJECT_MODELS_DIR = `${projectPath('models')}/`;
export const BUILTIN_MANIFEST_PATH = `${PROJECT_MODELS_DIR}manifest.json`;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

const inputSpec = z.strictObject({
  name: z.string().min(1),
  layout: z.literal('NCHW'),
  channels: z.enum(['RGB', 'BGR']),
  mean: z.number(),
  std: z.number().positive(),
  dynamicSize: z.boolean().optional(),
  fixedSize: z.number().int().positive().optional(),
  cropScale: z.number().positive().optional(),
});

const outputSpec = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('scrfd'), batchDim: z.boolean() }),
  z.strictObject({ kind: z.literal('embedding'), dim: z.number().int().positive() }),
  z.strictObject({ kind: z.literal('mask'), maskIndex: z.number().int().min(0) }),
  z.strictObject({ kind: z.literal('liveness'), realIndex: z.number().int().min(0) }),
]);

const modelEntry = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  role: z.enum(['detector', 'embedder', 'mask', 'liveness']),
  tier: z.string().optional(),
  file: z.string().regex(/^[^/\\]+\.onnx$/, 'a bare file name ending in .onnx'),
  sha256: sha256Hex.nullable(),
  size: z.number().int().positive().nullable(),
  input: inputSpec,
  output: outputSpec,
  accuracy: z.record(z.string(), z.number()).optional(),
  licence: z.string().min(1),
  download: z.strictObject({ url: z.url(), zipMember: z.string().optional() }).optional(),
  /**
   * A file produced here from another model instead of downloaded: `transform` applied to the
   * verified bytes of `from` (whose sha256 must be `fromSha256`). Generated on first resolution
   * into the models/ cache; `sha256` pins the output (the transform is deterministic).
   */
  derived: z.strictObject({ from: z.string().min(1), fromSha256: sha256Hex, transform: z.literal('dequantize') }).optional(),
  /**
   * Embedders: the cosine thresholds calibrated for this model (scores differ per model, so a
   * threshold never carries over from one embedder to another) and where they were measured.
   */
  thresholds: z.strictObject({ unmasked: z.number().min(-1).max(1), masked: z.number().min(-1).max(1), source: z.string().min(1) }).optional(),
  note: z.string().optional(),
});

/**
 * The presentation-attack decision threshold of a liveness ensemble (the `models` averaged per
 * frame, the frames of a track taken by `rule`), with the data and date it was measured on. It
 * belongs to the ensemble and the rule together: another model set or rule scores on another scale.
 */
const livenessThresholdEntry = z.strictObject({
  models: z.array(z.string().min(1)).min(1),
  rule: z.literal('median'),
  threshold: z.number().min(0).max(1),
  data: z.string().min(1),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD'),
  source: z.string().min(1),
});

const manifestSchema = z.strictObject({
  $comment: z.string().optional(),
  version: z.literal(1),
  models: z.array(modelEntry),
  liveness: z.array(livenessThresholdEntry).optional(),
});

export type ModelEntry = z.infer<typeof modelEntry>;
export type ModelRole = ModelEntry['role'];
export type ModelInputSpec = z.infer<typeof inputSpec>;
export type ModelThresholds = NonNullable<ModelEntry['thresholds']>;
export type DerivedModelSpec = NonNullable<ModelEntry['derived']>;
export type LivenessThresholdEntry = z.infer<typeof livenessThresholdEntry>;
export interface Manifest {
  readonly models: readonly ModelEntry[];
  /** Liveness thresholds per model set (see livenessThresholdEntry). */
  readonly liveness?: readonly LivenessThresholdEntry[] | undefined;
}

/** One key per liveness model set, whatever order the config lists them in. */
export const livenessSetKey = (models: readonly string[]): string => [...new Set(models)].sort().join('+');

/** Parse and validate a manifest document; every problem is reported with its JSON path. */
export function parseManifest(doc: unknown, source: string): Manifest {
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FacegateError('MANIFEST_INVALID', `model manifest ${source} is invalid: ${problems}`, {
      context: { source },
      hint: 'fix the listed fields (see models/manifest.json for a valid entry)',
    });
  }
  const seen = new Set<string>();
  for (const m of parsed.data.models) {
    if (seen.has(m.name)) {
      throw new FacegateError('MANIFEST_INVALID', `model manifest ${source} lists "${m.name}" twice`, {
        context: { source, model: m.name },
        hint: 'give every model a unique name',
      });
    }
    seen.add(m.name);
  }
  return { models: parsed.data.models, liveness: parsed.data.liveness };
}

function readManifestFile(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FacegateError('MANIFEST_INVALID', `cannot read model manifest ${path}`, {
      context: { source: path },
      hint: 'check the path in FACEGATE_MODELS_MANIFEST',
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FacegateError('MANIFEST_INVALID', `model manifest ${path} is not valid JSON: ${(e as Error).message}`, {
      context: { source: path },
      hint: 'fix the JSON syntax',
    });
  }
  return parseManifest(doc, path);
}

/**
 * Merge a user's manifest over the built-in one: users add their own SCRFD tiers (10g, 34g) or
 * ArcFace embedders without editing the project. A user entry with a built-in name replaces it.
 */
export function mergeManifests(base: Manifest, extra: Manifest): Manifest {
  const byName = new Map(base.models.map((m) => [m.name, m] as const));
  for (const m of extra.models) byName.set(m.name, m);
  const liveness = new Map((base.liveness ?? []).map((l) => [livenessSetKey(l.models), l] as const));
  for (const l of extra.liveness ?? []) liveness.set(livenessSetKey(l.models), l);
  return { models: [...byName.values()], liveness: liveness.size ? [...liveness.values()] : undefined };
}

let cached: Manifest | undefined;

/** The built-in manifest, plus FACEGATE_MODELS_MANIFEST when set. Parsed once per process. */
export function loadManifest(): Manifest {
  if (cached) return cached;
  let manifest = readManifestFile(BUILTIN_MANIFEST_PATH);
  const extraPath = process.env.FACEGATE_MODELS_MANIFEST;
  if (extraPath) manifest = mergeManifests(manifest, readManifestFile(extraPath));
  cached = manifest;
  return manifest;
}

export function findModel(manifest: Manifest, name: string): ModelEntry {
  const entry = manifest.models.find((m) => m.name === name);
  if (!entry) {
    throw new FacegateError('MODEL_UNKNOWN', `unknown model "${name}"`, {
      context: { model: name },
      hint: `known models: ${manifest.models.map((m) => m.name).join(', ')} (add your own with FACEGATE_MODELS_MANIFEST)`,
    });
  }
  return entry;
}
