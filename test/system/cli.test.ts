import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { dataPath } from '../helpers/data.ts';
import { openGallery } from '../../src/gallery/index.ts';

const BIN = fileURLToPath(new URL('../../bin/facegate.js', import.meta.url));

function facegate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('facegate detect --json prints one object per image in original pixels', async (t) => {
  const r = await facegate(['detect', '--json', dataPath('groups/faceapi_bbt4.jpg'), dataPath('groups/faceapi_bbt1.jpg')]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { image: string; width: number; height: number; faces: { box: number[]; score: number; landmarks: number[][] }[] });
  t.equal(lines.length, 2);
  t.equal(lines[0].width, 710);
  t.equal(lines[0].height, 473);
  t.equal(lines[0].faces.length, 6);
  t.equal(lines[1].faces.length, 4);
  for (const f of lines[0].faces) {
    t.equal(f.box.length, 4);
    t.equal(f.landmarks.length, 5);
    t.ok(f.box[2] <= 710 && f.box[3] <= 473 && f.score >= 0.5);
  }
});

t.test('--out draws boxes and landmarks onto the image', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'annotated.png');
  const r = await facegate(['detect', '--tier', '2.5g', '--size', '480', dataPath('groups/faceapi_bbt4.jpg'), '--out', out]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /6 faces .*2\.5g@480/);
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  t.equal(info.width, 710);
  // The box colour (pure green) appears where the source has none.
  let green = 0;
  for (let i = 0; i < data.length; i += info.channels) if (data[i] === 0 && data[i + 1] === 255 && data[i + 2] === 0) green++;
  t.ok(green > 1000, `${green} box pixels drawn`);
});

t.test('bad input of every kind: clear errors, no stack traces, exit 1 only on errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = dataPath('groups/faceapi_bbt4.jpg');
  writeFileSync(join(dir, 'text.jpg'), 'definitely not a jpeg');
  writeFileSync(join(dir, 'truncated.jpg'), readFileSync(src).subarray(0, 20_000));
  writeFileSync(join(dir, 'empty.png'), '');
  await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).png().toFile(join(dir, 'one.png'));
  await sharp(src).grayscale().jpeg().toFile(join(dir, 'gray.jpg'));
  await sharp(src).ensureAlpha(0.4).png().toFile(join(dir, 'alpha.png'));
  await sharp(src).toColourspace('cmyk').jpeg().toFile(join(dir, 'cmyk.jpg'));
  // A huge image: 6000x4000 (24 MP), decoded downscaled; results still in original pixels.
  await sharp(src).resize(6000, 4000, { fit: 'fill' }).jpeg({ quality: 70 }).toFile(join(dir, 'huge.jpg'));

  const good = await facegate(['detect', '--json', join(dir, 'gray.jpg'), join(dir, 'alpha.png'), join(dir, 'cmyk.jpg'), join(dir, 'huge.jpg')]);
  t.equal(good.code, 0, `grayscale, alpha, CMYK and huge images are handled: ${good.stderr}`);
  const res = good.stdout.trim().split('\n').map((l) => JSON.parse(l) as { width: number; faces: unknown[] });
  t.same(res.map((r) => r.faces.length), [6, 6, 6, 6]);
  t.equal(res[3].width, 6000, 'huge image reported in its own pixels');

  const cases: [string, RegExp][] = [
    [join(dir, 'missing.jpg'), /image not found/],
    [join(dir, 'text.jpg'), /not an image/],
    [join(dir, 'truncated.jpg'), /corrupt or truncated/],
    [join(dir, 'empty.png'), /empty/],
    [join(dir, 'one.png'), /1x1; a face needs at least 16x16/],
    [dir, /not a file/],
  ];
  // Independent processes: run side by side (one after another they took most of this test).
  const results = await Promise.all(cases.map(([path]) => facegate(['detect', path])));
  for (const [i, [path, msg]] of cases.entries()) {
    const r = results[i];
    t.equal(r.code, 1, `${path}: exit 1`);
    t.match(r.stderr, msg);
    t.match(r.stderr, /fix: /, 'says how to fix it');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  // One bad file among good ones: the good ones are still processed.
  const mixed = await facegate(['detect', '--json', join(dir, 'text.jpg'), src]);
  t.equal(mixed.code, 1);
  const rows = mixed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { error?: { code: string }; faces?: unknown[] });
  t.equal(rows[0].error?.code, 'IMAGE_UNREADABLE');
  t.equal(rows[1].faces?.length, 6, 'the good image after a bad one is still processed');
});

