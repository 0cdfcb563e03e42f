import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openGallery } from '../../src/gallery/index.ts';
import { SCHEMA_VERSION } from '../../src/gallery/schema.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { galleryCli } from '../helpers/run-gallery-cli.ts';

/** `facegate enroll` -> `facegate gallery status` -> `facegate gallery reembed` as a user runs them. */

const CLI = fileURLToPath(new URL('../helpers/gallery-cli.ts', import.meta.url));
const OLD = 'mobilefacenet_paddlex_128d';
const NEW = 'mobilefacenet_foamliu_128d';

const facegate = galleryCli;

const dir = mkdtempSync(join(tmpdir(), 'fg-reembed-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'gallery.sqlite');

t.test('enroll stores crops; status shows them and who lacks them; reembed builds the new model; --drop-old removes the old', async (t) => {
  for (const person of ['amy', 'howard']) {
    const r = await facegate(['enroll', '--name', person, '--db', db, '--embedder', OLD, bbtPhoto(person, 1), bbtPhoto(person, 2)]);
    t.equal(r.code, 0, r.stderr);
  }
  // Someone enrolled before crops were kept (no crop: the old code path).
  const g = openGallery(db);
  g.enroll({ name: 'Old Timer', templates: [template(randomUnit(128, mulberry32(1)), { modelId: OLD })] });
  g.close();

  const s1 = await facegate(['gallery', 'status', '--db', db]);
  t.equal(s1.code, 0, s1.stderr);
  t.equal(
    s1.stdout,
    [
      `gallery ${db} (schema ${SCHEMA_VERSION})`,
      'identities: 3 (2 with stored photo crops, 4 crops)',
      'templates:',
      `  ${OLD}  3 identities, 5 plain + 12 masked`,
      'without stored crops (cannot be re-embedded; enroll them again before a model change): Old Timer',
      '',
    ].join('\n'),
  );

  const r = await facegate(['gallery', 'reembed', '--embedder', NEW, '--db', db]);
  t.equal(r.code, 2, 'exit 2: done, but someone was skipped');
  t.match(r.stdout, new RegExp(`^re-embedded 2 identities for ${NEW}: 4 photo crop\\(s\\), 16 templates in \\d+\\.\\d s; 1 skipped \\(no stored photo crop: enroll them again\\): Old Timer\\n$`));
  // No progress bar when stderr is not a terminal: only the warning about who must be enrolled again.
  t.equal(r.stderr, `warning: 1 identity needs re-enrollment: no stored enrollment crop (privacy.keepEnrollmentCrops: false, or enrolled before crops were kept) and no ${NEW} template, so it is not recognised with ${NEW} until enrolled again: Old Timer\n`);

  const s2 = JSON.parse((await facegate(['gallery', 'status', '--json', '--db', db])).stdout) as { models: { modelId: string; identities: number; plain: number; masked: number }[]; crops: number };
  t.same(s2.models, [
    { modelId: NEW, identities: 2, plain: 4, masked: 12 },
    { modelId: OLD, identities: 3, plain: 5, masked: 12 },
  ], 'both models coexist');

  const drop = await facegate(['gallery', 'reembed', '--embedder', NEW, '--db', db, '--drop-old', '--json']);
  t.equal(drop.code, 2);
  const summary = JSON.parse(drop.stdout) as { identities: number; templates: number; replaced: number; dropped: { identities: number; removed: number; kept: { name: string }[] } };
  t.match(summary, { identities: 2, templates: 16, replaced: 16, dropped: { identities: 2, removed: 16, kept: [{ name: 'Old Timer' }] } });
  const s3 = JSON.parse((await facegate(['gallery', 'status', '--json', '--db', db])).stdout) as { models: { modelId: string; identities: number }[]; crops: number };
  t.same(s3.models.map((m) => [m.modelId, m.identities]), [[NEW, 2], [OLD, 1]], 'only Old Timer keeps old templates');
  t.equal(s3.crops, 4);
});

t.test('errors: message + fix, exit 1, no stack, nothing changed', async (t) => {
  const before = readFileSync(db);
  const unknown = await facegate(['gallery', 'reembed', '--embedder', 'no_such_model', '--db', db]);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^error: unknown model "no_such_model"\n {2}fix: known models: /);
  t.notMatch(unknown.stderr, /\bat .*\.ts:\d+/);
  t.ok(readFileSync(db).equals(before), 'the gallery file is unchanged');

  const missing = await facegate(['gallery', 'status', '--db', join(dir, 'nope.sqlite')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no gallery at .*nope\.sqlite\n {2}fix: /);

  const empty = join(dir, 'empty.sqlite');
  writeFileSync(empty, '');
  const e = await facegate(['gallery', 'reembed', '--embedder', NEW, '--db', empty]);
  t.equal(e.code, 1);
  t.match(e.stderr, new RegExp(`^error: gallery file ${empty.replace(/[.]/g, '\\.')} is empty \\(0 bytes\\).*\\n {2}fix: `));
});
