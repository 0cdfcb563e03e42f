import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { FacegateError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ResolvedModel } from './resolve.ts';
import { moduleAsset, projectPath } from '../paths.ts';

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
  /** Intra-op threads (default DEFAULT_INTRA_OP_THREADS = 1); 0 lets ORT pick (all cores). */
  readonly threads?: number;
  readonly executionProvider?: ProviderSpec | undefined;
  readonly logger?: Logger | undefined;
  /**
   * Let ORT's intra-op threads spin-wait between runs (default false). Spinning saves a little per
   * run but, at camera rates, burns the gaps between frames as CPU (docs/benchmarks.md has the
   * figures). On an edge box the cores are better spent on more cameras.
   */
  readonly spin?: boolean;
  /**
   * The model's input shape where its graph leaves dimensions open (set from the manifest by
   * createSession / createModelSession): shapes the zero input of a GPU session's probe run.
   */
  readonly probeShape?: readonly number[];
}

/** Shared libraries the CUDA-based providers need beside the onnxruntime-node binding. */
export const PROVIDER_LIBS: Record<'cuda' | 'tensorrt', string> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

/**
 * The CUDA / TensorRT opt-in (`npm run setup -- --gpu cuda`): ONNX Runtime's provider libraries
 * from the npm registry (the asus4 package's Linux x64 GPU build: CUDA 13, cuDNN 9, TensorRT 10)
 * placed beside the onnxruntime-node binding of the same ONNX Runtime version, all inside
 * `.facegate/gpu/`, apart from node_modules: the CPU and WebGPU path and CI never see it. Provider
 * libraries load only into the ONNX Runtime they were built with, and one process holds one
 * libonnxruntime.so.1, so the service uses them only when it runs on that onnxruntime-node.
 */
export const GPU_INSTALL = {
  dir: '.facegate/gpu',
  package: 'com.github.asus4.onnxruntime.linux-x64-gpu',
  packageVersion: '0.4.9',
  onnxruntime: '1.29.0',
} as const;

/** The binding folder of the opt-in GPU install (FACEGATE_GPU_DIR overrides `.facegate/gpu`). */
export function gpuBindingDir(): string {
  const root = process.env.FACEGATE_GPU_DIR ?? projectPath(GPU_INSTALL.dir);
  return join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
}

/** The onnxruntime-node version this process loaded. */
export function runtimeVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The folder of onnxruntime-node's native binding, where its provider add-ons (.so) go. */
export function bindingDir(): string | undefined {
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
  if (!existsSync(join(dir, PROVIDER_LIBS[ep]))) {
    if (existsSync(join(gpuBindingDir(), PROVIDER_LIBS[ep]))) {
      return `${PROVIDER_LIBS[ep]} is installed in ${GPU_INSTALL.dir} for onnxruntime-node ${GPU_INSTALL.onnxruntime}, but this process runs onnxruntime-node ${runtimeVersion()}: provider libraries load only into the ONNX Runtime they were built with (docs/operations.md, GPU opt-in)`;
    }
    return `${PROVIDER_LIBS[ep]} is not installed (run \`npm run setup -- --gpu cuda\` on a machine with internet; \`facegate doctor\` lists what else CUDA needs)`;
  }
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

/**
 * One intra-op thread per session unless told otherwise: the run happens on the calling thread
 * and ORT starts no pool. On a small edge box ORT's own pool made the models no faster while every
 * run woke a pool thread per session, which cost CPU per frame (e2e bench, docs/benchmarks.md). A
 * box with idle cores and a latency budget can set `models.threads` (per session) higher.
 */
export const DEFAULT_INTRA_OP_THREADS = 1;

function baseOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    interOpNumThreads: 1,
    intraOpNumThreads: opts.threads ?? DEFAULT_INTRA_OP_THREADS,
    executionMode: 'sequential',
    // No memory pattern: ORT would plan and keep one block per session for every intermediate
    // tensor of the input shape it has seen; with five sessions at one camera that held ~13 MB more
    // for no measurable run time (docs/benchmarks.md). The arena stays on: without it malloc
    // fragmentation cost more than the arena's slack.
    enableMemPattern: false,
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
  return openSession(model.path, model.entry.name, { probeShape: manifestInputShape(model), ...opts });
}

