/**
 * `facegate eval --pad` as a user runs it: the JSON line, the DET plot, and the errors a user
 * sees for a folder without labels.csv and for a bad option.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { dataPath } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/facegate.js', import.meta.url));

function facegate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 300_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('eval --pad --json --plot on real photos', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-pad-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'live'));
  mkdirSync(join(dir, 'spoof'));
  const files = [
    ['live/live_nuaa_0001_00_00_01_253.jpg', 'live,none'],
    ['live/live_silentface_image_T1.jpg', 'live,none'],
    ['spoof/print_nuaa_0001_00_08_03_260.jpg', 'spoof,print'],
    ['spoof/replay_silentface_image_F2.jpg', 'spoof,replay'],
  ];
  for (const [f] of files) symlinkSync(dataPath(`spoof/${f}`), join(dir, f));
  writeFileSync(join(dir, 'labels.csv'), ['file,label,attack', ...files.map(([f, l]) => `${f},${l}`), 'nothing.jpg,live,none', ''].join('\n'));
  const plot = join(dir, 'det.png');
  const calibration = join(dir, 'calibration.json');
  const env = { FACEGATE_CALIBRATION: calibration };
  const r = await facegate(['eval', '--pad', dir, '--json', '--plot', plot], env);
  t.equal(r.code, 0, r.stderr);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const j = JSON.parse(last) as { threshold: number; bpcer: number; apcer: Record<string, number>; counts: Record<string, number>; problems: Record<string, number> };
  t.equal(j.threshold, 0.5);
  t.equal(j.bpcer, 0);
  t.same(j.apcer, { print: 0, replay: 0 });
  t.same(j.counts, { live: 2, spoof: 2, print: 1, replay: 1 });
  t.same(j.problems, { 'missing-file': 1 });
  const meta = await sharp(plot).metadata();
  t.same([meta.format, meta.width, meta.height], ['png', 800, 560]);

  const text = await facegate(['eval', '--pad', dir, '--threshold', '0.9999']);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /at threshold 1\.000 \(live at or above\): BPCER /, "the threshold given is the one used");
  t.match(text.stdout, /line 6 nothing\.jpg: missing-file/);

  // --write-thresholds: the threshold at BPCER 5% into the local calibration, which the next run
  // (and the service) then uses instead of the manifest's.
  const refused = await facegate(['eval', '--pad', dir, '--track-score', 'mean', '--write-thresholds'], env);
  t.not(refused.code, 0);
  t.match(refused.stderr, /--write-thresholds calibrates the pipeline's track rule \(median\)/);
  const write = await facegate(['eval', '--pad', dir, '--json', '--write-thresholds'], env);
  t.equal(write.code, 0, write.stderr);
  const at5 = (JSON.parse(write.stdout.trim().split('\n').find((l) => l.startsWith('{')) ?? '{}') as { atBpcer5: { threshold: number } }).atBpcer5.threshold;
  t.match(write.stdout, /liveness threshold [\d.]+ for minifasnet_v2 \+ minifasnet_v1se written to /);
  const cal = JSON.parse(readFileSync(calibration, 'utf8')) as { models: object; liveness: Record<string, { threshold: number; rule: string; data: string; source: string; writtenAt: string }> };
  const entry = cal.liveness['minifasnet_v1se+minifasnet_v2'];
  t.equal(entry?.threshold, Math.round(at5 * 1000) / 1000, 'the BPCER 5% point of this run');
  t.equal(entry?.rule, 'median');
  t.match(entry?.data, /2 live, 1 print, 1 replay/);
  t.same(cal.models, {}, 'no embedder calibration is touched');
  const again = await facegate(['eval', '--pad', dir, '--json'], env);
  const j2 = JSON.parse(again.stdout.trim().split('\n').pop() ?? '{}') as { threshold: number };
  t.equal(j2.threshold, entry?.threshold, 'the next run uses the local calibration');
});

t.test('eval --pad: no labels.csv and bad options are clear errors', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'facegate-pad-cli-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const r = await facegate(['eval', '--pad', empty]);
  t.not(r.code, 0);
  t.match(r.stderr, /no labels\.csv/);
  const bad = await facegate(['eval', '--pad', empty, '--threshold', '2']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /--threshold must be a number from 0 to 1/);
  const both = await facegate(['eval', '--pad', empty, '--data', empty]);
  t.match(both.stderr, /--pad runs on its own/);
  const none = await facegate(['eval']);
  t.match(none.stderr, /--data DIR .* or --pad DIR/);
});
