/** Child processes are owned: no gst-launch outlives the facegate process, however it ends. */
import { spawn } from 'node:child_process';
import t from 'tap';
import { isProcessRunning, childrenDieWithParent } from '../../src/ingest/index.ts';
import { readFileSync } from 'node:fs';
import { REPO_ROOT, withRtspCamera } from '../helpers/rtsp.ts';
import { waitUntil } from '../helpers/ingest-wait.ts';

interface Run {
  gstPid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(sig: NodeJS.Signals): void;
  stdout(): string;
}

async function startChild(env: Record<string, string>, mode = ''): Promise<Run> {
  // A plain node process like the facegate CLI: tap injects its process-info hook (with its own
  // signal listeners) through NODE_OPTIONS into every child it sees spawned; env -u removes it.
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import=tsx', 'test/helpers/ingest-child.ts', mode], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, FACEGATE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const ok = await waitUntil(() => /GST \d+/.test(out), 20_000);
  if (!ok) {
    child.kill('SIGKILL');
    throw new Error(`child never reported its pipeline: ${out} ${err}`);
  }
  return { gstPid: Number(/GST (\d+)/.exec(out)?.[1]), exit, kill: (s) => child.kill(s), stdout: () => out };
}

const modes: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'pdeathsig (default on Linux)', env: {} },
  { name: 'signal handlers (no setpriv)', env: { FACEGATE_INGEST_PDEATHSIG: '0' } },
];

t.test('setpriv with --pdeathsig is available here', async (t) => {
  t.ok(childrenDieWithParent(), 'util-linux setpriv found');
});

for (const mode of modes) {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    t.test(`${mode.name}: ${sig} to the facegate process kills its gst-launch`, async (t) => {
      const run = await startChild(mode.env);
      t.ok(isProcessRunning(run.gstPid), `gst-launch ${run.gstPid} runs`);
      run.kill(sig);
      const exit = await run.exit;
      t.equal(exit.signal, sig, `the process still dies of ${sig} (default behaviour kept)`);
      t.ok(await waitUntil(() => !isProcessRunning(run.gstPid), 3000), 'gst-launch is gone');
    });
  }
}

t.test('pdeathsig: even SIGKILL of the facegate process leaves no orphan', async (t) => {
  const run = await startChild({});
  run.kill('SIGKILL');
  await run.exit;
  t.ok(await waitUntil(() => !isProcessRunning(run.gstPid), 3000), 'gst-launch is gone');
});

t.test('signal handlers cooperate with an application SIGTERM handler', async (t) => {
  const run = await startChild({ FACEGATE_INGEST_PDEATHSIG: '0' }, 'graceful');
  run.kill('SIGTERM');
  const exit = await run.exit;
  t.same(exit, { code: 0, signal: null }, 'the application shut down its own way');
  t.match(run.stdout(), /GRACEFUL/);
  t.ok(await waitUntil(() => !isProcessRunning(run.gstPid), 3000), 'gst-launch is gone');
});

t.test('pdeathsig with the stdin launcher (camera URL with a password): SIGKILL leaves no orphan', async (t) => {
  const server = await withRtspCamera(t, { width: 64, height: 48, fps: 5, auth: 'admin:Orphan5ecret' });
  const run = await startChild({ FACEGATE_TEST_CAMERA_URL: server.url('/test', 'admin:Orphan5ecret') });
  const cmdline = readFileSync(`/proc/${run.gstPid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  t.match(cmdline, /gst-launch-stdin\.py/, 'the pipeline runs in the launcher');
  t.notMatch(cmdline, /Orphan5ecret/, 'without the password on its command line');
  run.kill('SIGKILL');
  await run.exit;
  t.ok(await waitUntil(() => !isProcessRunning(run.gstPid), 3000), 'the launcher is gone');
});

t.test('control: without pdeathsig a SIGKILLed parent does orphan its pipeline (why setpriv is used)', async (t) => {
  const run = await startChild({ FACEGATE_INGEST_PDEATHSIG: '0' });
  run.kill('SIGKILL');
  await run.exit;
  const survived = !(await waitUntil(() => !isProcessRunning(run.gstPid), 1000));
  t.ok(survived, 'the silent gst-launch survives: this test setup does detect orphans');
  try {
    process.kill(run.gstPid, 'SIGKILL');
  } catch {
    // already gone
  }
});