/** NCHW with the manifest's fixed size, or 64x64 for a detector (any multiple of its strides). */
function manifestInputShape(model: ResolvedModel): number[] {
  const size = model.entry.input.fixedSize ?? 64;
  return [1, 3, size, size];
}

/** createSession on a file path or the bytes of an ONNX model (`name` is for messages). */
export async function openSession(source: string | Uint8Array, name: string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const { session, ranOn: provider } = await openWithFallback(source, name, opts, {
    load: (providers) =>
      typeof source === 'string' ? ort.InferenceSession.create(source, { ...baseOptions(opts), executionProviders: providers }) : ort.InferenceSession.create(source, { ...baseOptions(opts), executionProviders: providers }),
    probe: async (s) => void (await s.run(probeFeeds(s.inputMetadata, opts.probeShape))),
    release: (s) => s.release(),
  });
  ranOn.set(session, provider);
  return session;
}

/**
 * Zero-filled inputs for one probe run, shaped from the model's input metadata; a dimension the
 * graph leaves open takes the first input's `shape` hint (the manifest's), else 1 for the batch
 * axis and 64 elsewhere (a multiple of every detector stride).
 */
export function probeFeeds(metadata: readonly ort.InferenceSession.ValueMetadata[], shape?: readonly number[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, m] of metadata.entries()) {
    if (!m.isTensor) throw new Error(`input "${m.name}" is not a tensor`);
    const hint = k === 0 ? shape : undefined;
    const dims = (m.shape.length ? m.shape : (hint ?? [1])).map((d, i) => (typeof d === 'number' && d > 0 ? d : (hint?.[i] ?? (i === 0 ? 1 : 64))));
    const n = dims.reduce((a, b) => a * b, 1);
    const Data = PROBE_ARRAYS[m.type];
    if (!Data) throw new Error(`input "${m.name}" has type ${m.type}, which the probe does not fill`);
    feeds[m.name] = new ort.Tensor(m.type, new Data(n) as Float32Array, dims);
  }
  return feeds;
}

const PROBE_ARRAYS: Partial<Record<ort.Tensor.Type, new (n: number) => ArrayBufferView>> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  float16: Uint16Array,
};

/** How a session is opened, run once and released, whatever hosts it (this thread or a worker). */
interface SessionHost<S> {
  load(providers: ort.InferenceSession.ExecutionProviderConfig[]): Promise<S>;
  probe(session: S): Promise<void>;
  release(session: S): Promise<void>;
}

/**
 * A GPU session that opens may still fail its first run: measured with ORT 1.30's WebGPU provider,
 * seetaface6_mask opens and then every run fails in a Softmax kernel ("Cannot reduce shape
 * {1,2,1,1} by component=2"). So a non-CPU session runs once on zeros before it is used (this also
 * compiles its kernels before the first frame). A probe failure counts against the provider only
 * when the same probe runs on CPU; otherwise the zero input does not suit the model and proves
 * nothing. Returns the reason to fall back, or undefined to keep the session (released on failure).
 */
async function probeFailure<S>(session: S, host: SessionHost<S>): Promise<string | undefined> {
  try {
    await host.probe(session);
    return undefined;
  } catch (gpuError) {
    let cpu: S | undefined;
    try {
      cpu = await host.load(['cpu']);
      await host.probe(cpu);
    } catch {
      return undefined; // the probe does not fit this model: keep the GPU session
    } finally {
      if (cpu !== undefined) await host.release(cpu).catch(() => undefined);
    }
    await host.release(session).catch(() => undefined);
    return `opens but cannot run this model: ${cleanProviderReason(errorMessage(gpuError))}`;
  }
}

/**
 * The provider policy, whatever hosts the session: try the configured provider for real; when it
 * cannot start, one warning per provider and reason, then CPU (or PROVIDER_UNAVAILABLE when required).
 */
