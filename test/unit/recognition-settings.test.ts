import { join } from 'node:path';
import t, { type Test } from 'tap';
import { recognitionSettings } from '../../src/app/models.ts';
import { parseConfig } from '../../src/config/index.ts';
import { loadManifest, findModel, writeCalibration } from '../../src/models/index.ts';
import { tempDir } from '../helpers/unit-shard.ts';

// Thresholds belong to the embedder: the service takes them from the config only where it sets them.
const dir = tempDir('facegate-cal-');

/** Points FACEGATE_CALIBRATION at `path` for this test only (no local calibration by default). */
function calibrationFile(t: Test, path = join(dir, 'none.json')): void {
  const before = process.env.FACEGATE_CALIBRATION;
  process.env.FACEGATE_CALIBRATION = path; // restored by calibrationFile's teardown
  t.teardown(() => {
    if (before === undefined) delete process.env.FACEGATE_CALIBRATION;
    else process.env.FACEGATE_CALIBRATION = before;
  });
}

const shipped = (name: string) => {
  const th = findModel(loadManifest(), name).thresholds;
  if (!th) throw new Error(`${name} has no thresholds in the manifest`);
  return th;
};

t.test('unset thresholds come from the embedder calibration (different per model), unknownThreshold follows', async (t) => {
  calibrationFile(t);
  const r = parseConfig({}).recognition;
  for (const name of ['mobilefacenet_paddlex_128d', 'w600k_mbf_dq']) {
    const s = recognitionSettings(r, name);
    t.same(s.thresholds, { unmasked: shipped(name).unmasked, masked: shipped(name).masked }, name);
    t.equal(s.unknownThreshold, shipped(name).unmasked);
    t.match(s.source, /^manifest: /);
  }
  t.not(recognitionSettings(r, 'mobilefacenet_paddlex_128d').thresholds.unmasked, recognitionSettings(r, 'w600k_mbf_dq').thresholds.unmasked);
});

t.test('config overrides win, also one at a time; a local calibration beats the manifest', async (t) => {
  calibrationFile(t);
  const both = recognitionSettings(parseConfig({ recognition: { thresholds: { unmasked: 0.5, masked: 0.7 }, unknownThreshold: 0.6 } }).recognition, 'w600k_mbf_dq');
  t.same(both.thresholds, { unmasked: 0.5, masked: 0.7 });
  t.equal(both.unknownThreshold, 0.6);
  t.equal(both.source, 'config');
  const one = recognitionSettings(parseConfig({ recognition: { thresholds: { masked: 0.7 } } }).recognition, 'w600k_mbf_dq');
  t.same(one.thresholds, { unmasked: shipped('w600k_mbf_dq').unmasked, masked: 0.7 });
  t.match(one.source, /^config \+ manifest/);
  const path = join(dir, 'cal.json');
  writeCalibration({ w600k_mbf_dq: { unmasked: 0.3, masked: 0.5, source: 'test' } }, path);
  process.env.FACEGATE_CALIBRATION = path; // restored by calibrationFile's teardown
  const local = recognitionSettings(parseConfig({}).recognition, 'w600k_mbf_dq');
  t.same(local.thresholds, { unmasked: 0.3, masked: 0.5 });
  t.match(local.source, /local calibration/);
});
