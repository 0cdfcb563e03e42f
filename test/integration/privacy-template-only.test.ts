import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { openGallery } from '../../src/gallery/index.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';
import { galleryCli } from '../helpers/run-gallery-cli.ts';

/**
 * Template-only mode as an operator meets it, with the real CLI, detector and embedders:
 * `privacy.keepEnrollmentCrops: false` stops new crops (existing ones stay), `gallery drop-crops`
 * removes those, and a change of embedder then names who must be enrolled again.
 */

const CLI = fileURLToPath(new URL('../helpers/gallery-cli.ts', import.meta.url));
const OLD = 'mobilefacenet_paddlex_128d';
const NEW = 'mobilefacenet_foamliu_128d';

const facegate = galleryCli;

const dir = mkdtempSync(join(tmpdir(), 'fg-template-only-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'data', 'gallery.sqlite');
const config = (keep: boolean): string => {
  const file = join(dir, keep ? 'keep.yaml' : 'template-only.yaml');
  writeFileSync(file, ['privacy:', `  keepEnrollmentCrops: ${keep}`, 'gallery:', '  db: data/gallery.sqlite', 'models:', `  embedder: ${OLD}`, ''].join('\n'));
  return file;
};
const keep = config(true);
const templateOnly = config(false);

const cropsOf = (): Map<string, number> => {
  const g = openGallery(db, { create: false });
  try {
    return new Map(g.listIdentities().map((i) => [i.name, g.listCrops(i.id).length]));
  } finally {
    g.close();
  }
};

t.test('keepEnrollmentCrops false: no new crops, old ones kept until drop-crops; reembed names who needs re-enrollment', async (t) => {
  const amy = await facegate(['enroll', '--name', 'amy', '--config', keep, '--embedder', OLD, bbtPhoto('amy', 1), bbtPhoto('amy', 2)]);
  t.equal(amy.code, 0, amy.stderr);
  const howard = await facegate(['enroll', '--name', 'howard', '--config', templateOnly, '--embedder', OLD, bbtPhoto('howard', 1), bbtPhoto('howard', 2)]);
  t.equal(howard.code, 0, howard.stderr);
  t.same(Object.fromEntries(cropsOf()), { amy: 2, howard: 0 }, 'template-only enrollment stores no crop; the setting deleted none');

  const dropped = await facegate(['gallery', 'drop-crops', '--config', templateOnly]);
  t.equal(dropped.code, 0, dropped.stderr);
  t.equal(dropped.stdout, 'dropped 2 enrollment crop(s) of 1 identity; templates kept (a change of embedder now needs them enrolled again)\n');
  t.same(Object.fromEntries(cropsOf()), { amy: 0, howard: 0 });
  const again = await facegate(['gallery', 'drop-crops', '--config', templateOnly, '--json']);
  t.same(JSON.parse(again.stdout), { crops: 0, identities: 0, walTruncated: true });

  const re = await facegate(['gallery', 'reembed', '--config', templateOnly, '--embedder', NEW]);
  t.equal(re.code, 2, 'exit 2: identities were left out');
  t.match(re.stdout, /2 skipped \(no stored photo crop: enroll them again\): amy, howard/);
  t.match(re.stderr, /warning: 2 identities need re-enrollment: no stored enrollment crop \(privacy\.keepEnrollmentCrops: false/);
});
