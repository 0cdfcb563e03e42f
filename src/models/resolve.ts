import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { FacegateError } from '../errors.ts';
import { findModel, loadManifest, PROJECT_MODELS_DIR, type Manifest, type ModelEntry } from './manifest.ts';
import { VerdictCache } from './verify.ts';

/** ../shared/models beside the checkout: where the team's verified weights live. */
export const SHARED_MODELS_DIR = resolve(PROJECT_MODELS_DIR, '../../shared/models');

export interface ResolveOptions {
  /** An explicit file path: used as is (still verified against the manifest's sha256). */
  readonly path?: string;
  /** Overrides FACEGATE_MODELS_DIR. */
  readonly modelsDir?: string;
  readonly manifest?: Manifest;
  readonly cache?: VerdictCache;
}

export interface ResolvedModel {
  readonly entry: ModelEntry;
  readonly path: string;
  readonly sha256: string;
  /** False when the manifest pins no sha256 (a user-supplied model): the digest is reported, not checked. */
  readonly pinned: boolean;
}

/** Where a model is looked for, in order: explicit path, FACEGATE_MODELS_DIR, models/ cache, ../shared/models. */
export function candidatePaths(entry: ModelEntry, opts: ResolveOptions = {}): string[] {
  if (opts.path) return [isAbsolute(opts.path) ? opts.path : resolve(opts.path)];
  const dirs: string[] = [];
  const envDir = opts.modelsDir ?? process.env.FACEGATE_MODELS_DIR;
  if (envDir) dirs.push(resolve(envDir));
  dirs.push(PROJECT_MODELS_DIR, SHARED_MODELS_DIR);
  return dirs.map((d) => join(d, entry.file));
}

let defaultCache: VerdictCache | undefined;

/** Find a model's file and verify its sha256 (cached by size+mtime). One clear error otherwise. */
export async function resolveModel(name: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const entry = findModel(opts.manifest ?? loadManifest(), name);
  const tried = candidatePaths(entry, opts);
  const path = tried.find((p) => existsSync(p) && statSync(p).isFile());
  if (!path) {
    throw new FacegateError('MODEL_NOT_FOUND', `model "${name}" (${entry.file}) not found; tried: ${tried.join(', ')}`, {
      context: { model: name, tried: tried.join(', ') },
      hint: entry.download
        ? `run \`npx facegate models download ${name}${entry.sha256 ? '' : ' --sha256 HEX'}\`, or set FACEGATE_MODELS_DIR to a folder holding ${entry.file}`
        : `put ${entry.file} in one of the folders tried, or set FACEGATE_MODELS_DIR`,
    });
  }
  const cache = opts.cache ?? (defaultCache ??= new VerdictCache());
  const sha256 = await cache.digest(path);
  if (entry.sha256 !== null && sha256 !== entry.sha256) {
    throw new FacegateError('MODEL_CORRUPT', `model "${name}" at ${path} is corrupt or a different file: sha256 ${sha256}, expected ${entry.sha256}`, {
      context: { model: name, path, sha256, expected: entry.sha256 },
      hint: `delete ${path} and run \`npx facegate models download ${name}\``,
    });
  }
  return { entry, path, sha256, pinned: entry.sha256 !== null };
}
