/**
 * `facegate doctor`: what this machine can run, found by trying rather than by guessing. Each
 * execution provider opens a tiny convolution graph (built here, no weights file) with
 * `required: true` and runs it; its output is compared with the CPU provider's. Vulkan devices come
 * from vulkaninfo, CUDA libraries from the dynamic linker's cache, GStreamer decoders from
 * gst-inspect-1.0, and the detect profile's tier choice from the measured profile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { chooseTier, readProfile, DEFAULT_PROFILE_PATH } from '../detect/index.ts';
import { errorMessage, isFacegateError } from '../errors.ts';
import { bindingDir, EXECUTION_PROVIDERS, openSession, sessionProvider, type ExecutionProvider } from '../models/index.ts';
import { GPU_INSTALL, gpuBindingDir, PROVIDER_LIBS, runtimeVersion } from '../models/session.ts';
import { projectPath } from '../paths.ts';
import { createLiveness, DEFAULT_LIVENESS_MODELS } from '../recognize/index.ts';

const { onnx } = onnxProto;

export interface ProviderProbe {
  readonly name: ExecutionProvider;
  readonly ok: boolean;
  /** Session creation + first run, ms (a GPU's first run includes kernel/shader compilation). */
  readonly ms?: number | undefined;
  /** Largest difference from the CPU provider's output on the probe graph. */
  readonly maxAbsDiff?: number | undefined;
  readonly reason?: string | undefined;
}

export interface VulkanDevice {
  readonly name: string;
  readonly type?: string | undefined;
  readonly driver?: string | undefined;
  readonly apiVersion?: string | undefined;
}

export interface DoctorReport {
  readonly facegate: string;
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly onnxruntime: string;
  readonly providers: readonly ProviderProbe[];
  readonly vulkan: { readonly devices: readonly VulkanDevice[]; readonly reason?: string | undefined };
  readonly cuda: { readonly libraries: readonly { readonly name: string; readonly purpose: string; readonly found: boolean; readonly path?: string | undefined }[] };
  /** The `npm run setup -- --gpu cuda` install: its provider libraries and what each cannot load. */
  readonly gpuInstall: GpuInstallReport;
  readonly gstreamer: { readonly version?: string | undefined; readonly elements: readonly { readonly name: string; readonly purpose: string; readonly present: boolean }[]; readonly reason?: string | undefined };
  /** The presentation-attack models gates require by default: loaded and run once, and their threshold. */
  readonly liveness: LivenessProbe;
  readonly detectProfile: {
    readonly path: string;
    readonly present: boolean;
    readonly choices: readonly { readonly budgetMs: number; readonly tier?: string | undefined; readonly size?: number | undefined; readonly p95Ms?: number | undefined; readonly error?: string | undefined }[];
  };
}

export interface LivenessProbe {
  readonly models: readonly string[];
  readonly ok: boolean;
  /** Load + one run on a grey frame, ms. */
  readonly ms?: number | undefined;
  readonly threshold?: number | undefined;
  readonly thresholdSource?: string | undefined;
  readonly reason?: string | undefined;
}

/**
 * Load the default liveness ensemble (weights resolved and verified, sessions opened, the
 * calibrated threshold found) and run it once: a box whose gates require liveness cannot start
 * without this.
 */
export async function probeLiveness(models: readonly string[] = DEFAULT_LIVENESS_MODELS): Promise<LivenessProbe> {
  const t0 = performance.now();
  try {
    const liveness = await createLiveness(models);
    try {
      const size = 160;
      const score = await liveness.realProbability({ data: new Uint8Array(size * size * 3).fill(128), width: size, height: size }, [50, 50, 110, 110]);
      if (!Number.isFinite(score)) return { models, ok: false, reason: `the ensemble returned ${score}` };
      return { models, ok: true, ms: round(performance.now() - t0), threshold: liveness.threshold.value, thresholdSource: liveness.threshold.source };
    } finally {
      await liveness.close();
    }
  } catch (e) {
    return { models, ok: false, reason: errorMessage(e) };
  }
}

const PROBE_IN = [1, 3, 16, 16] as const;
const PROBE_OUT_CHANNELS = 4;

