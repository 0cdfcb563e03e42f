import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { FacegateError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ResolvedModel } from './resolve.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface SessionOptions {
  /** Intra-op threads; 0 lets ORT pick (all cores). */
  readonly threads?: number;
  readonly executionProvider?: ExecutionProvider;
  readonly logger?: Logger;
  /**
   * Let ORT's intra-op threads spin-wait between runs (default false). Spinning saves ~0.5 ms per
   * run but, at camera rates, burns the gaps: measured here on scrfd_500m at 5 fps, 55 ms of CPU
   * per frame spinning vs 20 ms without, for the same 10 ms run. On an edge box the cores are
   * better spent on more cameras.
   */
  readonly spin?: boolean;
}

/** Shared libraries each GPU provider needs beside the onnxruntime-node binding. */
const PROVIDER_LIBS: Record<Exclude<ExecutionProvider, 'cpu'>, string> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

function bindingDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('onnxruntime-node/package.json'));
    return join(pkgDir, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

const warned = new Set<string>();

/**
 * Whether a GPU provider can load here. Checked by file instead of by trying, because a failed
 * try makes ORT print a multi-line native error to stderr that users mistake for a crash.
 */
export function providerAvailable(ep: ExecutionProvider): boolean {
  if (ep === 'cpu') return true;
  const dir = bindingDir();
  return dir !== undefined && existsSync(join(dir, PROVIDER_LIBS[ep]));
}

/**
 * One ORT session per model for the whole process (callers cache it). Graph optimisation on,
 * ORT's own logging quiet (det_500m.onnx otherwise logs 9 shape warnings per run), execution
 * provider from config with a one-line warning and CPU fallback when it is not installed.
 */
export async function createSession(model: ResolvedModel, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  let ep = opts.executionProvider ?? 'cpu';
  if (!providerAvailable(ep)) {
    const key = `${ep}`;
    if (!warned.has(key)) {
      warned.add(key);
      const msg = `execution provider "${ep}" is not available (onnxruntime-node was installed without its GPU add-on); falling back to CPU`;
      if (opts.logger) opts.logger.warn({ executionProvider: ep }, msg);
      else process.stderr.write(`warning: ${msg}\n`);
    }
    ep = 'cpu';
  }
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ep === 'cpu' ? ['cpu'] : [ep, 'cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    interOpNumThreads: 1,
    intraOpNumThreads: opts.threads ?? 0,
    executionMode: 'sequential',
    ...(opts.spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
  };
  try {
    return await ort.InferenceSession.create(model.path, options);
  } catch (e) {
    throw new FacegateError('MODEL_INVALID', `cannot load model "${model.entry.name}" from ${model.path}: ${errorMessage(e)}`, {
      context: { model: model.entry.name, path: model.path },
      hint: 'the file is not a valid ONNX model for this onnxruntime; re-download it',
      cause: e,
    });
  }
}
