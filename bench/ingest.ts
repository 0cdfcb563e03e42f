/**
 * `npm run bench -- ingest [--sizes 640x480,1280x720] [--cams 1,4] [--fps 30] [--seconds 8] [--detect-size 0,640]`
 *
 * `--detect-size`: per value, the cameras run with that detector copy (cameras[].detectScale:
 * a second, GStreamer-scaled stream on fd 3, paired in JS); 0 = none (the default).
 *
 * Real H.264 over real RTSP from the loopback test server into JS, per stream size x camera count:
 * - fps per camera actually delivered to JS (the server sends --fps);
 * - CPU: each gst-launch child from /proc/<pid>/stat, Node (all cameras together) from
 *   process.cpuUsage, and the RTSP server (encoding) for context — % of one core;
 * - latency from rtspsrc to JS: GStreamer's clock is CLOCK_MONOTONIC, and so is Node's
 *   process.hrtime. The pipeline's base_time is read from its own debug log (GST_DEBUG=pipeline:5,
 *   bench only), so for each frame `arrival_in_JS - (base_time + PTS)` is the time from rtspsrc
 *   stamping the RTP data (its arrival, latency=0) through depay, decode, convert, queue, gdppay, pipe
 *   and GDP parsing until the frame exists in JS. Encoding and the network are not included;
 * - the pipe copy cost: time spent in JS reading/parsing/copying each frame off the pipe.
 */
import { parseArgs } from 'node:util';
import { cpuSeconds } from './proc.ts';
import { quantile } from '../src/lib/stats.ts';
import type { Subscription } from 'rxjs';
import { buildPipeline, GstLaunchSource, type SourceEvent } from '../src/ingest/index.ts';
import { RtspTestServer } from '../test/helpers/rtsp.ts';

interface CameraSample {
  pid: number | undefined;
  baseTimeNs: bigint | undefined;
  frames: number;
  latenciesMs: number[];
  readNs: number;
  bytes: number;
  lastOffset: number | undefined;
  dropped: number;
  unpaired: number;
  counting: boolean;
}

export interface IngestBenchRow {
  readonly size: string;
  /** Long side of the detector copy; 0 = none. */
  readonly detectSize: number;
  readonly cams: number;
  readonly serverFps: number;
  readonly fpsPerCam: number;
  readonly gstCpuPerCam: number;
  readonly nodeCpu: number;
  readonly serverCpu: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly copyUsPerFrame: number;
  readonly copyMBps: number;
  readonly droppedPerCam: number;
  /** Frames or copies dropped without a partner (detector copy runs only). */
  readonly unpairedPerCam: number;
}

/** `... base_time 0:43:36.515478126` -> ns. */
function parseBaseTime(line: string): bigint | undefined {
  const m = /base_time (\d+):(\d\d):(\d\d)\.(\d{9})/.exec(line);
  if (!m) return undefined;
  return (BigInt(m[1]) * 3600n + BigInt(m[2]) * 60n + BigInt(m[3])) * 1_000_000_000n + BigInt(m[4]);
}