/** Conv(3x3, 3 -> 4 channels) + Relu on a 16x16 input: small, but a real GPU kernel path. */
export function probeModel(): Uint8Array {
  const weights = new Float32Array(PROBE_OUT_CHANNELS * 3 * 3 * 3).map((_, i) => Math.sin(i * 0.7) * 0.5);
  const raw = new Uint8Array(weights.length * 4);
  const view = new DataView(raw.buffer);
  weights.forEach((v, i) => view.setFloat32(i * 4, v, true));
  const tensorType = (dims: readonly number[]) => onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: 1, shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) }) });
  const graph = onnx.GraphProto.create({
    name: 'facegate-doctor-probe',
    node: [
      onnx.NodeProto.create({ name: 'conv', opType: 'Conv', input: ['x', 'w'], output: ['c'], attribute: [onnx.AttributeProto.create({ name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [3, 3] })] }),
      onnx.NodeProto.create({ name: 'relu', opType: 'Relu', input: ['c'], output: ['y'] }),
    ],
    initializer: [onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [PROBE_OUT_CHANNELS, 3, 3, 3], rawData: raw })],
    input: [onnx.ValueInfoProto.create({ name: 'x', type: tensorType(PROBE_IN) })],
    output: [onnx.ValueInfoProto.create({ name: 'y', type: tensorType([1, PROBE_OUT_CHANNELS, PROBE_IN[2] - 2, PROBE_IN[3] - 2]) })],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'facegate', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
  return onnx.ModelProto.encode(model).finish();
}

function probeInput(): ort.Tensor {
  const n = PROBE_IN.reduce<number>((a, b) => a * b, 1);
  return new ort.Tensor('float32', new Float32Array(n).map((_, i) => Math.cos(i * 0.13)), [...PROBE_IN]);
}

async function runProbe(model: Uint8Array, ep: ExecutionProvider): Promise<{ out: Float32Array; ms: number; ranOn: ExecutionProvider }> {
  const t0 = performance.now();
  const session = await openSession(model, 'doctor-probe', { executionProvider: { name: ep, required: true } });
  try {
    const result = await session.run({ x: probeInput() });
    const y = result.y;
    if (!y) throw new Error('the probe graph gave no output');
    return { out: Float32Array.from(y.data as Float32Array), ms: performance.now() - t0, ranOn: sessionProvider(session) };
  } finally {
    await session.release();
  }
}

export async function probeProviders(names: readonly ExecutionProvider[] = EXECUTION_PROVIDERS): Promise<ProviderProbe[]> {
  const model = probeModel();
  const cpu = await runProbe(model, 'cpu');
  const out: ProviderProbe[] = [];
  for (const name of names) {
    if (name === 'cpu') {
      out.push({ name, ok: true, ms: round(cpu.ms), maxAbsDiff: 0 });
      continue;
    }
    try {
      const r = await runProbe(model, name);
      let diff = 0;
      for (let i = 0; i < r.out.length; i++) diff = Math.max(diff, Math.abs(r.out[i] - (cpu.out[i] ?? Number.NaN)));
      const agrees = diff < 1e-3;
      out.push({ name, ok: agrees, ms: round(r.ms), maxAbsDiff: diff, reason: agrees ? undefined : `output differs from CPU by ${diff}` });
    } catch (e) {
      const msg = isFacegateError(e) ? e.message.replace(/^execution provider "\w+" cannot run model "doctor-probe": /, '') : errorMessage(e);
      out.push({ name, ok: false, reason: msg });
    }
  }
  return out;
}

function run(cmd: string, args: readonly string[], timeoutMs = 15_000): { ok: boolean; stdout: string; missing: boolean } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: r.status === 0, stdout: r.stdout ?? '', missing };
}

