import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openGallery } from '../../src/gallery/index.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { galleryCli } from '../helpers/run-gallery-cli.ts';

const facegate = galleryCli;

const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'gallery.db');
const rand = mulberry32(3);
const seed = openGallery(db, { now: () => Date.UTC(2025, 0, 2, 3, 4, 5) });
const ada = seed.enroll({ name: 'Ada', groups: ['staff'], metadata: { employeeId: 'E1' }, templates: [template(randomUnit(128, rand)), template(randomUnit(128, rand), { masked: true })] });
const al1 = seed.enroll({ name: 'Alan', templates: [template(randomUnit(128, rand))] });
const al2 = seed.enroll({ name: 'Alan', templates: [template(randomUnit(128, rand))] });
seed.close();

t.test('list: a table, and --json', async (t) => {
  const r = await facegate(['identities', 'list', '--db', db]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.match(lines[0], /^ID\s+NAME\s+GROUPS\s+TEMPLATES\s+ENROLLED$/);
  t.match(lines[1], new RegExp(`^${ada.id}\\s+Ada\\s+staff\\s+test_128d: 1 plain \\+ 1 masked\\s+2025-01-02T03:04:05Z$`));
  t.equal(lines.length, 5);
  t.equal(lines[4], `3 identities in ${db}`);
  const json = await facegate(['identities', 'list', '--json', '--db', db]);
  t.equal(json.code, 0);
  const parsed = JSON.parse(json.stdout) as { id: string; name: string; templateTotal: number; groups: string[] }[];
  t.same(parsed.map((p) => [p.name, p.templateTotal]), [['Ada', 2], ['Alan', 1], ['Alan', 1]]);
  t.same(parsed[0].groups, ['staff']);
});

t.test('--db defaults to the given default path', async (t) => {
  const r = await facegate(['identities', 'list'], { FACEGATE_TEST_DB: db });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /3 identities/);
});

t.test('show by name and by id; --json includes templates', async (t) => {
  const r = await facegate(['identities', 'show', 'ada', '--db', db]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^Ada \\(${ada.id}\\)`));
  t.match(r.stdout, /groups:\s+staff/);
  t.match(r.stdout, /metadata:\s+\{"employeeId":"E1"\}/);
  t.match(r.stdout, /templates: 2 \(test_128d: 1 plain \+ 1 masked\)/);
  t.match(r.stdout, /tpl_[0-9a-f]{16}\s+test_128d\s+masked\s+128\s+0\.800\s+aaaaaaaaaaaa/);
  const j = await facegate(['identities', 'show', ada.id, '--json', '--db', db]);
  const parsed = JSON.parse(j.stdout) as { id: string; templates: { masked: boolean; dim: number }[] };
  t.equal(parsed.id, ada.id);
  t.same(parsed.templates.map((x) => [x.masked, x.dim]), [[false, 128], [true, 128]]);
});

t.test('ambiguous and missing names: message + fix, exit 1, no stack', async (t) => {
  const r = await facegate(['identities', 'show', 'Alan', '--db', db]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.equal(r.stderr, `error: 2 identities are named "Alan": ${al1.id}, ${al2.id}\n  fix: name one by its id, e.g. ${al1.id}\n`);
  const missing = await facegate(['identities', 'remove', 'Nobody', '--yes', '--db', db]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: no identity with id or name "Nobody"\n {2}fix: list identities with `facegate identities list`\n$/);
  t.notMatch(missing.stderr, /\bat .*\.ts:\d+/, 'no stack trace');
  const noDb = await facegate(['identities', 'list', '--db', join(dir, 'nope.db')]);
  t.equal(noDb.code, 1);
  t.match(noDb.stderr, /no gallery at .*nope\.db\n {2}fix: /);
  t.notOk(existsSync(join(dir, 'nope.db')), 'listing does not create an empty gallery');
});

t.test('rename, then remove (which needs --yes)', async (t) => {
  const r = await facegate(['identities', 'rename', al2.id, 'Alan Turing', '--db', db]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `renamed ${al2.id}: "Alan" -> "Alan Turing"\n`);
  t.equal((await facegate(['identities', 'show', 'Alan', '--db', db])).code, 0, 'no longer ambiguous');
  const bad = await facegate(['identities', 'rename', 'Alan', '  ', '--db', db]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^error: new name is empty\n {2}fix: /);

  const unconfirmed = await facegate(['identities', 'remove', 'Ada', '--db', db]);
  t.equal(unconfirmed.code, 1);
  t.match(unconfirmed.stderr, new RegExp(`not removing Ada \\(${ada.id}\\) and its 2 templates without confirmation\\n {2}fix: re-run with --yes`));
  const removed = await facegate(['identities', 'remove', 'Ada', '--yes', '--db', db]);
  t.equal(removed.code, 0, removed.stderr);
  t.equal(removed.stdout, `removed Ada (${ada.id}) and its 2 templates\n`);
  const g = openGallery(db, { create: false });
  t.teardown(() => g.close());
  t.same(g.listIdentities().map((i) => i.name), ['Alan', 'Alan Turing']);
  t.equal(g.stats().templates, 2, 'templates went with the identity');
});

t.test('usage errors come from commander with exit 1', async (t) => {
  const r = await facegate(['identities', 'rename', 'only-one-arg', '--db', db]);
  t.equal(r.code, 1);
  t.match(r.stderr, /missing required argument 'new-name'/);
});
