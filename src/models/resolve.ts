import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { FacegateError, errorMessage } from '../errors.ts';
import { dequantizeOnnx } from './dequantize.ts';
import { findModel, loadManifest, PROJECT_MODELS_DIR, type Manifest, type ModelEntry } from './manifest.ts';
import { VerdictCache } from './verify.ts';

/** ../shared/models beside the checkout: where the team's verified weights live. */
export const SHARED_MODELS_DIR = resolve(PROJECT_MODELS_DIR, '../../shared/models');

/**
 * How a resolved file is checked against the manifest's sha256:
 * - `cached`: hashed once, then trusted while size and mtime are unchanged (models/.verified.json).
 *   Fast for short CLI commands, but blind to bytes changed in place with the mtime kept.
 * - `full`: hashed every time (~10 ms/MB). What a long-running service should use at start, so a
 *   weight file corrupted in place cannot run silently.
 */
export type VerifyMode = 'cached' | 'full';

export interface ResolveOptions {
  /** An explicit file path: used as is (still verified against the manifest's sha256). */
  readonly path?: string;
  /** Overrides FACEGATE_MODELS_DIR. */
  readonly modelsDir?: string;
  readonly manifest?: Manifest;
  readonly cache?: VerdictCache;
  /** Default `cached`; `full` always hashes the file. */
  readonly verify?: VerifyMode;
}

/** Options for a service start: every model hashed in full (weights corrupted in place keep their size and mtime). */
export const SERVICE_RESOLVE_OPTIONS: ResolveOptions = Object.freeze({ verify: 'full' });

export interface ResolvedModel {
  readonly entry: ModelEntry;
  readonly path: string;
  readonly sha256: string;
  /** False when the manifest pins no sha256 (a user-supplied model): the digest is reported, not checked. */
  readonly pinned: boolean;
  /** True when this call produced the file (a derived model resolved for the first time). */
  readonly generated?: boolean;
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

/** Folders a derived model may be written to, in order: FACEGATE_MODELS_DIR, then the models/ cache. */
export function derivedOutputDirs(opts: ResolveOptions = {}): string[] {
  const envDir = opts.modelsDir ?? process.env.FACEGATE_MODELS_DIR;
  return [...(envDir ? [resolve(envDir)] : []), PROJECT_MODELS_DIR];
}

let defaultCache: VerdictCache | undefined;

function fixHint(entry: ModelEntry, path: string): string {
  if (entry.derived) return `delete ${path}; it is derived again from ${entry.derived.from} on the next start (or run \`npx facegate models verify ${entry.name}\`)`;
  return `delete ${path} and run \`npx facegate models download ${entry.name}\``;
}

/**
 * Produce a derived model's file from its source model: the source is resolved and verified like
 * any model, its sha256 must be the one the manifest names, the transform runs in memory and the
 * output must hash to the pinned sha256 before it is renamed into place (atomic: a concurrent
 * start sees either no file or the whole file).
 */
export async function materializeDerived(entry: ModelEntry, opts: ResolveOptions = {}): Promise<string> {
  const spec = entry.derived;
  if (!spec) throw new FacegateError('MODEL_INVALID', `model "${entry.name}" is not a derived model`, { context: { model: entry.name }, hint: 'only manifest entries with `derived` are generated' });
  const source = await resolveModel(spec.from, { ...opts, path: undefined });
  if (source.sha256 !== spec.fromSha256) {
    throw new FacegateError('MODEL_CORRUPT', `model "${entry.name}" is derived from ${spec.from} with sha256 ${spec.fromSha256}, but ${source.path} has ${source.sha256}`, {
      context: { model: entry.name, path: source.path, sha256: source.sha256, expected: spec.fromSha256 },
      hint: `restore the pinned ${spec.from} (\`npx facegate models download ${spec.from}\`)`,
    });
  }
  const out = dequantizeOnnx(readFileSync(source.path));
  const digest = createHash('sha256').update(out.bytes).digest('hex');
  if (entry.sha256 !== null && digest !== entry.sha256) {
    throw new FacegateError('MODEL_CORRUPT', `deriving "${entry.name}" from ${spec.from} gave sha256 ${digest}, expected ${entry.sha256}`, {
      context: { model: entry.name, sha256: digest, expected: entry.sha256 },
      hint: 'the transform is not reproducing the pinned file (a changed src/models/dequantize.ts or onnx-proto version): re-pin the manifest sha256 only after checking the accuracy with `facegate eval`',
    });
  }
  const failures: string[] = [];
  for (const dir of derivedOutputDirs(opts)) {
    const dest = join(dir, entry.file);
    const tmp = `${dest}.${process.pid}.${Date.now()}.part`;
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(tmp, out.bytes);
      renameSync(tmp, dest);
      return dest;
    } catch (e) {
      rmSync(tmp, { force: true });
      failures.push(`${dir}: ${errorMessage(e)}`);
    }
  }
  throw new FacegateError('MODEL_NOT_FOUND', `cannot write the derived model "${entry.name}": ${failures.join('; ')}`, {
    context: { model: entry.name },
    hint: 'set FACEGATE_MODELS_DIR to a writable folder',
  });
}

/** Find a model's file and verify its sha256 (cached by size+mtime unless `verify: 'full'`). One clear error otherwise. */
export async function resolveModel(name: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const entry = findModel(opts.manifest ?? loadManifest(), name);
  const tried = candidatePaths(entry, opts);
  let path = tried.find((p) => existsSync(p) && statSync(p).isFile());
  let generated = false;
  if (!path && entry.derived && !opts.path) {
    path = await materializeDerived(entry, opts);
    generated = true;
  }
  if (!path) {
    throw new FacegateError('MODEL_NOT_FOUND', `model "${name}" (${entry.file}) not found; tried: ${tried.join(', ')}`, {
      context: { model: name, tried: tried.join(', ') },
      hint: entry.download
        ? `run \`npx facegate models download ${name}${entry.sha256 ? '' : ' --sha256 HEX'}\`, or set FACEGATE_MODELS_DIR to a folder holding ${entry.file}`
        : `put ${entry.file} in one of the folders tried, or set FACEGATE_MODELS_DIR`,
    });
  }
  const cache = opts.cache ?? (defaultCache ??= new VerdictCache());
  const sha256 = opts.verify === 'full' ? await cache.refresh(path) : await cache.digest(path);
  if (entry.sha256 !== null && sha256 !== entry.sha256) {
    throw new FacegateError('MODEL_CORRUPT', `model "${name}" at ${path} is corrupt or a different file: sha256 ${sha256}, expected ${entry.sha256}`, {
      context: { model: name, path, sha256, expected: entry.sha256 },
      hint: fixHint(entry, path),
    });
  }
  return { entry, path, sha256, pinned: entry.sha256 !== null, ...(generated ? { generated } : {}) };
}

