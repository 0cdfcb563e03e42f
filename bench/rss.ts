/**
 * `npm run bench -- rss [--variants base,...] [--scene door|idle|idle-360p-5fps] [--decoder cpu|openh264] [--idle-decode all|keyframes] [--seconds 20] [--warmup 8] [--repeat 2] [--json]`
 *
 * Resident memory of the real service at one camera, as an operator sees it: `facegate run` (its
 * own process, node with bin/facegate.js's flags on the compiled build (`npm run build` first), as
 * package.json starts it; variant `tsx`: the sources) on a
 * config with one 720p camera served by the loopback RTSP server (the demo's door clip, or the
 * idle door), the shipped defaults otherwise (liveness on, detector copy, motion gate). Sampled
 * every 500 ms after `--warmup`: the service's RSS plus its gst-launch child's, max and last; at
 * the end the service's anonymous vs file-backed memory (smaps) and the child's. Unlike the e2e
 * bench (which holds the camera in the bench's own process, beside the gallery enrolment and its
 * raw SCRFD run), nothing else lives in the measured process. Variants: `shipped` (the node flags
 * and environment of bin/facegate.js's shebang), `old-flags` (only --initial-old-space-size=64, the
 * launch before the memory flags), `tsx` (shipped, from the sources).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { demoDataDir, enrollDemoGallery, prepareDoorClip } from '../src/demo/demo.ts';
import { renderIdleClip } from '../src/demo/door-clip.ts';
import { RtspTestServer } from '../src/dev/rtsp-server.ts';
import { PROJECT_ROOT } from '../src/paths.ts';
import { quantile } from '../src/lib/stats.ts';
import { procStat, withoutMallocTuning } from './proc.ts';

interface Variant {
  readonly name: string;
  readonly nodeFlags?: readonly string[];
  readonly env?: Record<string, string>;
}

/**
 * How bin/facegate.js starts node: the environment assignments and node flags of its
 * `#!/usr/bin/env -S ...` line, so the bench measures what ships.
 */
export function shebangLaunch(firstLine: string): { env: Record<string, string>; nodeFlags: string[] } {
  const words = firstLine.replace(/^#!\S*env\s+-S\s+/, '').trim().split(/\s+/);
  const env: Record<string, string> = {};
  const nodeFlags: string[] = [];
  let seenNode = false;
  for (const w of words) {
    if (!seenNode && /^[A-Z_][A-Z0-9_]*=/.test(w)) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    else if (!seenNode && w === 'node') seenNode = true;
    else if (seenNode) nodeFlags.push(w);
  }
  return { env, nodeFlags };
}

const shipped = shebangLaunch(readFileSync(join(PROJECT_ROOT, 'bin/facegate.js'), 'utf8').split('\n')[0] ?? '');

export const RSS_VARIANTS: readonly Variant[] = [
  { name: 'shipped', nodeFlags: shipped.nodeFlags, env: shipped.env },
  // The launch before the memory flags (the ORT session options are what the code says either way).
  { name: 'old-flags', nodeFlags: ['--initial-old-space-size=64'] },
  { name: 'tsx', nodeFlags: shipped.nodeFlags, env: shipped.env },
  // The launch before the fixed mmap threshold (the gst children never get it: src/ingest/source.ts).
  { name: 'no-mmap-threshold', nodeFlags: shipped.nodeFlags, env: Object.fromEntries(Object.entries(shipped.env).filter(([k]) => k !== 'MALLOC_MMAP_THRESHOLD_')) },
  // Dead frames awaiting collection: the same launch with a full GC forced every second.
  { name: 'full-gc-1s', nodeFlags: [...shipped.nodeFlags, '--expose-gc', '--require', join(PROJECT_ROOT, 'bench/full-gc-every-second.cjs')], env: shipped.env },
  { name: 'one-malloc-arena', nodeFlags: shipped.nodeFlags, env: { ...shipped.env, MALLOC_ARENA_MAX: '1' } },
  { name: 'mmap-1m', nodeFlags: shipped.nodeFlags, env: { ...shipped.env, MALLOC_MMAP_THRESHOLD_: '1048576' } },
  // A young generation large enough that a frame's objects die young: their ArrayBuffers are freed
  // at the next scavenge instead of waiting in old space for a full GC.
  { name: 'semi-4', nodeFlags: shipped.nodeFlags.map((f) => (f.startsWith('--max-semi-space-size=') ? '--max-semi-space-size=4' : f)), env: shipped.env },
  { name: 'no-mmap-threshold-semi-4', nodeFlags: shipped.nodeFlags.map((f) => (f.startsWith('--max-semi-space-size=') ? '--max-semi-space-size=4' : f)), env: Object.fromEntries(Object.entries(shipped.env).filter(([k]) => k !== 'MALLOC_MMAP_THRESHOLD_')) },
  { name: 'semi-8', nodeFlags: shipped.nodeFlags.map((f) => (f.startsWith('--max-semi-space-size=') ? '--max-semi-space-size=8' : f)), env: shipped.env },
  // The launch before frames reused their memory: V8's old generation starting at 64 MB.
  { name: 'initial-old-64', nodeFlags: ['--initial-old-space-size=64', ...shipped.nodeFlags], env: shipped.env },
  // V8's collector without its helper threads (marking, scavenging and sweeping on the main thread).
  { name: 'single-threaded-gc', nodeFlags: [...shipped.nodeFlags, '--single-threaded-gc'], env: shipped.env },
  { name: 'semi-16', nodeFlags: shipped.nodeFlags.map((f) => (f.startsWith('--max-semi-space-size=') ? '--max-semi-space-size=16' : f)), env: shipped.env },
];

/**
 * Proportional set size in MB (smaps_rollup): a shared page counted once across the processes that
 * map it, so the service and its gst children's PSS add up to what they take from the box; RSS
 * counts each shared library page in every process.
 */
function pssMb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Anonymous and file-backed resident MB of a process (smaps). */
function smapsOf(pid: number): { anonMb: number; fileMb: number } {
  let anon = 0;
  let file = 0;
  let current: 'anon' | 'file' = 'anon';
  try {
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
      if (head) current = head[1] !== '0' && head[2]?.startsWith('/') ? 'file' : 'anon';
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) {
        if (current === 'file') file += Number(rss[1]);
        else anon += Number(rss[1]);
      }
    }
  } catch {
    // gone
  }
  return { anonMb: anon / 1024, fileMb: file / 1024 };
}

