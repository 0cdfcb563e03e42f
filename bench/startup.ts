/**
 * `npm run bench -- startup [--runs 3]`: how long facegate takes to start, from the TypeScript
 * sources under tsx (FACEGATE_FROM_SOURCE=1) and from the compiled build (dist/, `npm run build`):
 * - `facegate --help` and `facegate config --help` (process start to exit);
 * - time to first event: `facegate run` spawned on a config with one videotestsrc camera, until a
 *   WebSocket client receives its camera.up (models verified and loaded, GStreamer started).
 * Medians of --runs runs per row.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256Hex } from '../src/api/auth.ts';
import { watchEvents } from '../src/client/watch.ts';
import { quantile } from '../src/lib/stats.ts';
import { PROJECT_ROOT } from '../src/paths.ts';
import { freePort } from '../src/dev/child-server.ts';

const TOKEN = 'startup-bench-token-0123456789';
const BIN = join(PROJECT_ROOT, 'bin/facegate.js');

function timeCommand(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`facegate ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-300)}`);
  return performance.now() - t0;
}

async function timeToFirstEvent(env: NodeJS.ProcessEnv): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-startup-'));
  const port = await freePort();
  const config = join(dir, 'facegate.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      server: { bind: '127.0.0.1', port },
      auth: { enabled: true, tokens: [{ id: 'bench', role: 'viewer', sha256: sha256Hex(TOKEN) }] },
      cameras: [{ id: 'test', source: { kind: 'test', pattern: 'ball', width: 640, height: 360, fps: 10 }, fps: 5 }],
      events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
      gallery: { db: join(dir, 'gallery.sqlite') },
      logging: { level: 'warn' },
    }),
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no camera.up within 60 s: ${stderr}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`facegate run exited ${code}: ${stderr}`)));
      const w = watchEvents({
        url: `http://127.0.0.1:${port}`,
        token: TOKEN,
        since: 0,
        retryMs: 20,
        onEvent: (e) => {
          if (e.type !== 'camera.up') return;
          clearTimeout(timer);
          w.close();
          resolve(performance.now() - t0);
        },
      });
    });
  } finally {
    child.removeAllListeners('exit');
    await new Promise<void>((r) => {
      if (child.exitCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGTERM');
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runStartupBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: { runs: { type: 'string', default: '3' } } });
  const runs = Math.max(1, Number(values.runs));
  if (!existsSync(join(PROJECT_ROOT, 'dist/BUILD.json'))) throw new Error('no compiled build: run `npm run build` first');
  const modes: { name: string; env: NodeJS.ProcessEnv }[] = [
    { name: 'sources (tsx)', env: { FACEGATE_FROM_SOURCE: '1' } },
    { name: 'compiled (dist/)', env: { FACEGATE_FROM_SOURCE: '0' } },
  ];
  const rows: string[] = ['| start | facegate --help ms | config --help ms | run: spawn -> first event (camera.up) ms |', '|---|---:|---:|---:|'];
  for (const m of modes) {
    const med = (xs: number[]) => quantile(xs, 0.5).toFixed(0);
    const help: number[] = [];
    const configHelp: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < runs; i++) {
      help.push(timeCommand(['--help'], m.env));
      configHelp.push(timeCommand(['config', '--help'], m.env));
      first.push(await timeToFirstEvent(m.env));
      process.stdout.write(`  ${m.name} run ${i + 1}: --help ${help.at(-1)?.toFixed(0)} ms, config --help ${configHelp.at(-1)?.toFixed(0)} ms, first event ${first.at(-1)?.toFixed(0)} ms\n`);
    }
    rows.push(`| ${m.name} | ${med(help)} | ${med(configHelp)} | ${med(first)} |`);
  }
  process.stdout.write(`\n${rows.join('\n')}\n`);
}
