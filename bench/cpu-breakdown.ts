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
import { Session } from 'node:inspector/promises';

export const STAGES = [
  'ingest (pipe read, GDP parse)',
  'letterbox',
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
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<Stage, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const stage = stageOf(node.callFrame.url, node.callFrame.functionName);
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