function gstChildren(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.ppid === pid && st.comm.startsWith('gst-launch')) out.push(Number(name));
  }
  return out;
}

interface RssRun {
  readonly variant: string;
  readonly maxMb: number;
  readonly lastMb: number;
  /** Max over the samples of the service's + children's PSS. */
  readonly maxPssMb: number;
  readonly serviceMb: number;
  readonly childMb: number;
  readonly serviceAnonMb: number;
  readonly serviceFileMb: number;
  readonly serviceCpuPercent: number;
  readonly childCpuPercent: number;
}

async function runService(v: Variant, configPath: string, warmupS: number, seconds: number): Promise<RssRun> {
  const flags = v.nodeFlags ?? [];
  // The compiled build directly (bin/facegate.js would fall back to tsx whenever any source file
  // is newer than the build), or the sources under tsx (variant `tsx`).
  const entry = v.name === 'tsx' ? [join(PROJECT_ROOT, 'bin/facegate.js')] : [join(PROJECT_ROOT, 'dist/src/cli/main.js')];
  const child: ChildProcess = spawn(process.execPath, [...flags, ...entry, 'run', '--config', configPath, '--no-watch'], { env: { ...withoutMallocTuning(process.env), FACEGATE_FROM_SOURCE: v.name === 'tsx' ? '1' : '0', ...v.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid;
  if (pid === undefined) throw new Error('facegate run did not start');
  try {
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    const s0 = procStat(pid);
    const kids0 = gstChildren(pid);
    if (!s0 || kids0.length === 0) throw new Error(`the service is not running a camera after ${warmupS} s: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    // CPU per child pid, first and last seen: a child that exits in the window (the camera
    // reconnects when the clip ends, idle decoding restarts its decoder) keeps what it used until
    // the last sample, and one born in the window counts from zero (a difference of two sums over
    // different children went negative).
    const childCpu = new Map<number, { first: number; last: number }>();
    const sampleChildCpu = (kids: readonly number[], atStart = false): void => {
      for (const k of kids) {
        const cpuS = procStat(k)?.cpuS;
        if (cpuS === undefined) continue;
        childCpu.set(k, { first: childCpu.get(k)?.first ?? (atStart ? cpuS : 0), last: cpuS });
      }
    };
    sampleChildCpu(kids0, true);
    let maxMb = 0;
    let lastMb = 0;
    let serviceMb = 0;
    let childMb = 0;
    let maxPssMb = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      serviceMb = procStat(pid)?.rssMB ?? 0;
      const kids = gstChildren(pid);
      sampleChildCpu(kids);
      childMb = kids.reduce((a, k) => a + (procStat(k)?.rssMB ?? 0), 0);
      lastMb = serviceMb + childMb;
      maxMb = Math.max(maxMb, lastMb);
      maxPssMb = Math.max(maxPssMb, [pid, ...kids].reduce((a, k) => a + pssMb(k), 0));
    }
    const wallS = (performance.now() - t0) / 1000;
    const s1 = procStat(pid);
    sampleChildCpu(gstChildren(pid));
    const childCpuS = [...childCpu.values()].reduce((a, c) => a + (c.last - c.first), 0);
    const smaps = smapsOf(pid);
    return { variant: v.name, maxMb, lastMb, maxPssMb, serviceMb, childMb, serviceAnonMb: smaps.anonMb, serviceFileMb: smaps.fileMb, serviceCpuPercent: (100 * ((s1?.cpuS ?? 0) - s0.cpuS)) / wallS, childCpuPercent: (100 * childCpuS) / wallS };
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    child.kill('SIGKILL');
  }
}

export async function runRssBench(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...args], options: { variants: { type: 'string' }, scene: { type: 'string', default: 'door' }, decoder: { type: 'string', default: 'cpu' }, seconds: { type: 'string', default: '20' }, warmup: { type: 'string', default: '8' }, repeat: { type: 'string', default: '2' }, 'idle-decode': { type: 'string', default: 'all' }, json: { type: 'boolean', default: false } } });
  const idleDecode = values['idle-decode'];
  if (idleDecode !== 'all' && idleDecode !== 'keyframes') throw new Error(`--idle-decode takes all or keyframes, not "${idleDecode}"`);
  const chosen = (values.variants?.split(',') ?? RSS_VARIANTS.map((v) => v.name)).map((n) => {
    const v = RSS_VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown variant "${n}" (known: ${RSS_VARIANTS.map((x) => x.name).join(', ')})`);
    return v;
  });
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-rss-'));
  const stateDir = join(process.cwd(), '.facegate/demo');
  const dataDir = demoDataDir();
  // idle: the idle door at 720p, 10 fps (the e2e bench's idle camera); idle-360p-5fps: the same
  // scene as a camera's 640x360 sub-stream at 5 fps.
  const scenes: Record<string, () => Promise<string>> = {
    door: async () => (await prepareDoorClip(stateDir, dataDir)).path,
    idle: async () => (await renderIdleClip(join(stateDir, 'idle-30s.mp4'), { seconds: 30 })).path,
    'idle-360p-5fps': async () => (await renderIdleClip(join(stateDir, 'idle-30s-640x360-5fps.mp4'), { seconds: 30, width: 640, height: 360, fps: 5 })).path,
  };
  const scene = scenes[values.scene];
  if (!scene) throw new Error(`unknown --scene ${values.scene} (known: ${Object.keys(scenes).join(', ')})`);
  const clip = await scene();
  // The camera's decoder preset: cpu (libav, the default) or openh264.
  const decoder = values.decoder;
  if (decoder !== 'cpu' && decoder !== 'openh264') throw new Error(`--decoder takes cpu or openh264, not "${decoder}"`);
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, dataDir);
  const rtsp = await RtspTestServer.start({ clip, passthrough: true });
  const configPath = join(dir, 'config.yaml');
  // JSON is YAML: one camera, one gate, the shipped defaults for everything else.
  writeFileSync(
    configPath,
    JSON.stringify({ server: { port: 0 }, cameras: [{ id: 'cam1', url: rtsp.url('/clip'), fps: 5, motion: { idleDecode }, decoder }], gates: [{ id: 'front-door', cameras: ['cam1'], allow: { groups: ['staff'] } }], gallery: { db: galleryDb }, events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } } }),
  );
  const runs: RssRun[] = [];
  try {
    for (let r = 0; r < Number(values.repeat); r++) {
      for (const v of chosen) {
        const res = await runService(v, configPath, Number(values.warmup), Number(values.seconds));
        runs.push(res);
        process.stderr.write(`  ${v.name}: max ${res.maxMb.toFixed(0)} MB (PSS ${res.maxPssMb.toFixed(0)}; service ${res.serviceMb.toFixed(0)}: anon ${res.serviceAnonMb.toFixed(0)} + file ${res.serviceFileMb.toFixed(0)}; gst ${res.childMb.toFixed(0)}), CPU service ${res.serviceCpuPercent.toFixed(1)} % + gst ${res.childCpuPercent.toFixed(1)} %\n`);
      }
    }
  } finally {
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) {
    for (const r of runs) console.log(JSON.stringify(r));
    return;
  }
  console.log(`\n| variant (${values.scene}, decoder ${values.decoder}, idle decode ${idleDecode}, 1 camera) | RSS max MB, service + gst (runs) | PSS max MB | service MB (anon / file) | gst child MB | service CPU % | gst CPU % |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const v of chosen) {
    const rs = runs.filter((r) => r.variant === v.name);
    const med = (f: (r: RssRun) => number): number => quantile(rs.map(f), 0.5);
    console.log(`| ${v.name} | ${med((r) => r.maxMb).toFixed(0)} (${rs.map((r) => r.maxMb.toFixed(0)).join(' / ')}) | ${med((r) => r.maxPssMb).toFixed(0)} | ${med((r) => r.serviceMb).toFixed(0)} (${med((r) => r.serviceAnonMb).toFixed(0)} / ${med((r) => r.serviceFileMb).toFixed(0)}) | ${med((r) => r.childMb).toFixed(0)} | ${med((r) => r.serviceCpuPercent).toFixed(1)} | ${med((r) => r.childCpuPercent).toFixed(1)} |`);
  }
}