async function openWithFallback<S>(source: string | Uint8Array, name: string, opts: SessionOptions, host: SessionHost<S>): Promise<{ session: S; ranOn: ExecutionProvider }> {
  const { load } = host;
  const choice = providerChoice(opts.executionProvider);
  if (choice.name !== 'cpu') {
    let reason = providerMissing(choice.name);
    if (reason === undefined) {
      try {
        const session = await load(providerOptions(choice));
        reason = await probeFailure(session, host);
        if (reason === undefined) return { session, ranOn: choice.name };
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
    return { session: await load(['cpu']), ranOn: 'cpu' };
  } catch (e) {
    const where = typeof source === 'string' ? ` from ${source}` : '';
    throw new FacegateError('MODEL_INVALID', `cannot load model "${name}"${where}: ${errorMessage(e)}`, {
      context: { model: name, path: typeof source === 'string' ? source : undefined },
      hint: 'the file is not a valid ONNX model for this onnxruntime; re-download it',
      cause: e,
    });
  }
}

/**
 * A model session as the stages use it. `thread: 'worker'` hosts it on its own thread
 * (src/models/session-worker.js): onnxruntime-node runs a model synchronously on the thread that
 * calls run(), so a session on the main thread stops the event loop for the whole run (ingest
 * pipes, WebSocket sends, timers). 'main' keeps it in-process (benches of the raw run use both).
 */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Where the session really runs (after any fallback to CPU). */
  readonly executionProvider: ExecutionProvider;
  readonly thread: 'worker' | 'main';
  run(feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export type SessionThread = 'worker' | 'main';

/**
 * The calling thread by default. Worker sessions free the event loop (a better p99) but cost more
 * CPU per frame (the input copy, the hand-off, a thread per session) and more memory (e2e bench,
 * docs/benchmarks.md); on a box with spare cores the worker pays. `models.sessionThread` in the
 * config; FACEGATE_ORT_THREAD overrides both.
 */
export function defaultSessionThread(configured?: SessionThread): SessionThread {
  const env = process.env.FACEGATE_ORT_THREAD;
  if (env === 'main' || env === 'worker') return env;
  return configured ?? 'main';
}

class MainThreadSession implements ModelSession {
  readonly thread = 'main' as const;
  private released: Promise<void> | undefined;
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly name: string,
    readonly executionProvider: ExecutionProvider,
  ) {}
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  run(feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, ort.Tensor>> {
    if (this.released) return Promise.reject(new FacegateError('MODEL_INVALID', `model "${this.name}" is closed`, { context: { model: this.name } }));
    return this.session.run(feeds);
  }
  release(): Promise<void> {
    this.released ??= this.session.release();
    return this.released;
  }
}

interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly data: ort.Tensor.DataType;
  readonly dims: readonly number[];
}

type WorkerReply =
  | { op: 'opened'; inputNames: string[]; outputNames: string[]; inputMetadata: ort.InferenceSession.ValueMetadata[] }
  | { op: 'failed'; message: string }
  | { op: 'result'; id: number; outputs: Record<string, WireTensor>; inputs?: ArrayBuffer[] }
  | { op: 'error'; id: number; message: string; inputs?: ArrayBuffer[] }
  | { op: 'released' };

// Plain JavaScript beside this module (scripts/build.js copies it into dist/).
const WORKER_URL = pathToFileURL(moduleAsset(import.meta.url, 'session-worker.js'));

class WorkerSession implements ModelSession {
  readonly thread = 'worker' as const;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: Record<string, ort.Tensor>) => void; reject: (e: Error) => void }>();
  private dead: string | undefined;
  private releasing: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly name: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly executionProvider: ExecutionProvider,
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    worker.on('message', (m: WorkerReply) => {
      if (m.op !== 'result' && m.op !== 'error') return;
      if (m.inputs) this.giveBack(m.inputs);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.idleUnref();
      if (m.op === 'error') p.reject(new FacegateError('MODEL_INVALID', `model "${name}" failed to run: ${m.message}`, { context: { model: name } }));
      else p.resolve(Object.fromEntries(Object.entries(m.outputs).map(([k, t]) => [k, new ort.Tensor(t.type, t.data as Float32Array, [...t.dims])])));
    });
    const fail = (why: string): void => {
      this.dead ??= why;
      for (const p of this.pending.values()) p.reject(new FacegateError('MODEL_INVALID', `model "${name}" stopped: ${why}`, { context: { model: name } }));
      this.pending.clear();
    };
    worker.on('error', (e) => fail(errorMessage(e)));
    worker.on('exit', (code) => fail(`its thread exited (${code})`));
    worker.unref();
  }

  /** A worker with the session open, or the open error (the worker is gone then). */
  static async open(source: string | Uint8Array, name: string, options: ort.InferenceSession.SessionOptions, providers: ort.InferenceSession.ExecutionProviderConfig[], ranOn: ExecutionProvider): Promise<WorkerSession> {
    const worker = new Worker(WORKER_URL);
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage({ op: 'open', source, options: { ...options, executionProviders: providers } });
    }).catch(async (e: unknown) => {
      await worker.terminate();
      throw e;
    });
    if (reply.op !== 'opened') {
      await worker.terminate();
      throw new Error(reply.op === 'failed' ? reply.message : `unexpected reply ${reply.op}`);
    }
    return new WorkerSession(worker, name, reply.inputNames, reply.outputNames, ranOn, reply.inputMetadata);
  }

  // The worker keeps the process alive only while a run is in flight: an idle session must not
  // hold a CLI open, and a pending run must not let the process exit under it.
  private idleUnref(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  run(feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, ort.Tensor>> {
    if (this.dead !== undefined || this.releasing) return Promise.reject(new FacegateError('MODEL_INVALID', `model "${this.name}" is closed${this.dead ? `: ${this.dead}` : ''}`, { context: { model: this.name } }));
    const id = this.nextId++;
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [k, t] of Object.entries(feeds)) {
      // Inputs travel in pooled buffers that the worker hands back with the result: one memcpy,
      // no allocation per run (a fresh frame-sized copy per run left the worker's heap far behind
      // its garbage) and the caller keeps its own buffer (the letterbox reuses it).
      const data = t.data as ArrayBufferView;
      const buffer = this.takeBuffer(data.byteLength);
      new Uint8Array(buffer).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const View = data.constructor as new (b: ArrayBuffer) => ort.Tensor.DataType;
      wire[k] = { type: t.type, data: new View(buffer), dims: t.dims };
      transfer.push(buffer);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ op: 'run', id, feeds: wire }, transfer);
    });
  }

  private readonly pool = new Map<number, ArrayBuffer[]>();

  private takeBuffer(bytes: number): ArrayBuffer {
    return this.pool.get(bytes)?.pop() ?? new ArrayBuffer(bytes);
  }

  private giveBack(buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) {
      const list = this.pool.get(b.byteLength) ?? [];
      // A few per size: runs of one session are serialised by its callers, so one is the norm.
      if (list.length < 4) list.push(b);
      this.pool.set(b.byteLength, list);
    }
  }

  release(): Promise<void> {
    this.releasing ??= (async () => {
      if (this.dead === undefined) {
        this.worker.ref();
        await new Promise<void>((resolve) => {
          const done = (m: WorkerReply) => {
            if (m.op === 'released') resolve();
          };
          this.worker.on('message', done);
          this.worker.once('exit', () => resolve());
          this.worker.postMessage({ op: 'release' });
        });
      }
      await this.worker.terminate();
    })();
    return this.releasing;
  }
}

