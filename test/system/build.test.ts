/**
 * The compiled build is what users run (bin/facegate.js starts dist/ when it is current), so it must
 * carry every non-TypeScript file the code needs: the GStreamer launcher for cameras with
 * credentials, the model worker. The build copies them and refuses to stamp a build that lacks one;
 * here a camera with a password (a raw `@` in it) starts through the compiled entry against a real
 * RTSP server that requires it, and a launcher that cannot start says why at error level.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { firstValueFrom, take, toArray } from 'rxjs';
import { copyAssets, missingAssets, referencedAssets, runtimeAssets } from '../../scripts/build-assets.js';
import { sourceDigest } from '../../scripts/source-digest.js';
import { openCamera } from '../../src/ingest/index.ts';
import { capturingLogger, HealthLog, isDown } from '../helpers/ingest-wait.ts';
import { REPO_ROOT, withRtspCamera } from '../helpers/rtsp.ts';

const BIN = join(REPO_ROOT, 'bin/facegate.js');
const PASSWORD = 'P@ss:w%rd';

t.test('build-assets: a referenced asset absent from the output is reported with its module', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fg-assets-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'src/ingest'), { recursive: true });
  writeFileSync(join(root, 'src/ingest/source.ts'), "const L = moduleAsset(import.meta.url, 'launch.py');\nconst W = moduleAsset(import.meta.url, \"../models/worker.js\");\n");
  writeFileSync(join(root, 'src/ingest/README.md'), 'docs are not assets');
  writeFileSync(join(root, 'src/ingest/launch.py'), 'print(1)\n');
  t.same(runtimeAssets(root), ['src/ingest/launch.py'], 'non-TS files are assets, docs are not');
  t.same(referencedAssets(root), [
    { module: 'src/ingest/source.ts', asset: 'src/ingest/launch.py' },
    { module: 'src/ingest/source.ts', asset: 'src/models/worker.js' },
  ]);
  const out = join(root, 'dist');
  t.same(missingAssets(root, out).map((m) => [m.asset, m.inSources]), [['src/ingest/launch.py', true], ['src/models/worker.js', false]], 'nothing copied yet: both missing');
  t.equal(copyAssets(root, out), 1);
  t.same(missingAssets(root, out).map((m) => m.asset), ['src/models/worker.js'], 'after the copy only the file that exists nowhere is missing');
});

t.test('the real tree: every asset the code names exists, and the current build holds it', async (t) => {
  const refs = referencedAssets(REPO_ROOT);
  t.ok(refs.some((r) => r.asset === 'src/ingest/gst-launch-stdin.py'), 'the launcher is referenced through moduleAsset');
  t.ok(refs.some((r) => r.asset === 'src/models/session-worker.js'), 'the model worker is referenced through moduleAsset');
  for (const r of refs) t.ok(existsSync(join(REPO_ROOT, r.asset)), `${r.asset} exists (named by ${r.module})`);
  // The build the rest of this file runs: setup.sh makes it; a stale one (sources edited since) is
  // rebuilt here, as setup would, so the checks below never silently run the sources instead.
  const current = (): boolean => {
    try {
      return (JSON.parse(readFileSync(join(REPO_ROOT, 'dist/BUILD.json'), 'utf8')) as { sourceDigest: string }).sourceDigest === sourceDigest(REPO_ROOT);
    } catch {
      return false;
    }
  };
  if (!current()) {
    const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.js')], { cwd: REPO_ROOT, encoding: 'utf8' });
    t.equal(build.status, 0, `npm run build: ${(build.stdout + build.stderr).slice(-600)}`);
  }
  t.ok(current(), 'dist/ is current');
  t.same(missingAssets(REPO_ROOT, join(REPO_ROOT, 'dist')), [], 'every referenced asset is in dist/');
});

t.test('the compiled entry starts a camera whose password has a raw @ (RTSP server requiring it)', async (t) => {
  const server = await withRtspCamera(t, { width: 320, height: 240, fps: 15, auth: `admin:${PASSWORD}` });
  const probe = (credentials: string) =>
    spawnSync(process.execPath, [BIN, 'cameras', 'probe', server.url('/test', credentials), '--json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, FACEGATE_FROM_SOURCE: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
  const ok = probe(`admin:${PASSWORD}`);
  t.equal(ok.status, 0, `probe through dist/ succeeds: ${ok.stderr.slice(-400)}`);
  t.match(ok.stdout, /"width":\s*320/, 'the stream was read (width 320)');
  t.notMatch(ok.stdout + ok.stderr, /P@ss|w%rd|P%40ss/, 'the password is in no output');
  const wrong = probe('admin:wrong@pw');
  t.not(wrong.status, 0, 'a wrong password fails');
  t.match(wrong.stdout + wrong.stderr, /authentication failed|401/i, 'and says authentication failed');
});

t.test('a launcher that cannot start: camera.down that names the cause, logged at error level', async (t) => {
  const saved = process.env.FACEGATE_GST_PYTHON;
  // A real interpreter that refuses the launcher's arguments, as a broken Python install would.
  process.env.FACEGATE_GST_PYTHON = '/bin/sh';
  t.teardown(() => {
    if (saved === undefined) delete process.env.FACEGATE_GST_PYTHON;
    else process.env.FACEGATE_GST_PYTHON = saved;
  });
  const { logger, lines } = capturingLogger('info');
  const cam = openCamera({ id: 'launcher', source: { kind: 'rtsp', url: `rtsp://admin:${PASSWORD}@127.0.0.1:9/x` } }, { logger });
  const health = new HealthLog(cam);
  const sub = cam.frames.subscribe({ error: () => {} });
  t.teardown(() => {
    sub.unsubscribe();
    cam.close();
  });
  const { event } = await health.waitFor(isDown, 10_000);
  t.equal(event.reason.kind, 'crashed');
  t.match(event.reason.message, /exited with code 2: .*gst-launch-stdin\.py/, 'the launcher process\'s own words are in the reason');
  const down = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.startsWith('camera down'));
  t.equal(down?.level, 50, 'logged at error level (pino 50)');
  t.notOk(lines.some((l) => l.includes('P@ss') || l.includes('P%40ss')), 'no password in the log');
});

t.test('frames from a credentialed camera in-process too (the encoded URL reaches rtspsrc)', async (t) => {
  const server = await withRtspCamera(t, { width: 320, height: 240, fps: 15, auth: `admin:${PASSWORD}` });
  const cam = openCamera({ id: 'cred', source: { kind: 'rtsp', url: server.url('/test', `admin:${PASSWORD}`) } });
  t.teardown(() => cam.close());
  const frames = await firstValueFrom(cam.frames.pipe(take(3), toArray()));
  t.equal(frames.length, 3);
  t.equal(frames[0].width, 320);
});
