/**
 * `npm run bench -- decode [--seconds 15] [--warmup 3] [--repeat 2] [--fps 5] [--variants a,b] [--scene idle|idle-360p|idle-5fps|idle-360p-5fps|door] [--json]`
 *
 * What one camera's gst-launch child costs, pipeline variant by variant, on the real stream: the
 * loopback RTSP server sends the idle door clip (src/demo/door-clip.ts renderIdleClip: 720p H.264
 * at 10 fps, sensor noise, a slow light swing; `--scene door` the demo's door clip instead) without
 * re-encoding, and each variant runs as its own gst-launch child for `--seconds` after `--warmup`,
 * both pipes (the full frame on fd 1, the detector copy on fd 3) written to /dev/null so no reader
 * slows it. Variants are interleaved and repeated (`--repeat`) because this box is shared: read
 * the spread, not one figure. Per run: CPU % of one core (utime + stime of the child from /proc),
 * its RSS at the end, and the time from spawn to the first byte on fd 1 (start-up + first frame).
 * The product pipeline comes from buildPipeline with the camera's options; the floors (`depay`:
 * RTSP + depayload only, `decode`: + decode only) show where the cost is.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prepareDoorClip, demoDataDir } from '../src/demo/demo.ts';
import { renderIdleClip } from '../src/demo/door-clip.ts';
import { RtspTestServer } from '../src/dev/rtsp-server.ts';
import { buildPipeline } from '../src/ingest/pipeline.ts';
import { quantile } from '../src/lib/stats.ts';
import { procStat } from './proc.ts';

interface Variant {
  readonly name: string;
  readonly argv: (url: string, fps: number) => readonly string[];
  readonly env?: Record<string, string>;
}

const product = (edit: (argv: string[]) => string[] = (a) => a) => (url: string, fps: number): readonly string[] =>
  edit([...buildPipeline({ source: { kind: 'rtsp', url }, output: { fps, detectSize: 640 } }).argv]);

/** argv with `extra` inserted after the first entry equal to `after`. */
const insertAfter = (after: string, ...extra: string[]) => (argv: string[]): string[] => {
  const i = argv.indexOf(after);
  if (i < 0) throw new Error(`no ${after} in the pipeline`);
  return [...argv.slice(0, i + 1), ...extra, ...argv.slice(i + 1)];
};
const replaceAll = (from: string, ...to: string[]) => (argv: string[]): string[] => argv.flatMap((a) => (a === from ? to : [a]));
/** argv without an element (and the `!` before it). */
const removeElement = (name: string) => (argv: string[]): string[] => argv.filter((a, i) => a !== name && !(a === '!' && argv[i + 1] === name));
const compose = (...fs: ((a: string[]) => string[])[]) => (argv: string[]): string[] => fs.reduce((a, f) => f(a), argv);

const rtspHead = (url: string): string[] => ['rtspsrc', `location=${url}`, 'protocols=tcp', 'latency=0', '!', 'application/x-rtp,media=video,encoding-name=H264', '!', 'rtph264depay', '!', 'h264parse'];

export const VARIANTS: readonly Variant[] = [
  { name: 'depay', argv: (url) => [...rtspHead(url), '!', 'fakesink', 'sync=false'] },
  { name: 'decode', argv: (url) => [...rtspHead(url), '!', 'avdec_h264', '!', 'fakesink', 'sync=false'] },
  { name: 'decode-1thread', argv: (url) => [...rtspHead(url), '!', 'avdec_h264', 'max-threads=1', '!', 'fakesink', 'sync=false'] },
  { name: 'today', argv: product() },
  { name: 'threads1', argv: product(insertAfter('avdec_h264', 'max-threads=1')) },
  { name: 'slice', argv: product(insertAfter('avdec_h264', 'thread-type=slice')) },
  { name: 'nocorrupt', argv: product(insertAfter('avdec_h264', 'output-corrupt=false')) },
  { name: 'convertscale', argv: product(compose(removeElement('videoscale'), replaceAll('videoconvert', 'videoconvertscale'))) },
  { name: 'dither-none', argv: product(replaceAll('videoconvert', 'videoconvert', 'dither=none')) },
  { name: 'today-malloc-2', argv: product(), env: { MALLOC_ARENA_MAX: '2' } },
  { name: 'nearest', argv: product(replaceAll('videoscale', 'videoscale', 'method=nearest-neighbour')) },
];