t.test('bad options and models: usage errors name the option', async (t) => {
  const img = dataPath('groups/faceapi_bbt4.jpg');
  // Independent processes, side by side.
  const [size, odd, tier, unpinned, auto, none] = await Promise.all([
    facegate(['detect', '--size', 'abc', img]),
    facegate(['detect', '--size', '100', img]),
    facegate(['detect', '--tier', '34g', img]),
    facegate(['detect', '--tier', '10g', img]),
    facegate(['detect', '--tier', 'auto', img]),
    facegate(['detect']),
  ]);
  t.not(size.code, 0);
  t.match(size.stderr, /--size must be a positive integer/);
  t.equal(odd.code, 1);
  t.match(odd.stderr, /multiple of 32/);
  t.equal(tier.code, 1);
  t.match(tier.stderr, /no detector model for tier "34g"/);
  t.equal(unpinned.code, 1);
  t.match(unpinned.stderr, /det_10g.*not found[\s\S]*fix: run `npx facegate models download det_10g --sha256 HEX`/);
  t.equal(auto.code, 1);
  t.match(auto.stderr, /--budget-ms/);
  t.not(none.code, 0);
  t.match(none.stderr, /missing required argument/);
});

t.test('--tier auto picks from a measured profile under the budget', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-prof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const profile = join(dir, 'profile.json');
  writeFileSync(
    profile,
    JSON.stringify({
      version: 1,
      createdAt: 'x',
      machine: 'test',
      threads: 0,
      frameWidth: 1280,
      frameHeight: 720,
      entries: [
        { tier: '500m', model: 'scrfd_500m', size: 320, medianMs: 3, p95Ms: 4, apHard: 68.5 },
        { tier: '2.5g', model: 'det_2.5g', size: 320, medianMs: 10, p95Ms: 12, apHard: 77.9 },
        { tier: '2.5g', model: 'det_2.5g', size: 640, medianMs: 60, p95Ms: 80, apHard: 77.9 },
      ],
    }),
  );
  const r = await facegate(['detect', '--tier', 'auto', '--budget-ms', '20', '--profile', profile, '--json', dataPath('groups/faceapi_bbt4.jpg')]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /budget 20 ms -> tier 2\.5g at 320/);
  t.equal((JSON.parse(r.stdout) as { faces: unknown[] }).faces.length, 6);
  const tight = await facegate(['detect', '--tier', 'auto', '--budget-ms', '2', '--profile', profile, dataPath('groups/faceapi_bbt4.jpg')]);
  t.equal(tight.code, 1);
  t.match(tight.stderr, /no detector tier fits 2 ms/);
  t.ok(statSync(profile).size > 0);
});

t.test('facegate models list / verify', async (t) => {
  const list = await facegate(['models', 'list', '--json']);
  t.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { name: string; status: string }[];
  t.match(rows.find((r) => r.name === 'scrfd_500m'), { status: /verified/ });
  t.match(rows.find((r) => r.name === 'det_10g'), { status: /not found/ });
  const human = await facegate(['models', 'list']);
  t.match(human.stdout, /non-commercial research only/);
  const verify = await facegate(['models', 'verify', 'scrfd_500m', 'det_2.5g']);
  t.equal(verify.code, 0);
  const missing = await facegate(['models', 'verify', 'w600k_mbf']);
  t.equal(missing.code, 1);
  t.match(missing.stdout, /FAILED\s+w600k_mbf/);
});