async function measure(server: RtspTestServer, size: string, cams: number, fps: number, seconds: number, detectSize: number): Promise<IngestBenchRow> {
  const source = new GstLaunchSource();
  const pipeline = buildPipeline({ source: { kind: 'rtsp', url: server.url() }, output: { detectSize: detectSize || undefined } });
  const samples: CameraSample[] = [];
  const subs: Subscription[] = [];
  for (let i = 0; i < cams; i++) {
    const s: CameraSample = { pid: undefined, baseTimeNs: undefined, frames: 0, latenciesMs: [], readNs: 0, bytes: 0, lastOffset: undefined, dropped: 0, unpaired: 0, counting: false };
    samples.push(s);
    subs.push(
      source.run(pipeline, { secrets: [], source: { kind: 'rtsp', url: server.url() } }).subscribe((ev: SourceEvent) => {
        if (ev.type === 'started') s.pid = ev.pid;
        else if (ev.type === 'stderr') s.baseTimeNs = parseBaseTime(ev.line) ?? s.baseTimeNs;
        else if (ev.type === 'frame') {
          const arrival = process.hrtime.bigint();
          if (ev.offset !== undefined && s.lastOffset !== undefined && ev.offset > s.lastOffset + 1 && s.counting) s.dropped += ev.offset - s.lastOffset - 1;
          s.lastOffset = ev.offset;
          if (!s.counting) return;
          s.frames++;
          s.unpaired += ev.unpaired;
          s.readNs += ev.readNs;
          s.bytes += ev.bytes;
          if (s.baseTimeNs !== undefined && ev.pts !== undefined) s.latenciesMs.push(Number(arrival - s.baseTimeNs - BigInt(ev.pts)) / 1e6);
        } else if (ev.type === 'ended') process.stderr.write(`camera ended early: ${ev.reason.message}\n`);
      }),
    );
  }
  // Warm up: every camera connected and past its first keyframe.
  const deadline = Date.now() + 20_000;
  while (samples.some((s) => s.lastOffset === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1500));

  const gst0 = samples.map((s) => cpuSeconds(s.pid));
  const server0 = cpuSeconds(server.pid);
  const node0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  samples.forEach((s) => (s.counting = true));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  samples.forEach((s) => (s.counting = false));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const node = process.cpuUsage(node0);
  const gstCpu = samples.map((s, i) => ((cpuSeconds(s.pid) - gst0[i]) / wall) * 100);
  const serverCpu = ((cpuSeconds(server.pid) - server0) / wall) * 100;
  subs.forEach((sub) => sub.unsubscribe());

  const latencies = samples.flatMap((s) => s.latenciesMs);
  const frames = samples.reduce((a, s) => a + s.frames, 0);
  const readNs = samples.reduce((a, s) => a + s.readNs, 0);
  const bytes = samples.reduce((a, s) => a + s.bytes, 0);
  return {
    size,
    detectSize,
    cams,
    serverFps: fps,
    fpsPerCam: frames / cams / wall,
    gstCpuPerCam: gstCpu.reduce((a, b) => a + b, 0) / cams,
    nodeCpu: ((node.user + node.system) / 1e6 / wall) * 100,
    serverCpu,
    latencyP50Ms: quantile(latencies, 0.5),
    latencyP99Ms: quantile(latencies, 0.99),
    copyUsPerFrame: frames ? readNs / frames / 1e3 : NaN,
    copyMBps: readNs ? bytes / 2 ** 20 / (readNs / 1e9) : NaN,
    droppedPerCam: samples.reduce((a, s) => a + s.dropped, 0) / cams,
    unpairedPerCam: samples.reduce((a, s) => a + s.unpaired, 0) / cams,
  };
}

export function formatIngestTable(rows: readonly IngestBenchRow[]): string {
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  const lines = [
    '| stream | detector copy | cams | fps/cam (sent) | gst CPU %/cam | Node CPU % (all cams) | server CPU % | rtspsrc->JS latency p50 / p99 ms | pipe copy µs/frame (MB/s) | dropped/cam | unpaired/cam |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.size} H.264 | ${r.detectSize ? `<= ${r.detectSize} (fd 3)` : 'none'} | ${r.cams} | ${f1(r.fpsPerCam)} (${r.serverFps}) | ${f1(r.gstCpuPerCam)} | ${f1(r.nodeCpu)} | ${f1(r.serverCpu)} | ${f1(r.latencyP50Ms)} / ${f1(r.latencyP99Ms)} | ${r.copyUsPerFrame.toFixed(0)} (${r.copyMBps.toFixed(0)}) | ${r.droppedPerCam.toFixed(0)} | ${r.detectSize ? r.unpairedPerCam.toFixed(0) : '-'} |`,
    );
  }
  return lines.join('\n');
}

export async function runIngestBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '640x480,1280x720' },
      cams: { type: 'string', default: '1,4' },
      fps: { type: 'string', default: '30' },
      seconds: { type: 'string', default: '8' },
      'detect-size': { type: 'string', default: '0' },
    },
  });
  const fps = Number(values.fps);
  const seconds = Number(values.seconds);
  const rows: IngestBenchRow[] = [];
  for (const size of values.sizes.split(',')) {
    const [width, height] = size.split('x').map(Number);
    const server = await RtspTestServer.start({ width, height, fps });
    // Only the pipelines started from here on log their base_time (the server is already running).
    process.env.GST_DEBUG = 'pipeline:5';
    process.env.GST_DEBUG_NO_COLOR = '1';
    try {
      for (const cams of values.cams.split(',').map(Number)) {
        for (const detectSize of values['detect-size'].split(',').map(Number)) {
          process.stderr.write(`ingest bench: ${size} x ${cams} camera(s), detector copy ${detectSize || 'none'}, ${seconds} s...\n`);
          rows.push(await measure(server, size, cams, fps, seconds, detectSize));
        }
      }
    } finally {
      delete process.env.GST_DEBUG;
      delete process.env.GST_DEBUG_NO_COLOR;
      await server.stop();
    }
  }
  process.stdout.write(`${formatIngestTable(rows)}\n`);
  process.stdout.write(
    `\nLatency: JS arrival (process.hrtime) minus the frame's pipeline time (base_time + PTS), both CLOCK_MONOTONIC: rtspsrc receipt -> depay -> avdec_h264 -> RGB convert -> leaky queue -> gdppay -> pipe -> GDP parse. Pipe copy: JS time reading + parsing + copying a frame off the pipe. CPU % is of one core; this machine has ${(await import('node:os')).cpus().length}.\n`,
  );
}
