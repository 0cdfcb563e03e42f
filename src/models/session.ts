import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { FacegateError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ResolvedModel } from './resolve.ts';

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'webgpu', 'cuda', 'tensorrt'];

/** An execution provider as configured: a name, or a name with a device and a strictness. */
export interface ProviderChoice {
  readonly name: ExecutionProvider;
  /** GPU index for cuda / tensorrt (default 0); webgpu takes the first adapter Dawn offers. */
  readonly deviceId?: number | undefined;
  /** true: a provider that cannot start is an error instead of a warning and CPU. */
  readonly required?: boolean | undefined;
}

export type ProviderSpec = ExecutionProvider | ProviderChoice;

export function providerChoice(spec: ProviderSpec | undefined): ProviderChoice {
  if (spec === undefined) return { name: 'cpu' };
  return typeof spec === 'string' ? { name: spec } : spec;
}

export interface SessionOptions {
  /** Intra-op threads; 0 lets ORT pick (all cores). */
  readonly threads?: number;
  readonly executionProvider?: ProviderSpec | undefined;
  readonly logger?: Logger | undefined;
  /**
   * Let ORT's intra-op threads spin-wait between runs (default false). Spinning saves ~0.5 ms per
   * run but, at camera rates, burns the gaps: measured here on scrfd_500m at 5 fps, 55 ms of CPU
   * per frame spinning vs 20 ms without, for the same 10 ms run. On an edge box the cores are
   * better spent on more cameras.
   */
  readonly spin?: boolean;
}

/** Shared libraries the CUDA-based providers need beside the onnxruntime-node binding. */
const PROVIDER_LIBS: Record<'cuda' | 'tensorrt', string> = {
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

/**
 * Why a provider cannot be tried at all here, or undefined when it can. CUDA and TensorRT are
 * checked by file first: ORT's own failure to dlopen them prints a multi-line native error that
 * users mistake for a crash. WebGPU is built into the binding; whether an adapter exists is only
 * known by trying (createSession does).
 */
export function providerMissing(ep: ExecutionProvider): string | undefined {
  if (ep === 'cpu' || ep === 'webgpu') return undefined;
  const dir = bindingDir();
  if (dir === undefined) return 'the onnxruntime-node binding was not found';
  if (!existsSync(join(dir, PROVIDER_LIBS[ep]))) return `${PROVIDER_LIBS[ep]} is not installed (onnxruntime-node was installed without its CUDA add-on: run \`npm run setup -- --gpu cuda\` on a machine with internet)`;
  return undefined;
}

const warned = new Set<string>();
/** The provider each session really runs on (after any fallback). */
const ranOn = new WeakMap<ort.InferenceSession, ExecutionProvider>();

export function sessionProvider(session: ort.InferenceSession): ExecutionProvider {
  return ranOn.get(session) ?? 'cpu';
}

function providerOptions(c: ProviderChoice): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (c.name) {
    case 'cpu':
      return ['cpu'];
    case 'webgpu':
      return [{ name: 'webgpu' }, 'cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId: c.deviceId ?? 0 }, 'cpu'];
    case 'tensorrt':
      // TensorRT hands the subgraphs it cannot build to CUDA, then CPU.
      return [{ name: 'tensorrt', deviceId: c.deviceId ?? 0 }, { name: 'cuda', deviceId: c.deviceId ?? 0 }, 'cpu'];
  }
}

/** ORT's provider errors start with a source path and a C++ lambda; keep the sentence a person reads. */
export function cleanProviderReason(message: string): string {
  const first = message.split('\n')[0] ?? message;
  const falseAt = first.indexOf(' was false. ');
  const text = falseAt >= 0 ? first.slice(falseAt + ' was false. '.length) : first.replace(/^\S+\.(?:cc|cpp|h):\d+ \S+ /, '');
  return text.slice(0, 300) || 'unknown error';
}

function baseOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    interOpNumThreads: 1,
    intraOpNumThreads: opts.threads ?? 0,
    executionMode: 'sequential',
    ...(opts.spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
  };
}

/**
 * One ORT session per model for the whole process (callers cache it). Graph optimisation on,
 * ORT's own logging quiet (det_500m.onnx otherwise logs 9 shape warnings per run), execution
 * provider from config. A provider that cannot start (add-on missing, no Vulkan adapter, driver
 * error) gives one warning per provider naming the reason, then CPU; with `required: true` it is a
 * ProviderError instead. Nodes a GPU provider does not implement run on CPU inside the session.
 */
export async function createSession(model: ResolvedModel, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  return openSession(model.path, model.entry.name, opts);
}

/** createSession on a file path or the bytes of an ONNX model (`name` is for messages). */
export async function openSession(source: string | Uint8Array, name: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const choice = providerChoice(opts.executionProvider);
  const load = async (providers: ort.InferenceSession.ExecutionProviderConfig[]): Promise<ort.InferenceSession> =>
    typeof source === 'string' ? ort.InferenceSession.create(source, { ...baseOptions(opts), executionProviders: providers }) : ort.InferenceSession.create(source, { ...baseOptions(opts), executionProviders: providers });
  if (choice.name !== 'cpu') {
    let reason = providerMissing(choice.name);
    if (reason === undefined) {
      try {
        const session = await load(providerOptions(choice));
        ranOn.set(session, choice.name);
        return session;
      } catch (e) {
        reason = cleanProviderReason(errorMessage(e));
      }
    }
    if (choice.required) {
      throw new FacegateError('PROVIDER_UNAVAILABLE', `execution provider "${choice.name}" cannot run model "${name}": ${reason}`, {
        context: { provider: choice.name, model: name },
        hint: `run \`facegate doctor\` to see what this machine can run, or set required: false to fall back to CPU`,
      });
    }
    const key = `${choice.name}\u0000${reason}`;
    if (!warned.has(key)) {
      warned.add(key);
      const msg = `execution provider "${choice.name}" is not available (${reason}); falling back to CPU`;
      if (opts.logger) opts.logger.warn({ executionProvider: choice.name, reason }, msg);
      else process.stderr.write(`warning: ${msg}\n`);
    }
  }
  try {
    const session = await load(['cpu']);
    ranOn.set(session, 'cpu');
    return session;
  } catch (e) {
    const where = typeof source === 'string' ? ` from ${source}` : '';
    throw new FacegateError('MODEL_INVALID', `cannot load model "${name}"${where}: ${errorMessage(e)}`, {
      context: { model: name, path: typeof source === 'string' ? source : undefined },
      hint: 'the file is not a valid ONNX model for this onnxruntime; re-download it',
      cause: e,
    });
  }
}
