import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { calibratedThresholds, findModel, loadManifest } from '../../src/models/index.ts';
import type { EvalReport } from '../../src/recognize/evaluate.ts';
import { DATA_DIR } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/facegate.js', import.meta.url));

t.test('facegate eval on ../shared/data: the shipped w600k_mbf_dq thresholds reproduce, hold on real masks, and --write-thresholds writes the local file only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-eval-real-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calibration = join(dir, 'calibration.json');
  const manifestBefore = readFileSync(new URL('../../models/manifest.json', import.meta.url), 'utf8');
  const plot = join(dir, 'roc.png');
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [BIN, 'eval', '--data', DATA_DIR, '--embedder', 'w600k_mbf_dq', '--no-liveness', '--json', '--write-thresholds', '--plot', plot], { timeout: 900_000, env: { ...process.env, FACEGATE_CALIBRATION: calibration } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.split('\n')[0]) as EvalReport;
  const shipped = findModel(loadManifest(), 'w600k_mbf_dq').thresholds;
  t.same(report.recommended, { unmasked: shipped?.unmasked, masked: shipped?.masked }, 'the manifest values are what eval measures on this data');
  t.equal(report.rank1, 1, 'rank-1 unmasked');
  t.equal(report.masked.realMaskedStrangers, 94, 'every real masked stranger with a face was scored');
  t.equal(report.masked.realMaskedFalseAccepts, 0, '0 real masked strangers accepted at the masked threshold');
  t.ok(report.masked.realStrangerMax < (shipped?.masked ?? 0), `best stranger ${report.masked.realStrangerMax.toFixed(3)} < ${shipped?.masked}`);
  t.ok(report.masked.realPairs.length >= 1, 'the real masked same-person pair is there');
  for (const p of report.masked.realPairs) t.ok(p.withMaskedTemplates > (shipped?.masked ?? 1), `${p.file}: ${p.withMaskedTemplates.toFixed(3)} > masked threshold ${shipped?.masked}`);
  t.ok(report.embedderRunsMs > 0);
  t.match(r.stdout, /thresholds for w600k_mbf_dq written to .*calibration\.json/);
  const local = calibratedThresholds('w600k_mbf_dq', { calibrationPath: calibration });
  t.same([local.unmasked, local.masked], [report.recommended.unmasked, report.recommended.masked]);
  t.match(local.source, /local calibration .*facegate eval --data/);
  t.equal(readFileSync(new URL('../../models/manifest.json', import.meta.url), 'utf8'), manifestBefore, 'the shipped manifest is not rewritten');
  const meta = await sharp(plot).metadata();
  t.same([meta.format, meta.width, meta.height], ['png', 800, 560], 'ROC curves written');
});
