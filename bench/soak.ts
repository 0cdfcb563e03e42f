/**
 * `npm run bench -- soak [--minutes 30] [--cams 4] [--fps 5] [--kill-every 60] [--sample 30] [--warmup M]`
 *
 * A long run of the whole chain under camera faults: N RTSP cameras (the loopback server streams
 * the demo's door clip, with basic auth so the cameras' URLs carry a password) through
 * startService (ingest -> detect -> track -> recognise -> gates -> event log -> WebSocket), one
 * WebSocket client receiving every event, and the RTSP server killed with SIGKILL and restarted on
 * the same port every --kill-every seconds. Every --sample seconds it records RSS, heap used, open
 * file descriptors (/proc/self/fd), child processes, events received, frames detected and camera
 * up/down counts. At the end: the table, the RSS slope after the warm-up (% per 10 minutes, least
 * squares), fd count first/last, whether every event id the client received is in the event log,
 * and whether the camera password ever reached a log line.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { sha256Hex } from '../src/api/auth.ts';
import { startService } from '../src/app/service.ts';
import { watchEvents } from '../src/client/watch.ts';
import { parseConfig } from '../src/config/index.ts';
import { demoDataDir, enrollDemoGallery, prepareDoorClip } from '../src/demo/demo.ts';
import { RtspTestServer } from '../src/dev/rtsp-server.ts';
import { createLogger } from '../src/log.ts';

const TOKEN = 'soak-viewer-token-0123456789';
const CAMERA_PASSWORD = 'S0ak-Secret@door';

export interface SoakSample {
  readonly atS: number;
  readonly rssMB: number;
  readonly heapMB: number;
  readonly fds: number;
  readonly children: number;
  readonly events: number;
  readonly processed: number;
  readonly ups: number;
  readonly downs: number;
  readonly kills: number;
}

/** Least-squares slope of y over x. Pure. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return Number.NaN;
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** RSS growth after the warm-up in % of the mean RSS per 10 minutes. NaN with under 2 samples. */
export function rssSlopePctPer10Min(samples: readonly SoakSample[], warmupS: number): number {
  const after = samples.filter((s) => s.atS >= warmupS);
  const k = slope(
    after.map((s) => s.atS),
    after.map((s) => s.rssMB),
  );
  const mean = after.reduce((a, s) => a + s.rssMB, 0) / Math.max(1, after.length);
  return (k * 600 * 100) / mean;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Live (non-zombie) child processes of this process. */
function childProcesses(): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') n++;
    } catch {
      // exited while listing
    }
  }
  return n;
}