/** `vulkaninfo --summary` devices: the blocks under "Devices:" (GPU0, GPU1, ...). */
export function parseVulkanSummary(text: string): VulkanDevice[] {
  const devices: VulkanDevice[] = [];
  const blocks = text.split(/^GPU\d+:\s*$/m).slice(1);
  for (const b of blocks) {
    const field = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(.+)$`, 'm').exec(b)?.[1]?.trim();
    const name = field('deviceName');
    if (name) devices.push({ name, type: field('deviceType'), driver: field('driverName') ?? field('driverInfo'), apiVersion: field('apiVersion') });
  }
  return devices;
}

function vulkanDevices(): DoctorReport['vulkan'] {
  const r = run('vulkaninfo', ['--summary']);
  if (r.missing) return { devices: [], reason: 'vulkaninfo is not installed (Debian: vulkan-tools; scripts/setup.sh installs it)' };
  const devices = parseVulkanSummary(r.stdout);
  return devices.length ? { devices } : { devices, reason: 'no Vulkan device (no GPU driver with a Vulkan ICD, and no Mesa lavapipe)' };
}

// What the opt-in GPU install's providers (ONNX Runtime 1.29.0 built for CUDA 13) link or load.
const CUDA_LIBS: readonly { name: string; purpose: string }[] = [
  { name: 'libcuda.so.1', purpose: 'NVIDIA driver' },
  { name: 'libcudart.so.13', purpose: 'CUDA 13 runtime' },
  { name: 'libcublas.so.13', purpose: 'cuBLAS 13 (CUDA EP)' },
  { name: 'libcublasLt.so.13', purpose: 'cuBLASLt 13 (CUDA EP)' },
  { name: 'libcurand.so.10', purpose: 'cuRAND 10 (CUDA EP)' },
  { name: 'libcudnn.so.9', purpose: 'cuDNN 9 (CUDA EP, loaded at run time: ldd does not show it)' },
  { name: 'libnvinfer.so.10', purpose: 'TensorRT 10 (TensorRT EP)' },
  { name: 'libnvonnxparser.so.10', purpose: 'TensorRT 10 ONNX parser (TensorRT EP)' },
  { name: 'libonnxruntime_providers_cuda.so', purpose: "ONNX Runtime's CUDA add-on (npm run setup -- --gpu cuda)" },
  { name: 'libonnxruntime_providers_tensorrt.so', purpose: "ONNX Runtime's TensorRT add-on (npm run setup -- --gpu cuda)" },
];

export interface GpuInstallReport {
  readonly dir: string;
  /** Provider libraries present in the install. */
  readonly present: boolean;
  /** ONNX Runtime version of the install's binding and providers. */
  readonly onnxruntime?: string | undefined;
  /** onnxruntime-node of this process. */
  readonly runtime: string;
  /** The providers load into this process's ONNX Runtime (same version, and found where it looks). */
  readonly loadable: boolean;
  readonly providers: readonly { readonly name: 'cuda' | 'tensorrt'; readonly path: string; readonly present: boolean; readonly missing: readonly string[]; readonly reason?: string | undefined }[];
  readonly reason?: string | undefined;
}

/** Libraries `ldd` could not resolve (`libcudart.so.13 => not found`), once each, in order. */
export function parseLddMissing(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+=>\s+not found\s*$/.exec(line);
    if (m?.[1] && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

/**
 * The opt-in install (`.facegate/gpu`): each provider library there, and the shared libraries it
 * needs that the dynamic linker cannot find here (ldd). cuDNN is loaded at run time, not linked,
 * so the library list above reports it from the linker cache.
 */
export function gpuInstall(bindingDirOfInstall: string = gpuBindingDir()): GpuInstallReport {
  const dir = join(bindingDirOfInstall, '..', '..', '..', '..', '..', '..');
  const runtime = runtimeVersion();
  let onnxruntime: string | undefined;
  try {
    onnxruntime = (JSON.parse(readFileSync(join(dir, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    onnxruntime = undefined;
  }
  const providers = (['cuda', 'tensorrt'] as const).map((name) => {
    const path = join(bindingDirOfInstall, PROVIDER_LIBS[name]);
    if (!existsSync(path)) return { name, path, present: false, missing: [] };
    const r = spawnSync('ldd', [path], { encoding: 'utf8', timeout: 15_000 });
    if (r.error || r.status !== 0) return { name, path, present: true, missing: [], reason: `ldd could not read it: ${r.error ? errorMessage(r.error) : (r.stderr || r.stdout).trim().split('\n')[0]}` };
    return { name, path, present: true, missing: parseLddMissing(r.stdout) };
  });
  const present = providers.some((p) => p.present);
  if (!present) return { dir, present, onnxruntime, runtime, loadable: false, providers, reason: `not installed: \`npm run setup -- --gpu cuda\` puts ONNX Runtime ${GPU_INSTALL.onnxruntime}'s CUDA 13 / TensorRT providers (${GPU_INSTALL.package}@${GPU_INSTALL.packageVersion}) in ${GPU_INSTALL.dir}` };
  const loadable = onnxruntime === runtime;
  return {
    dir,
    present,
    onnxruntime,
    runtime,
    loadable,
    providers,
    reason: loadable ? undefined : `built for onnxruntime-node ${onnxruntime ?? GPU_INSTALL.onnxruntime}; this process runs ${runtime}, whose ONNX Runtime cannot load them (one libonnxruntime per process)`,
  };
}

