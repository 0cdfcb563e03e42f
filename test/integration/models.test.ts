import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { candidatePaths, downloadModel, findModel, loadManifest, mergeManifests, parseManifest, resolveModel, sha256File, SHARED_MODELS_DIR, VerdictCache, type ModelEntry } from '../../src/models/index.ts';

const manifest = loadManifest();
const entry = findModel(manifest, 'seetaface6_mask'); // the smallest real model: 0.9 MB
const realPath = join(SHARED_MODELS_DIR, entry.file);
const realBytes = readFileSync(realPath);

t.test('the manifest pins every shared model by sha256 and size', async (t) => {
  for (const m of manifest.models) {
    const p = join(SHARED_MODELS_DIR, m.file);
    if (!existsSync(p)) continue;
    t.equal(await sha256File(p), m.sha256, `${m.name} sha256`);
    t.equal(statSync(p).size, m.size, `${m.name} size`);
  }
  t.ok(manifest.models.some((m) => m.role === 'detector' && m.tier === '10g'), 'user-supplied tiers are listed');
  t.ok(manifest.models.every((m) => m.licence.length > 0), 'every model states its licence');
  // Issue 13: the InsightFace w600k family, pinned for users who download the official files.
  const pins: Record<string, [string, number]> = {
    w600k_mbf: ['9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f', 13_616_099],
    w600k_r50: ['4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43', 174_383_860],
    w600k_mbf_int8: ['7caa7fb0ad6c37b33e6c59f6411084b487aaabd596bba645d2cce391a5871120', 3_514_509],
  };
  for (const [name, [sha, size]] of Object.entries(pins)) {
    const m = findModel(manifest, name);
    t.same([m.sha256, m.size, m.output], [sha, size, { kind: 'embedding', dim: 512 }], `${name} pinned, 512-d`);
    t.same([m.input.name, m.input.channels, m.input.mean, m.input.std], ['input.1', 'RGB', 127.5, 127.5], `${name}: RGB, (x - 127.5) / 127.5`);
    t.match(m.licence, /non-commercial research only/);
  }
  t.match(findModel(manifest, 'w600k_r50').download, { zipMember: 'w600k_r50.onnx', url: /buffalo_l\.zip$/ });
  t.match(findModel(manifest, 'w600k_mbf').download, { zipMember: 'w600k_mbf.onnx', url: /buffalo_s\.zip$/ });
  for (const m of manifest.models.filter((e) => e.role === 'embedder' && e.name !== 'w600k_r50')) t.ok(m.thresholds, `${m.name} carries its thresholds`);
});

t.test('manifest validation names the bad field', async (t) => {
  t.throws(() => parseManifest({ version: 1, models: [{ name: 'x' }] }, 'm.json'), /models\.0\.role/);
  t.throws(() => parseManifest({ version: 1, models: [], extra: 1 }, 'm.json'), { code: 'MANIFEST_INVALID' });
  const dup = { version: 1, models: [manifest.models[0], manifest.models[0]] };
  t.throws(() => parseManifest(JSON.parse(JSON.stringify(dup)), 'm.json'), /twice/);
  const merged = mergeManifests(manifest, { models: [{ ...entry, name: 'scrfd_34g', role: 'detector', tier: '34g', output: { kind: 'scrfd', batchDim: false } } as ModelEntry] });
  t.equal(merged.models.length, manifest.models.length + 1, 'a user manifest adds a tier');
  t.throws(() => findModel(manifest, 'nope'), { code: 'MODEL_UNKNOWN' });
});

t.test('resolution order: explicit path, FACEGATE_MODELS_DIR, models/, ../shared/models', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-models-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const paths = candidatePaths(entry, { modelsDir: dir });
  t.equal(paths.length, 3);
  t.equal(paths[0], join(dir, entry.file));
  t.match(paths[1], /\/models\/seetaface6_mask_detector\.onnx$/);
  t.equal(paths[2], realPath);
  const cache = new VerdictCache(join(dir, 'verdicts.json'));
  const fromShared = await resolveModel(entry.name, { modelsDir: dir, cache });
  t.equal(fromShared.path, realPath, 'falls through to ../shared/models');
  copyFileSync(realPath, join(dir, entry.file));
  t.equal((await resolveModel(entry.name, { modelsDir: dir, cache })).path, join(dir, entry.file), 'the models dir wins');
  t.ok(existsSync(join(dir, 'verdicts.json')), 'verdicts are cached on disk');
  const cache2 = new VerdictCache(join(dir, 'verdicts.json'));
  t.equal(await cache2.digest(join(dir, entry.file)), entry.sha256, 'cached verdict reads back');
});

t.test('a corrupt or missing file is one clear error naming model, path and fix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-models-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = Buffer.from(realBytes);
  bad[1000] ^= 0xff;
  writeFileSync(join(dir, entry.file), bad);
  const cache = new VerdictCache(join(dir, 'v.json'));
  const err = await resolveModel(entry.name, { path: join(dir, entry.file), cache }).catch((e: unknown) => e);
  t.match(err, { code: 'MODEL_CORRUPT', message: /seetaface6_mask.*sha256/, hint: /models download seetaface6_mask/ });
  // Same size, later mtime: the cached verdict must not hide the change.
  writeFileSync(join(dir, entry.file), realBytes);
  t.equal((await resolveModel(entry.name, { path: join(dir, entry.file), cache })).sha256, entry.sha256, 'a fixed file verifies again');
  const missing = await resolveModel(entry.name, { path: join(dir, 'nope.onnx'), cache }).catch((e: unknown) => e);
  t.match(missing, { code: 'MODEL_NOT_FOUND', message: /nope\.onnx/ });
});