async function runOnce(argv: readonly string[], seconds: number, warmupS: number, env: Record<string, string> = {}): Promise<{ cpu: number; rssMB: number; firstByteMs: number }> {
  const devnull = openSync('/dev/null', 'w');
  const t0 = performance.now();
  let firstByteMs = Number.NaN;
  // fd 1 is a pipe only to see the first frame's bytes; fd 3 (the detector copy) goes to /dev/null.
  const child = spawn('gst-launch-1.0', ['-q', '-e', ...argv], { stdio: ['ignore', 'pipe', 'pipe', devnull], env: { ...process.env, ...env } });
  closeSync(devnull);
  if (!child.stdout || !child.stderr) throw new Error('gst-launch started without its pipes');
  child.stdout.on('data', () => {
    if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - t0;
  });
  child.stdout.resume();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    const a = procStat(child.pid);
    if (!a) throw new Error(`gst-launch exited early: ${stderr.trim()}`);
    const ta = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = procStat(child.pid);
    if (!b) throw new Error(`gst-launch exited during the run: ${stderr.trim()}`);
    return { cpu: (100 * (b.cpuS - a.cpuS)) / ((performance.now() - ta) / 1000), rssMB: b.rssMB, firstByteMs };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

export async function runDecodeBench(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { seconds: { type: 'string', default: '15' }, warmup: { type: 'string', default: '3' }, repeat: { type: 'string', default: '2' }, fps: { type: 'string', default: '5' }, variants: { type: 'string' }, scene: { type: 'string', default: 'idle' }, json: { type: 'boolean', default: false } },
  });
  const names = values.variants?.split(',') ?? VARIANTS.map((v) => v.name);
  const chosen = names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v) throw new Error(`unknown variant "${n}" (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
    return v;
  });
  const stateDir = join(process.cwd(), '.facegate/demo');
  // idle: what the e2e bench's idle cameras get; idle-360p: the same scene as a camera's 640x360
  // sub-stream; idle-5fps: a camera set to send 5 fps (key frame every second either way).
  const scenes: Record<string, () => Promise<string>> = {
    door: async () => (await prepareDoorClip(stateDir, demoDataDir())).path,
    idle: async () => (await renderIdleClip(join(stateDir, 'idle-30s.mp4'), { seconds: 30 })).path,
    'idle-360p': async () => (await renderIdleClip(join(stateDir, 'idle-30s-640x360.mp4'), { seconds: 30, width: 640, height: 360 })).path,
    'idle-360p-5fps': async () => (await renderIdleClip(join(stateDir, 'idle-30s-640x360-5fps.mp4'), { seconds: 30, width: 640, height: 360, fps: 5 })).path,
    'idle-5fps': async () => (await renderIdleClip(join(stateDir, 'idle-30s-5fps.mp4'), { seconds: 30, fps: 5 })).path,
  };
  const scene = scenes[values.scene];
  if (!scene) throw new Error(`unknown --scene ${values.scene} (known: ${Object.keys(scenes).join(', ')})`);
  const clip = await scene();
  const server = await RtspTestServer.start({ clip, passthrough: true });
  const results = new Map<string, { cpu: number[]; rss: number[]; first: number[] }>();
  try {
    for (let r = 0; r < Number(values.repeat); r++) {
      for (const v of chosen) {
        const res = await runOnce(v.argv(server.url('/clip'), Number(values.fps)), Number(values.seconds), Number(values.warmup), v.env);
        const e = results.get(v.name) ?? { cpu: [], rss: [], first: [] };
        e.cpu.push(res.cpu);
        e.rss.push(res.rssMB);
        e.first.push(res.firstByteMs);
        results.set(v.name, e);
        process.stderr.write(`  ${v.name}: ${res.cpu.toFixed(1)} % CPU, RSS ${res.rssMB.toFixed(0)} MB, first byte ${res.firstByteMs.toFixed(0)} ms\n`);
      }
    }
  } finally {
    await server.stop();
  }
  if (values.json) {
    for (const [name, e] of results) console.log(JSON.stringify({ variant: name, scene: values.scene, cpuPercent: e.cpu, rssMb: e.rss, firstByteMs: e.first }));
    return;
  }
  console.log(`\n| variant (${values.scene}, ${values.fps} fps out) | gst CPU % of one core (median; runs) | RSS MB | spawn -> first frame ms |`);
  console.log('|---|---:|---:|---:|');
  for (const [name, e] of results) {
    console.log(`| ${name} | ${quantile(e.cpu, 0.5).toFixed(1)} (${e.cpu.map((c) => c.toFixed(1)).join(' / ')}) | ${quantile(e.rss, 0.5).toFixed(0)} | ${quantile(e.first, 0.5).toFixed(0)} |`);
  }
}
