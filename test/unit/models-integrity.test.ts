import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { calibratedThresholds, findModel, loadManifest, readCalibration, resolveModel, SERVICE_RESOLVE_OPTIONS, SHARED_MODELS_DIR, VerdictCache, writeCalibration } from '../../src/models/index.ts';

const manifest = loadManifest();
const entry = findModel(manifest, 'seetaface6_mask'); // the smallest real model: 0.9 MB

t.test('issue 14.5: a weight file corrupted in place with its mtime kept is caught by full verification', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-integrity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, entry.file);
  copyFileSync(join(SHARED_MODELS_DIR, entry.file), file);
  // Whole seconds: what `cp -p` keeps, and exactly restorable below.
  const stamp = new Date('2026-01-02T03:04:05Z');
  utimesSync(file, stamp, stamp);
  const cache = new VerdictCache(join(dir, 'verified.json'));
  const first = await resolveModel(entry.name, { modelsDir: dir, cache });
  t.equal(first.path, file, 'resolves from the temp FACEGATE_MODELS_DIR');
  t.equal(first.sha256, entry.sha256);

  // Flip bytes in the middle of the weights, same size, then put the old mtime back (what `cp -p`
  // of a damaged file, or a bit flip on disk, looks like).
  const before = statSync(file);
  const bytes = readFileSync(file);
  for (let i = 0; i < 64; i++) bytes[400_000 + i] ^= 0x5a;
  writeFileSync(file, bytes);
  utimesSync(file, stamp, stamp);
  t.equal(statSync(file).size, before.size, 'size unchanged');
  t.equal(statSync(file).mtimeMs, before.mtimeMs, 'mtime restored');

  const cached = await resolveModel(entry.name, { modelsDir: dir, cache });
  t.equal(cached.sha256, entry.sha256, 'the cached check still reports the old digest: the defect the full check exists for');

  const err = await resolveModel(entry.name, { modelsDir: dir, cache, ...SERVICE_RESOLVE_OPTIONS }).catch((e: unknown) => e);
  t.match(err, { code: 'MODEL_CORRUPT', message: new RegExp(`${entry.file}.*expected ${entry.sha256}`), hint: /models download seetaface6_mask/ });
  t.match((err as { context: { sha256: string } }).context, { path: file, expected: entry.sha256 });
  t.not((err as { context: { sha256: string } }).context.sha256, entry.sha256, 'the actual digest is named');
  t.match(await resolveModel(entry.name, { modelsDir: dir, cache }).catch((e: unknown) => e), { code: 'MODEL_CORRUPT' }, 'after a full check the cache no longer vouches for the file');
  t.same(SERVICE_RESOLVE_OPTIONS, { verify: 'full' });
});

t.test('thresholds belong to the model: local calibration over the shipped manifest, never written into it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-calib-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'calibration.json');
  const manifestText = readFileSync(new URL('../../models/manifest.json', import.meta.url), 'utf8');
  const embedders = manifest.models.filter((m) => m.role === 'embedder' && m.thresholds);
  t.ok(embedders.length >= 3, `shipped thresholds for ${embedders.map((m) => m.name).join(', ')}`);
  for (const m of embedders) {
    const th = calibratedThresholds(m.name, { calibrationPath: path });
    t.same([th.unmasked, th.masked], [m.thresholds?.unmasked, m.thresholds?.masked], `${m.name} from the manifest`);
    t.match(th.source, /^manifest: .*eval/);
  }
  const name = embedders[0].name;
  writeCalibration({ [name]: { unmasked: 0.31, masked: 0.44, source: 'facegate eval --data site-photos', writtenAt: '2026-11-29T20:00:00Z' } }, path);
  const local = calibratedThresholds(name, { calibrationPath: path });
  t.same([local.unmasked, local.masked], [0.31, 0.44], 'the local file wins');
  t.match(local.source, /local calibration .*calibration\.json/);
  t.equal(calibratedThresholds(embedders[1].name, { calibrationPath: path }).source.startsWith('manifest'), true, 'other models keep the manifest values');
  writeCalibration({ [embedders[1].name]: { unmasked: 0.2, masked: 0.3, source: 'x' } }, path);
  t.same(Object.keys(readCalibration(path).models).sort(), [name, embedders[1].name].sort(), 'writing one model keeps the others');
  process.env.FACEGATE_CALIBRATION = path;
  t.teardown(() => delete process.env.FACEGATE_CALIBRATION);
  t.equal(calibratedThresholds(name).unmasked, 0.31, 'FACEGATE_CALIBRATION is the default path');
  t.equal(readFileSync(new URL('../../models/manifest.json', import.meta.url), 'utf8'), manifestText, 'the shipped manifest is untouched');

  const stale = calibratedThresholds(name, { calibrationPath: path, modelSha256: 'f'.repeat(64) });
  t.equal(stale.unmasked, 0.31, 'an entry without a recorded digest applies to any weights');
  writeCalibration({ [name]: { unmasked: 0.33, masked: 0.5, source: 'y', modelSha256: 'a'.repeat(64) } }, path);
  t.match(calibratedThresholds(name, { calibrationPath: path, modelSha256: 'f'.repeat(64) }).source, /^manifest/, 'a calibration of other weights is skipped');

  writeFileSync(path, '{"version":1,"models":{"x":{"unmasked":3}}}');
  t.throws(() => calibratedThresholds(name, { calibrationPath: path }), { code: 'CALIBRATION_INVALID', message: /models\.x\.unmasked/ });
  writeFileSync(path, '{oops');
  t.throws(() => calibratedThresholds(name, { calibrationPath: path }), { code: 'CALIBRATION_INVALID', hint: /write-thresholds/ });
  t.throws(() => calibratedThresholds('seetaface6_mask', { calibrationPath: join(dir, 'none.json') }), { code: 'THRESHOLDS_MISSING', hint: /--write-thresholds/ });
});
