/**
 * Where Node's CPU goes per processed frame, for the e2e bench. Two real measurements:
 * - the main (JavaScript) thread's CPU from /proc/self/task/<pid>/stat, split into stages by a
 *   sampling CPU profile of that thread (node:inspector, 1 ms) taken over the same window: each
 *   sample's function is mapped to a stage by its source file;
 * - every other thread of the process (ONNX Runtime's model runs on their worker threads and
 *   intra-op pools, sharp/libvips encoding snapshots and live frames, V8's GC helpers): process
 *   CPU minus main-thread CPU.
 * The stages sum to the process's measured CPU by construction; what a sample cannot place is
 * "other (Node internals, program)".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export const STAGES = [
  'ingest (pipe read, GDP parse)',
  'letterbox',
  'model runs on the main thread (ONNX Runtime)',
  'model hand-off (worker messages)',
  'decode + NMS',
  'tracking',
  'recognition (align, quality, crops)',
  'gates + RxJS wiring',
  'event log (SQLite)',
  'snapshots + live frames (JS side)',
  'API / WebSocket',
  'GC (main thread)',
  'other (Node internals, program)',
  'model runs + image encoding (other threads)',
] as const;
export type Stage = (typeof STAGES)[number];

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

/**
 * Each sampled node's source for attribution: a native frame (no URL: an addon's method such as
 * ONNX Runtime's run, a Node builtin in C++) counts for the nearest JavaScript caller above it.
 */
