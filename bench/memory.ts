/**
 * `npm run bench -- memory [--variants base,arena-off,...] [--repeat 2] [--runs 20] [--json]`
 *
 * Where a camera service's resident memory goes in the model sessions, one fresh Node process per
 * variant (so one variant's heap and malloc arenas never count for the next): the process loads
 * onnxruntime-node, then opens the five sessions the service opens at one camera (SCRFD 500m, the
 * w600k_mbf_dq embedder, the mask classifier and the two MiniFASNet liveness models) with the
 * service's session options plus the variant's, runs each `--runs` times on an input of the size
 * the service feeds it (SCRFD: 640x384, a 720p frame's detector input), and reports RSS after
 * each step, anonymous vs file-backed, and the CPU of the runs (to see that a memory saving costs
 * no time). Variants change one ORT session option or the process environment (MALLOC_ARENA_MAX;
 * bin/facegate.js sets it to 2, this bench's base does not).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { quantile } from '../src/lib/stats.ts';
import { resolveModel } from '../src/models/index.ts';
import { residentByMapping } from './cpu-breakdown.ts';
import { withoutMallocTuning } from './proc.ts';

/** The five models at one camera with liveness on (the shipped defaults), and each one's input. */
const MODELS: readonly { readonly name: string; readonly dims: readonly number[] }[] = [
  { name: 'scrfd_500m', dims: [1, 3, 384, 640] },
  { name: 'w600k_mbf_dq', dims: [1, 3, 112, 112] },
  { name: 'seetaface6_mask', dims: [1, 3, 112, 112] },
  { name: 'minifasnet_v2', dims: [1, 3, 80, 80] },
  { name: 'minifasnet_v1se', dims: [1, 3, 80, 80] },
];

interface Variant {
  readonly name: string;
  readonly options?: ort.InferenceSession.SessionOptions;
  /** ORT session config entries (SessionOptionsAppendConfigEntry), merged into the service's. */
  readonly config?: Record<string, string>;
  readonly env?: Record<string, string>;
}

/** The environment bin/facegate.js starts the service with. */
const SHIPPED_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

export const MEMORY_VARIANTS: readonly Variant[] = [
  { name: 'base' },
  { name: 'pattern-on', options: { enableMemPattern: true } },
  { name: 'arena-off', options: { enableCpuMemArena: false } },
  { name: 'opt-extended', options: { graphOptimizationLevel: 'extended' } },
  { name: 'opt-basic', options: { graphOptimizationLevel: 'basic' } },
  { name: 'malloc-arenas-2', env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'shipped-env', env: SHIPPED_ENV },
  // Weights allocated outside the arena: the arena grows in powers of two, so weights inside it
  // leave slack that activations may never use.
  { name: 'init-outside-arena', env: SHIPPED_ENV, config: { 'session.use_device_allocator_for_initializers': '1' } },
  { name: 'no-prepack', env: SHIPPED_ENV, config: { 'session.disable_prepacking': '1' } },
  // With the fixed mmap threshold a freed large block goes back to the system, so the arena's
  // power-of-two slack may cost more than malloc's fragmentation did without it.
  { name: 'arena-off-shipped', env: SHIPPED_ENV, options: { enableCpuMemArena: false } },
  // glibc's own mmap threshold (malloc-arenas-2) rises to the size of each large block freed, so
  // later large blocks come from the heap and their freed space stays resident; the shipped one is
  // fixed at 128 KiB. Other fixed values:
  { name: 'mmap-threshold-1m', env: { ...SHIPPED_ENV, MALLOC_MMAP_THRESHOLD_: '1048576' } },
  { name: 'mmap-threshold-4m', env: { ...SHIPPED_ENV, MALLOC_MMAP_THRESHOLD_: '4194304' } },
];

/** The service's session options (src/models/session.ts baseOptions with its defaults). */
const SERVICE_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
  interOpNumThreads: 1,
  intraOpNumThreads: 1,
  executionMode: 'sequential',
  enableMemPattern: false,
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

/** 'session.a.b' entries as the nested object onnxruntime-node flattens back into config keys. */
function configTree(config: Record<string, string> | undefined): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config ?? {})) {
    const parts = key.replace(/^session\./, '').split('.');
    let at = tree;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts[parts.length - 1] ?? key] = value;
  }
  return tree;
}

const rssMb = (): number => process.memoryUsage().rss / 1e6;