t.test('the service commands are wired: config check on the shipped files, run with a bad config, watch without a token', async (t) => {
  for (const f of ['config/default.yaml', 'config/demo.yaml']) {
    const r = await facegate(['config', 'check', fileURLToPath(new URL(`../../${f}`, import.meta.url))]);
    t.equal(r.code, 0, `${f} is valid: ${r.stdout.trim()} ${r.stderr.trim()}`);
  }
  const missing = await facegate(['run', '--config', '/nonexistent/facegate.yaml']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /nonexistent\/facegate\.yaml/, 'names the file');
  t.notMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  const watch = await facegate(['watch']);
  t.equal(watch.code, 1);
  t.match(watch.stderr, /FACEGATE_TOKEN/, 'asks for the token in the environment, not on the command line');
  const help = await facegate(['identities', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /list/);
  // Run as a program (npx, the installed bin): its shebang passes node the V8 heap flag.
  const direct = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(BIN, ['--help'], { timeout: 120_000 }, (err, stdout) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout }));
  });
  t.equal(direct.code, 0, 'bin/facegate.js runs through its shebang (env -S ... node --max-semi-space-size=1)');
  t.match(direct.stdout, /Usage: facegate/);
});

t.test('an argument with a NUL or a lone surrogate is refused before anything runs, naming the option', async (t) => {
  // execve cannot pass a NUL and Linux argv arrives as UTF-8 (malformed bytes become U+FFFD), but
  // an embedding program or another platform can hand such text to the CLI: its argv is set here
  // the way such a caller would, and the real CLI runs in its own process.
  const dir = mkdtempSync(join(tmpdir(), 'fg-cli-text-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const run = (args: string[]): Promise<{ code: number; stderr: string }> =>
    new Promise((resolve) => {
      const script = `process.argv = [process.execPath, 'facegate', ...JSON.parse(process.env.FG_ARGS)]; const { register } = await import('tsx/esm/api'); register(); await import(${JSON.stringify(main)});`;
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000, env: { ...process.env, FG_ARGS: JSON.stringify(args) } }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
      });
    });
  const db = join(dir, 'gallery.sqlite');
  const photo = dataPath('identities/faceapi_bbt/penny/penny1.png');
  const nul = await run(['enroll', '--name', 'Ada\u0000Lovelace', '--db', db, photo]);
  t.equal(nul.code, 1, `a NUL in --name: exit 1 (${nul.stderr.trim()})`);
  t.match(nul.stderr, /the value of --name contains a NUL character \(U\+0000\) at index 3/, 'says what and where');
  t.match(nul.stderr, /fix: remove it/, 'and how to fix it');
  const half = await run(['enroll', '--name', 'Ada', '--group=night\ud800', '--db', db, photo]);
  t.equal(half.code, 1);
  t.match(half.stderr, /--group contains a lone UTF-16 surrogate/);
  t.notOk(existsSync(db), 'nothing was enrolled: the gallery was never created');
  // A visitor's end in the past is refused before anything loads; a future one is stored.
  const past = await run(['enroll', '--name', 'Visitor', '--valid-until', '2001-01-01', '--db', db, photo]);
  t.equal(past.code, 1);
  t.match(past.stderr, /--valid-until 2001-01-01 is in the past/);
  t.notOk(existsSync(db), 'still nothing enrolled');
  const visitor = await run(['enroll', '--name', 'Visitor', '--valid-until', '2999-01-01T00:00:00Z', '--db', db, photo]);
  t.equal(visitor.code, 0, visitor.stderr);
  const g = openGallery(db);
  t.equal(g.listIdentities()[0]?.validUntil, Date.parse('2999-01-01T00:00:00Z'), 'enrolled with its end of validity');
  g.close();
});