function cudaLibraries(): DoctorReport['cuda'] {
  const cache = run('ldconfig', ['-p']).stdout || run('/sbin/ldconfig', ['-p']).stdout;
  const addonDir = bindingDir();
  return {
    libraries: CUDA_LIBS.map(({ name, purpose }) => {
      const line = cache.split('\n').find((l) => l.trim().startsWith(`${name} `));
      const path = line?.split('=>')[1]?.trim();
      if (path) return { name, purpose, found: true, path };
      if (name.startsWith('libonnxruntime_')) {
        // Beside this process's binding (a same-version install), else in the opt-in GPU folder.
        for (const dir of [addonDir, gpuBindingDir()]) {
          const candidate = dir === undefined ? undefined : join(dir, name);
          if (candidate && existsSync(candidate)) return { name, purpose, found: true, path: candidate };
        }
      }
      return { name, purpose, found: false };
    }),
  };
}

const GST_ELEMENTS: readonly { name: string; purpose: string }[] = [
  { name: 'avdec_h264', purpose: 'H.264 on the CPU (libav; the default decoder)' },
  { name: 'openh264dec', purpose: 'H.264 on the CPU with less memory (decoder openh264)' },
  { name: 'nvv4l2decoder', purpose: 'H.264/H.265 on a Jetson (NVDEC)' },
  { name: 'nvh264dec', purpose: 'H.264 on an NVIDIA desktop GPU (NVDEC)' },
  { name: 'vah264dec', purpose: 'H.264 on Intel/AMD (VA-API)' },
  { name: 'v4l2h264dec', purpose: 'H.264 on V4L2 hardware (ARM boards)' },
  { name: 'videoscale', purpose: 'scaling on the CPU' },
  { name: 'nvvidconv', purpose: 'scaling / conversion on a Jetson (VIC)' },
];

function gstreamer(): DoctorReport['gstreamer'] {
  const v = run('gst-inspect-1.0', ['--version']);
  if (v.missing) return { elements: GST_ELEMENTS.map((e) => ({ ...e, present: false })), reason: 'gst-inspect-1.0 is not installed (Debian: gstreamer1.0-tools; scripts/setup.sh installs it)' };
  const version = /GStreamer\s+([\d.]+)/.exec(v.stdout)?.[1];
  return { version, elements: GST_ELEMENTS.map((e) => ({ ...e, present: run('gst-inspect-1.0', ['--exists', e.name]).ok })) };
}

function detectProfile(path: string, budgets: readonly number[]): DoctorReport['detectProfile'] {
  let profile;
  try {
    profile = readProfile(path);
  } catch (e) {
    return { path, present: true, choices: budgets.map((budgetMs) => ({ budgetMs, error: errorMessage(e) })) };
  }
  if (!profile) return { path, present: false, choices: [] };
  return {
    path,
    present: true,
    choices: budgets.map((budgetMs) => {
      try {
        const c = chooseTier(profile, budgetMs);
        return { budgetMs, tier: c.entry.tier, size: c.entry.size, p95Ms: round(c.entry.p95Ms) };
      } catch (e) {
        return { budgetMs, error: errorMessage(e) };
      }
    }),
  };
}