function attributedFrames(profile: Profile): Map<number, { url: string; functionName: string }> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const special = new Set(['(idle)', '(garbage collector)', '(program)', '(root)']);
  const out = new Map<number, { url: string; functionName: string }>();
  for (const n of profile.nodes) {
    let cur: ProfileNode | undefined = n;
    if (!special.has(n.callFrame.functionName)) {
      while (cur && !cur.callFrame.url && parent.has(cur.id)) cur = byId.get(parent.get(cur.id) ?? -1);
      if (!cur || !cur.callFrame.url) cur = n;
    }
    out.set(n.id, { url: cur.callFrame.url, functionName: cur === n ? n.callFrame.functionName : `${n.callFrame.functionName || '(native)'} <- ${cur.callFrame.functionName}` });
  }
  return out;
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The stage a sampled function belongs to, from its source (undefined: idle). */
export function stageOf(url: string, fn: string): Stage | undefined {
  if (fn === '(idle)') return undefined;
  if (fn === '(garbage collector)') return 'GC (main thread)';
  const u = url.replace(/\\/g, '/');
  if (/\/src\/detect\/letterbox\./.test(u)) return 'letterbox';
  if (/\/src\/detect\//.test(u)) return 'decode + NMS';
  // onnxruntime-node runs a session synchronously inside its JS run(): native time lands on that frame.
  if (/node_modules\/onnxruntime-(node|common)\//.test(u)) return 'model runs on the main thread (ONNX Runtime)';
  if (/\/src\/models\//.test(u) || /node:internal\/worker/.test(u) || /postMessage|structuredClone/.test(fn)) return 'model hand-off (worker messages)';
  if (/\/src\/ingest\//.test(u) || /node:internal\/(streams|child_process)|node:net|node:internal\/stream_base/.test(u)) return 'ingest (pipe read, GDP parse)';
  if (/\/src\/track\//.test(u)) return 'tracking';
  if (/\/src\/recognize\//.test(u) || /\/src\/gallery\//.test(u)) return 'recognition (align, quality, crops)';
  if (/\/src\/events\/snapshots|\/src\/app\/live-frames|node_modules\/sharp\//.test(u)) return 'snapshots + live frames (JS side)';
  if (/\/src\/events\/|node_modules\/better-sqlite3\//.test(u)) return 'event log (SQLite)';
  if (/\/src\/api\/|node_modules\/ws\/|node:_http|node:http|node:internal\/http/.test(u)) return 'API / WebSocket';
  if (/\/src\/gates\/|\/streams\/|node_modules\/rxjs\/|\/src\/app\//.test(u)) return 'gates + RxJS wiring';
  return 'other (Node internals, program)';
}

/** Self time per stage (ms) in a V8 CPU profile; idle samples left out. */
export function profileStages(profile: Profile): Map<Stage, number> {
  const frames = attributedFrames(profile);
  const out = new Map<Stage, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const f = frames.get(profile.samples[i]);
    if (!f) continue;
    const stage = stageOf(f.url, f.functionName);
    if (stage) out.set(stage, (out.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  return out;
}

export class MainThreadProfiler {
  private readonly session = new Session();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 1000 });
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<Profile> {
    const { profile } = (await this.session.post('Profiler.stop')) as { profile: Profile };
    await this.session.post('Profiler.disable');
    this.session.disconnect();
    return profile;
  }
}

/**
 * CPU ms per processed frame by stage: the main thread's measured CPU shared out by the profile's
 * proportions, plus the other threads' CPU; sums to (processCpuS * 1000) / frames.
 */
export function breakdownPerFrame(profile: Profile, mainCpuS: number, processCpuS: number, frames: number): Record<Stage, number> {
  const stages = profileStages(profile);
  const sampled = [...stages.values()].reduce((a, b) => a + b, 0);
  const perFrame = (ms: number): number => ms / Math.max(1, frames);
  const out = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (const [stage, ms] of stages) out[stage] = perFrame(sampled > 0 ? (ms / sampled) * mainCpuS * 1000 : 0);
  out['model runs + image encoding (other threads)'] = perFrame(Math.max(0, processCpuS - mainCpuS) * 1000);
  return out;
}

/** The functions with the most self time in the "other" stage (what to look at next). */
export function topOther(profile: Profile, n = 5): { name: string; share: number }[] {
  const frames = attributedFrames(profile);
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const f = frames.get(profile.samples[i]);
    if (!f) continue;
    const stage = stageOf(f.url, f.functionName);
    if (!stage) continue;
    const d = profile.timeDeltas[i] ?? 0;
    total += d;
    if (stage !== 'other (Node internals, program)') continue;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}`.trim();
    self.set(key, (self.get(key) ?? 0) + d);
  }
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, v]) => ({ name, share: total > 0 ? v / total : 0 }));
}

/** CPU seconds of every live thread of this process (/proc/self/task), by thread id. */
export function threadCpuSeconds(clockTicks = 100): Map<number, { comm: string; cpuS: number }> {
  const out = new Map<number, { comm: string; cpuS: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const f = s.slice(close + 2).split(' ');
      out.set(Number(tid), { comm: s.slice(s.indexOf('(') + 1, close), cpuS: (Number(f[11]) + Number(f[12])) / clockTicks });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * The other threads' CPU between two snapshots, grouped by thread name (ORT's pool threads carry
 * the process's name; V8's are "V8 DefaultWorke", libuv's "libuv-worker"): seconds per group and
 * the number of threads that used any CPU. Threads that ended in between are lost (none do here).
 */
export function otherThreadsByName(before: Map<number, { comm: string; cpuS: number }>, after: Map<number, { comm: string; cpuS: number }>, mainTid = process.pid): { name: string; cpuS: number; threads: number }[] {
  const groups = new Map<string, { cpuS: number; threads: number }>();
  for (const [tid, a] of after) {
    if (tid === mainTid) continue;
    const d = a.cpuS - (before.get(tid)?.cpuS ?? 0);
    if (d <= 0) continue;
    const g = groups.get(a.comm) ?? { cpuS: 0, threads: 0 };
    g.cpuS += d;
    g.threads++;
    groups.set(a.comm, g);
  }
  return [...groups].map(([name, g]) => ({ name, ...g })).sort((x, y) => y.cpuS - x.cpuS);
}

/**
 * This process's resident memory by mapping (/proc/self/smaps): anonymous memory (V8 heap, malloc:
 * frames, ORT arenas and weights) apart from mapped files (node, onnxruntime, libvips code), in MB,
 * with the largest file mappings; for telling what makes RSS.
 */
export function residentByMapping(top = 6): { anonMb: number; fileMb: number; largestFiles: { name: string; mb: number }[] } {
  let text = '';
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return { anonMb: 0, fileMb: 0, largestFiles: [] };
  }
  const byFile = new Map<string, number>();
  let anonKb = 0;
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] ?? '';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss) continue;
    const kb = Number(rss[1]);
    if (name.startsWith('/') && !name.includes('(deleted)')) byFile.set(name, (byFile.get(name) ?? 0) + kb);
    else anonKb += kb;
  }
  const fileKb = [...byFile.values()].reduce((a, b) => a + b, 0);
  const largestFiles = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top).map(([n, kb]) => ({ name: n.replace(/^.*\//, ''), mb: kb / 1024 }));
  return { anonMb: anonKb / 1024, fileMb: fileKb / 1024, largestFiles };
}
