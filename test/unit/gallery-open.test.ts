import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { classifyGalleryFile } from '../../src/gallery/file-check.ts';
import { isGalleryError, openGallery } from '../../src/gallery/index.ts';
import { randomUnit, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';
import { tempDir } from '../helpers/unit-shard.ts';

/** Issue 14: a gallery path that exists but is not a gallery must fail loudly, never open as an empty gallery. */

const dir = tempDir('fg-gallery-open-');

function openError(path: string, opts: { create?: boolean } = {}): { code: string; message: string; hint: string | undefined } {
  try {
    openGallery(path, opts).close();
  } catch (e) {
    if (isGalleryError(e)) return { code: e.code, message: e.message, hint: e.hint };
    throw e;
  }
  return { code: 'opened', message: '', hint: undefined };
}

t.test('a 0-byte gallery file is an error with the path and a fix, and stays untouched', async (t) => {
  const path = join(dir, 'empty.sqlite');
  writeFileSync(path, '');
  for (const create of [true, false]) {
    const e = openError(path, { create });
    t.equal(e.code, 'GALLERY_NOT_A_GALLERY', `create=${create}`);
    t.match(e.message, `${path} is empty (0 bytes)`);
    t.match(e.hint, /restore it from a backup.*delete the empty file/);
  }
  t.equal(statSync(path).size, 0, 'the file was not turned into a database');
});

t.test('an SQLite database of another program is refused, and facegate adds no table to it', async (t) => {
  const path = join(dir, 'other-app.db');
  const raw = new Database(path);
  raw.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (12.5);");
  raw.close();
  const before = readFileSync(path);
  const e = openError(path);
  t.equal(e.code, 'GALLERY_NOT_A_GALLERY');
  t.match(e.message, `${path} is an SQLite database without facegate's tables (it has: invoices)`);
  t.match(e.hint, /point --db/);
  t.same(readFileSync(path), before, 'the foreign database is byte-for-byte unchanged');
});

t.test('an SQLite file with no tables at all (schema-less) is refused', async (t) => {
  const path = join(dir, 'shell.db');
  const raw = new Database(path);
  raw.pragma('journal_mode = WAL'); // writes the header: a valid, empty SQLite file
  raw.close();
  t.ok(statSync(path).size > 0);
  const e = openError(path);
  t.equal(e.code, 'GALLERY_NOT_A_GALLERY');
  t.match(e.message, `${path} is an SQLite database with no tables`);
  t.match(e.hint, /delete this file first/);
});

t.test('a file that is not SQLite at all is refused as such', async (t) => {
  const path = join(dir, 'notes.txt');
  writeFileSync(path, 'staff list: Ada, Alan\n');
  const e = openError(path);
  t.equal(e.code, 'GALLERY_NOT_A_GALLERY');
  t.match(e.message, `${path} is not a facegate gallery: it is not an SQLite database`);
  t.equal(readFileSync(path, 'utf8'), 'staff list: Ada, Alan\n');
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  t.match(openError(folder), { code: 'GALLERY_NOT_A_GALLERY', message: /is a folder/ });
});

t.test('still fine: a missing file is created; a real gallery reopens (also while another connection holds it)', async (t) => {
  const path = join(dir, 'sub', 'new.sqlite');
  const g = openGallery(path);
  const rand = mulberry32(1);
  g.enroll({ name: 'Ada', templates: [template(randomUnit(128, rand))] });
  const second = openGallery(path);
  t.equal(second.stats().identities, 1);
  second.close();
  g.close();
  const again = openGallery(path, { create: false });
  t.equal(again.stats().identities, 1);
  again.close();
  t.equal(openError(join(dir, 'nope.sqlite'), { create: false }).code, 'GALLERY_OPEN_FAILED', 'missing without create: the old "no gallery at" error');
});

t.test('classifyGalleryFile (pure)', async (t) => {
  const magic = Buffer.from('SQLite format 3\u0000', 'latin1');
  t.equal(classifyGalleryFile(0, new Uint8Array(), 0), 'empty');
  t.equal(classifyGalleryFile(0, new Uint8Array(), 4096), 'sqlite', 'an un-checkpointed WAL holds the database');
  t.equal(classifyGalleryFile(4096, magic, 0), 'sqlite');
  t.equal(classifyGalleryFile(5, Buffer.from('hello'), 0), 'not-sqlite');
  t.equal(classifyGalleryFile(16, Buffer.from('SQLite format 2\u0000', 'latin1'), 0), 'not-sqlite');
});