const round = (v: number): number => Math.round(v * 10) / 10;

export async function doctor(opts: { readonly profilePath?: string; readonly budgets?: readonly number[]; readonly providers?: readonly ExecutionProvider[] } = {}): Promise<DoctorReport> {
  const require = createRequire(import.meta.url);
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  const facegateVersion = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { version: string }).version;
  return {
    facegate: facegateVersion,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    onnxruntime: ortVersion,
    providers: await probeProviders(opts.providers),
    vulkan: vulkanDevices(),
    cuda: cudaLibraries(),
    gpuInstall: gpuInstall(),
    gstreamer: gstreamer(),
    liveness: await probeLiveness(),
    detectProfile: detectProfile(opts.profilePath ?? DEFAULT_PROFILE_PATH, opts.budgets ?? [20, 50, 100, 200]),
  };
}

/** The report as lines a person reads. */
export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  lines.push(`facegate ${r.facegate} on ${r.platform}, Node ${r.node}, ${r.cpus} CPUs, onnxruntime-node ${r.onnxruntime}`);
  lines.push('', 'execution providers (a tiny Conv+Relu graph opened and run on each, compared with cpu):');
  for (const p of r.providers) lines.push(`  ${p.ok ? 'ok  ' : 'no  '} ${p.name.padEnd(9)} ${p.ok ? `${p.ms} ms (session + first run), max |diff| vs cpu ${p.maxAbsDiff?.toExponential(1)}` : p.reason}`);
  lines.push('', 'Vulkan devices (WebGPU runs on these):');
  if (r.vulkan.devices.length === 0) lines.push(`  none: ${r.vulkan.reason}`);
  for (const d of r.vulkan.devices) lines.push(`  ${d.name} (${[d.type, d.driver, d.apiVersion && `Vulkan ${d.apiVersion}`].filter(Boolean).join(', ')})`);
  lines.push('', 'CUDA / TensorRT libraries:');
  for (const l of r.cuda.libraries) lines.push(`  ${l.found ? 'found  ' : 'missing'} ${l.name.padEnd(38)} ${l.found ? l.path : l.purpose}`);
  const g = r.gpuInstall;
  lines.push('', `CUDA / TensorRT opt-in (${g.dir}):`);
  if (!g.present) lines.push(`  ${g.reason}`);
  else {
    lines.push(`  ONNX Runtime ${g.onnxruntime ?? '?'} providers; this process: onnxruntime-node ${g.runtime}${g.loadable ? '' : ` (${g.reason})`}`);
    for (const p of g.providers) {
      const state = !p.present ? 'absent' : p.reason ? p.reason : p.missing.length ? `missing ${p.missing.join(', ')}` : 'all linked libraries found';
      lines.push(`  ${p.present && !p.reason && p.missing.length === 0 ? 'ok  ' : 'no  '} ${p.name.padEnd(9)} ${state}`);
    }
  }
  lines.push('', `GStreamer ${r.gstreamer.version ?? `(not found: ${r.gstreamer.reason})`}:`);
  for (const e of r.gstreamer.elements) lines.push(`  ${e.present ? 'yes' : 'no '} ${e.name.padEnd(14)} ${e.purpose}`);
  lines.push('', `liveness (presentation-attack) models ${r.liveness.models.join(' + ')}, required by gates by default:`);
  lines.push(r.liveness.ok ? `  ok   loaded and run in ${r.liveness.ms} ms; threshold ${r.liveness.threshold} (${r.liveness.thresholdSource})` : `  no   ${r.liveness.reason} (gates that require liveness cannot run: \`facegate models download\`, or see docs/liveness.md)`);
  lines.push('', `detect profile (${r.detectProfile.path}):`);
  if (!r.detectProfile.present) lines.push('  not measured yet: run `npm run bench -- detect` (or `facegate detect --tier auto --budget-ms N`)');
  for (const c of r.detectProfile.choices) lines.push(`  budget ${String(c.budgetMs).padStart(4)} ms -> ${c.tier ? `tier ${c.tier} at ${c.size} (p95 ${c.p95Ms} ms)` : c.error}`);
  return lines.join('\n');
}