/**
 * createSession for the stages: the same provider policy, on the calling thread or on a worker
 * thread (`thread`; FACEGATE_ORT_THREAD=main|worker overrides).
 */
export async function createModelSession(model: ResolvedModel, opts: SessionOptions & { readonly thread?: SessionThread } = {}): Promise<ModelSession> {
  return openModelSession(model.path, model.entry.name, { probeShape: manifestInputShape(model), ...opts });
}

export async function openModelSession(source: string | Uint8Array, name: string, opts: SessionOptions & { readonly thread?: SessionThread } = {}): Promise<ModelSession> {
  const thread = defaultSessionThread(opts.thread);
  if (thread === 'main') {
    const session = await openSession(source, name, opts);
    return new MainThreadSession(session, name, sessionProvider(session));
  }
  const { session } = await openWithFallback(source, name, opts, {
    load: (providers) => {
      // The first provider of the list is the one the session is for (CPU comes after as ORT's own fallback for nodes).
      const first = providers[0];
      const ranOn = (typeof first === 'string' ? first : (first?.name ?? 'cpu')) as ExecutionProvider;
      return WorkerSession.open(source, name, baseOptions(opts), providers, ranOn);
    },
    probe: async (s) => void (await s.run(probeFeeds(s.inputMetadata, opts.probeShape))),
    release: (s) => s.release(),
  });
  return session;
}