type Mode = 'ok' | 'truncate' | 'corrupt' | 'missing' | 'zip';

/** A real HTTP server on loopback serving the real model file, honouring Range, with fault modes. */
async function modelServer(zipPath: string): Promise<{ url: (mode: Mode) => string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const mode = (req.url ?? '').slice(1) as Mode;
    hits.push(`${mode} ${req.headers.range ?? 'full'}`);
    if (mode === 'missing') {
      res.writeHead(404).end('not found');
      return;
    }
    const body = mode === 'zip' ? readFileSync(zipPath) : Buffer.from(realBytes);
    if (mode === 'corrupt') body[body.length - 10] ^= 0xff;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start >= body.length) {
      res.writeHead(416).end();
      return;
    }
    const part = body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'content-length': String(part.length),
      ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (mode === 'truncate' && !range) {
      // Promise the whole file, send 40% of it, drop the connection.
      res.write(part.subarray(0, Math.floor(part.length * 0.4)), () => res.destroy());
      return;
    }
    res.end(part);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: (mode) => `http://127.0.0.1:${port}/${mode}`, hits, close: () => new Promise((r) => server.close(() => r())) };
}

t.test('download from a loopback server: complete, truncated then resumed, corrupted, 404, zip member', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-dl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A zip holding the model under a folder, like the InsightFace packs; built with Debian's python.
  const zipPath = join(dir, 'pack.zip');
  execFileSync('/usr/bin/python3', ['-c', `import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED); z.writestr('readme.txt','x'); z.write(sys.argv[2],'pack/${entry.file}'); z.close()`, zipPath, realPath]);
  const srv = await modelServer(zipPath);
  t.teardown(srv.close);

  const progress: number[] = [];
  const ok = await downloadModel(entry, { destDir: join(dir, 'a'), url: srv.url('ok'), onProgress: (p) => progress.push(p.received) });
  t.equal(ok.sha256, entry.sha256);
  t.equal(statSync(ok.path).size, realBytes.length);
  t.ok(progress.length > 1 && progress[progress.length - 1] === realBytes.length, 'progress reported up to the full size');

  const truncated = await downloadModel(entry, { destDir: join(dir, 'b'), url: srv.url('truncate') }).catch((e: unknown) => e);
  t.match(truncated, { code: 'MODEL_DOWNLOAD_FAILED', hint: /resumes/ });
  t.notOk(existsSync(join(dir, 'b', entry.file)), 'no final file after a truncated body');
  const partSize = statSync(join(dir, 'b', `${entry.file}.part`)).size;
  t.ok(partSize > 0 && partSize < realBytes.length, `part file kept (${partSize} bytes)`);
  const resumed = await downloadModel(entry, { destDir: join(dir, 'b'), url: srv.url('truncate') });
  t.ok(resumed.resumed, 'second run resumed with a Range request');
  t.equal(resumed.sha256, entry.sha256, 'resumed file verifies');
  t.ok(srv.hits.includes(`truncate bytes=${partSize}-`), 'asked for the missing bytes only');

  const corrupt = await downloadModel(entry, { destDir: join(dir, 'c'), url: srv.url('corrupt') }).catch((e: unknown) => e);
  t.match(corrupt, { code: 'MODEL_CORRUPT', message: /expected/ });
  t.notOk(existsSync(join(dir, 'c', entry.file)), 'a corrupt body never lands as the model');
  t.notOk(existsSync(join(dir, 'c', `${entry.file}.part`)), 'and is not kept to resume from');

  const missing = await downloadModel(entry, { destDir: join(dir, 'd'), url: srv.url('missing') }).catch((e: unknown) => e);
  t.match(missing, { code: 'MODEL_DOWNLOAD_FAILED', message: /HTTP 404/ });

  const zipEntry: ModelEntry = { ...entry, download: { url: srv.url('zip'), zipMember: entry.file } };
  const fromZip = await downloadModel(zipEntry, { destDir: join(dir, 'e') });
  t.equal(fromZip.sha256, entry.sha256, 'zip member extracted and verified');
  t.notOk(existsSync(join(dir, 'e', `${entry.file}.zip.part`)), 'the archive is removed');

  const wrongMember: ModelEntry = { ...entry, download: { url: srv.url('zip'), zipMember: 'other.onnx' } };
  t.match(await downloadModel(wrongMember, { destDir: join(dir, 'f') }).catch((e: unknown) => e), { message: /no member named other\.onnx/ });

  const unpinned: ModelEntry = { ...entry, sha256: null };
  t.match(await downloadModel(unpinned, { destDir: join(dir, 'g'), url: srv.url('ok') }).catch((e: unknown) => e), { hint: /--sha256/ });
  const refused = await downloadModel(entry, { destDir: join(dir, 'h'), url: 'http://127.0.0.1:1/x' }).catch((e: unknown) => e);
  t.match(refused, { code: 'MODEL_DOWNLOAD_FAILED' });
  symlinkSync(ok.path, join(dir, 'link.onnx'));
  t.equal((await resolveModel(entry.name, { path: join(dir, 'link.onnx'), cache: new VerdictCache(join(dir, 'v.json')) })).sha256, entry.sha256, 'a symlinked model resolves');
});