export async function runSoakBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      minutes: { type: 'string', default: '30' },
      cams: { type: 'string', default: '4' },
      fps: { type: 'string', default: '5' },
      'kill-every': { type: 'string', default: '60' },
      sample: { type: 'string', default: '30' },
      warmup: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  const cams = Number(values.cams);
  const fps = Number(values.fps);
  const killEveryS = Number(values['kill-every']);
  const sampleS = Number(values.sample);
  const warmupS = 60 * (values.warmup !== undefined ? Number(values.warmup) : Math.min(5, minutes / 3));
  if (!(minutes > 0) || !Number.isInteger(cams) || cams < 1 || !(fps > 0) || !(killEveryS > 0) || !(sampleS > 0) || !(warmupS >= 0)) {
    throw new Error('usage: npm run bench -- soak [--minutes 30] [--cams 4] [--fps 5] [--kill-every 60] [--sample 30] [--warmup MINUTES]');
  }
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-soak-'));
  const dataDir = demoDataDir();
  const clip = await prepareDoorClip(join(process.cwd(), '.facegate/demo'), dataDir);
  const galleryDb = join(dir, 'gallery.sqlite');
  const eventsDb = join(dir, 'events.sqlite');
  await enrollDemoGallery(galleryDb, dataDir);
  const rtsp = await RtspTestServer.start({ clip: clip.path, passthrough: true, auth: `soak:${CAMERA_PASSWORD}` });
  const ids = Array.from({ length: cams }, (_, i) => `cam${i + 1}`);
  const config = parseConfig({
    server: { port: 0 },
    auth: { tokens: [{ id: 'soak', role: 'viewer', sha256: sha256Hex(TOKEN) }] },
    cameras: ids.map((id) => ({ id, url: rtsp.url('/clip', `soak:${encodeURIComponent(CAMERA_PASSWORD)}`), fps })),
    gates: [{ id: 'front-door', cameras: ids, allow: { groups: ['staff'] } }],
    gallery: { db: galleryDb },
    events: { db: eventsDb, snapshots: { dir: join(dir, 'snapshots') } },
  });
  // Everything the service logs (warn and up: camera.down lines carry URLs) is kept to check for the password.
  let logLines = 0;
  let passwordInLogs = 0;
  const logSink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString('utf8');
      logLines += s.split('\n').length - 1;
      if (s.includes(CAMERA_PASSWORD) || s.includes(encodeURIComponent(CAMERA_PASSWORD))) passwordInLogs++;
      cb();
    },
  });
  process.stderr.write(`soak: ${cams} camera(s) x door clip over RTSP (${fps} fps processed), server killed every ${killEveryS} s, ${minutes} min, samples every ${sampleS} s, warm-up ${(warmupS / 60).toFixed(1)} min\n`);
  const service = await startService(config, { logger: createLogger({ level: 'warn', destination: logSink }) });
  const received: number[] = [];
  let ups = 0;
  let downs = 0;
  let kills = 0;
  const w = watchEvents({
    url: service.api.url,
    token: TOKEN,
    onEvent: (e) => {
      received.push(e.id);
      if (e.type === 'camera.up') ups++;
      else if (e.type === 'camera.down') downs++;
    },
  });
  const processed = (): number => service.access.counters.entries().map(([, c]) => c).reduce((a, c) => a + c.detect.processed, 0);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    const s: SoakSample = {
      atS: Math.round((performance.now() - t0) / 1000),
      rssMB: m.rss / 2 ** 20,
      heapMB: m.heapUsed / 2 ** 20,
      fds: openFds(),
      children: childProcesses(),
      events: received.length,
      processed: processed(),
      ups,
      downs,
      kills,
    };
    samples.push(s);
    process.stderr.write(`  t=${s.atS}s rss ${s.rssMB.toFixed(0)} MB heap ${s.heapMB.toFixed(0)} MB fds ${s.fds} children ${s.children} events ${s.events} frames ${s.processed} up/down ${ups}/${downs} kills ${kills}\n`);
  };
  sample();
  let killing = Promise.resolve();
  const killTimer = setInterval(() => {
    killing = killing.then(async () => {
      await rtsp.kill();
      kills++;
      await rtsp.restart();
    });
  }, killEveryS * 1000);
  const sampleTimer = setInterval(sample, sampleS * 1000);
  let eventsInLog = 0;
  let passwordInRows = 0;
  let missing: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, minutes * 60_000));
    clearInterval(killTimer);
    clearInterval(sampleTimer);
    await killing;
    sample();
    // Let in-flight events reach the client before comparing with the log.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    clearInterval(killTimer);
    clearInterval(sampleTimer);
    w.close();
    await service.close();
    await rtsp.stop();
  }
  try {
    const db = new Database(eventsDb, { readonly: true });
    const inLog = new Set((db.prepare('SELECT id FROM events').pluck().all() as number[]).map(Number));
    db.close();
    eventsInLog = inLog.size;
    missing = received.filter((id) => !inLog.has(id));
    const reopened = new Database(eventsDb, { readonly: true });
    passwordInRows = (reopened.prepare('SELECT count(*) FROM events WHERE instr(body, ?) > 0 OR instr(body, ?) > 0').pluck().get(CAMERA_PASSWORD, encodeURIComponent(CAMERA_PASSWORD)) as number) ?? 0;
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\n| t s | RSS MB | heap MB | fds | children | events received | frames detected | camera.up | camera.down | server kills |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of samples) {
    console.log(`| ${s.atS} | ${s.rssMB.toFixed(1)} | ${s.heapMB.toFixed(1)} | ${s.fds} | ${s.children} | ${s.events} | ${s.processed} | ${s.ups} | ${s.downs} | ${s.kills} |`);
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  const pct = rssSlopePctPer10Min(samples, warmupS);
  const uniqueReceived = new Set(received).size;
  console.log('');
  console.log(`RSS slope after ${(warmupS / 60).toFixed(1)} min warm-up: ${Number.isFinite(pct) ? pct.toFixed(2) : 'n/a (too few samples after warm-up)'} % per 10 min (goal < 1)`);
  console.log(`fds first/last: ${first.fds} / ${last.fds}; child processes first/last: ${first.children} / ${last.children}`);
  console.log(`events received: ${received.length} (${uniqueReceived} unique); in the event log: ${eventsInLog}; received but not in the log: ${missing.length}${missing.length ? ` (e.g. ${missing.slice(0, 5).join(', ')})` : ''}`);
  console.log(`server kills: ${kills}; camera.up ${ups}, camera.down ${downs}; log lines ${logLines}, with the camera password: ${passwordInLogs}; event rows with it: ${passwordInRows}`);
  const ok = missing.length === 0 && passwordInLogs === 0 && passwordInRows === 0 && uniqueReceived === received.length && last.fds <= first.fds + 16;
  console.log(`soak ${ok ? 'PASSED' : 'FAILED'}: every received event logged, no duplicates, no password in logs or event rows, fds flat (+16 allowed)`);
  if (!ok) process.exitCode = 1;
}