async function child(variantName: string, runs: number): Promise<void> {
  const v = MEMORY_VARIANTS.find((x) => x.name === variantName);
  if (!v) throw new Error(`unknown variant ${variantName}`);
  const steps: { step: string; rssMb: number }[] = [{ step: 'node + onnxruntime-node loaded', rssMb: rssMb() }];
  const sessions: ort.InferenceSession[] = [];
  let cpuMs = 0;
  for (const m of MODELS) {
    const resolved = await resolveModel(m.name);
    const extra = { ...SERVICE_OPTIONS.extra, session: { ...(SERVICE_OPTIONS.extra as { session: object }).session, ...configTree(v.config) } };
    const s = await ort.InferenceSession.create(resolved.path, { ...SERVICE_OPTIONS, ...v.options, extra });
    sessions.push(s);
    const n = m.dims.reduce((a, b) => a * b, 1);
    const input = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5), [...m.dims]);
    await s.run({ [s.inputNames[0] ?? 'input']: input });
    const c0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) await s.run({ [s.inputNames[0] ?? 'input']: input });
    const c = process.cpuUsage(c0);
    cpuMs += (c.user + c.system) / 1000 / runs;
    steps.push({ step: `+ ${m.name}`, rssMb: rssMb() });
  }
  const mapped = residentByMapping();
  process.stdout.write(JSON.stringify({ variant: v.name, steps, anonMb: mapped.anonMb, fileMb: mapped.fileMb, cpuMsPerRoundOfRuns: cpuMs }) + '\n');
  for (const s of sessions) await s.release();
}

interface ChildResult {
  readonly variant: string;
  readonly steps: readonly { readonly step: string; readonly rssMb: number }[];
  readonly anonMb: number;
  readonly fileMb: number;
  readonly cpuMsPerRoundOfRuns: number;
}

function runChild(v: Variant, runs: number): Promise<ChildResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--child', v.name, '--runs', String(runs)], { env: { ...withoutMallocTuning(process.env), ...v.env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) reject(new Error(`memory child ${v.name} exited ${code}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
}

export async function runMemoryBench(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...args], options: { variants: { type: 'string' }, repeat: { type: 'string', default: '2' }, runs: { type: 'string', default: '20' }, json: { type: 'boolean', default: false }, child: { type: 'string' } } });
  if (values.child) return child(values.child, Number(values.runs));
  const chosen = (values.variants?.split(',') ?? MEMORY_VARIANTS.map((v) => v.name)).map((n) => {
    const v = MEMORY_VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown variant "${n}" (known: ${MEMORY_VARIANTS.map((x) => x.name).join(', ')})`);
    return v;
  });
  const results = new Map<string, ChildResult[]>();
  for (let r = 0; r < Number(values.repeat); r++) {
    for (const v of chosen) {
      const res = await runChild(v, Number(values.runs));
      results.set(v.name, [...(results.get(v.name) ?? []), res]);
      process.stderr.write(`  ${v.name}: ${res.steps.map((s) => `${s.step} ${s.rssMb.toFixed(0)}`).join(', ')} MB; CPU ${res.cpuMsPerRoundOfRuns.toFixed(1)} ms per round of 5 runs\n`);
    }
  }
  if (values.json) {
    for (const [, rs] of results) for (const r of rs) console.log(JSON.stringify(r));
    return;
  }
  console.log('\n| variant | RSS after loading ORT MB | RSS with the 5 sessions MB (runs) | sessions\' share MB | anonymous / file MB | CPU ms per round of the 5 runs |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, rs] of results) {
    const first = rs.map((r) => r.steps[0]?.rssMb ?? 0);
    const last = rs.map((r) => r.steps[r.steps.length - 1]?.rssMb ?? 0);
    console.log(`| ${name} | ${quantile(first, 0.5).toFixed(0)} | ${quantile(last, 0.5).toFixed(0)} (${last.map((x) => x.toFixed(0)).join(' / ')}) | ${(quantile(last, 0.5) - quantile(first, 0.5)).toFixed(0)} | ${quantile(rs.map((r) => r.anonMb), 0.5).toFixed(0)} / ${quantile(rs.map((r) => r.fileMb), 0.5).toFixed(0)} | ${quantile(rs.map((r) => r.cpuMsPerRoundOfRuns), 0.5).toFixed(1)} |`);
  }
}

if (process.argv.includes('--child')) await runMemoryBench(process.argv.slice(2));
