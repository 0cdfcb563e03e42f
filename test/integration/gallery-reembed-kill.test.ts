import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { createDetector } from '../../src/detect/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { reembedGallery } from '../../src/recognize/index.ts';
import { createEmbedder } from '../../src/recognize/index.ts';
import { ENROLLED, enrollPeople } from '../helpers/gallery-real.ts';

/** Issue 13: a re-embedding killed with SIGKILL leaves the old templates and no partial new ones. */

const CHILD = fileURLToPath(new URL('../helpers/gallery-reembed-child.ts', import.meta.url));
const OLD = 'mobilefacenet_paddlex_128d';
const NEW = 'mobilefacenet_foamliu_128d';
const dir = mkdtempSync(join(tmpdir(), 'fg-reembed-kill-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const seed = join(dir, 'seed.sqlite');

t.before(async () => {
  const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  const paddlex = await createEmbedder(OLD);
  const g = openGallery(seed);
  await enrollPeople(g, detector, paddlex, ENROLLED);
  g.close();
  await detector.close();
  await paddlex.close();
});

interface ChildRun {
  readonly lines: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Run the child on `path`; SIGKILL it on the first line `killAt` accepts (never, when undefined). */
function runChild(path: string, sleepMs: number, killAt?: (line: string) => boolean): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, path, NEW, String(sleepMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (killAt?.(line)) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child failed (code ${code}): ${stderr}`));
      else resolve({ lines, code, signal });
    });
  });
}

/** The file as SQLite alone sees it (not through the gallery code under test). */
function inspect(path: string): { integrity: string; perModel: Record<string, number>; oldTemplates: string[] } {
  const db = new Database(path);
  try {
    const perModel: Record<string, number> = {};
    for (const r of db.prepare<[], { model_id: string; n: number }>('SELECT model_id, count(*) AS n FROM templates GROUP BY model_id').all()) perModel[r.model_id] = r.n;
    const oldTemplates = db.prepare<[string], string>("SELECT id || ':' || hex(embedding) FROM templates WHERE model_id = ? ORDER BY id").pluck().all(OLD);
    return { integrity: db.pragma('integrity_check', { simple: true }) as string, perModel, oldTemplates };
  } finally {
    db.close();
  }
}

const before = (): ReturnType<typeof inspect> => inspect(seed);

t.test('control: the child, not killed, commits every new template', async (t) => {
  const path = join(dir, 'control.sqlite');
  copyFileSync(seed, path);
  const run = await runChild(path, 0);
  t.equal(run.code, 0);
  t.ok(run.lines.includes('in-tx'));
  t.equal(run.lines.at(-1), 'committed 32');
  t.same(inspect(path).perModel, { [OLD]: 32, [NEW]: 32 });
});

t.test('kill -9 inside the write transaction (all new rows written, before COMMIT)', async (t) => {
  const path = join(dir, 'in-tx.sqlite');
  copyFileSync(seed, path);
  const run = await runChild(path, 5000, (line) => line === 'in-tx');
  t.equal(run.signal, 'SIGKILL');
  t.ok(run.lines.includes('progress 8 8'), 'every crop was embedded before the kill');
  const state = inspect(path);
  t.equal(state.integrity, 'ok');
  t.same(state.perModel, { [OLD]: 32 }, 'no template of the new model');
  t.same(state.oldTemplates, before().oldTemplates, 'old templates: same ids, same bytes');
});

t.test('kill -9 in the middle of embedding', async (t) => {
  const path = join(dir, 'mid.sqlite');
  copyFileSync(seed, path);
  const run = await runChild(path, 0, (line) => line === 'progress 3 8');
  t.equal(run.signal, 'SIGKILL');
  t.notOk(run.lines.includes('in-tx'));
  const state = inspect(path);
  t.equal(state.integrity, 'ok');
  t.same(state.perModel, { [OLD]: 32 });
  t.same(state.oldTemplates, before().oldTemplates);

  // After the crash, running it again completes.
  const g = openGallery(path, { create: false });
  t.teardown(() => g.close());
  const foamliu = await createEmbedder(NEW);
  t.teardown(() => foamliu.close());
  t.match(await reembedGallery(g, foamliu), { identities: 4, templates: 32 });
  t.same(inspect(path).perModel, { [OLD]: 32, [NEW]: 32 });
});

t.test('kill -9 while replacing existing templates of the same model: the previous ones survive', async (t) => {
  const path = join(dir, 'replace.sqlite');
  copyFileSync(seed, path);
  t.equal((await runChild(path, 0)).code, 0, 'a first, complete re-embedding');
  const db = new Database(path, { readonly: true });
  const newBefore = db.prepare<[string], string>("SELECT id || ':' || hex(embedding) FROM templates WHERE model_id = ? ORDER BY id").pluck().all(NEW);
  db.close();
  t.equal(newBefore.length, 32);
  // The second run deletes those 32 and inserts 32 rebuilt ones in its transaction; the kill lands before COMMIT.
  const run = await runChild(path, 5000, (line) => line === 'in-tx');
  t.equal(run.signal, 'SIGKILL');
  const after = new Database(path, { readonly: true });
  t.teardown(() => after.close());
  t.same(after.prepare<[string], string>("SELECT id || ':' || hex(embedding) FROM templates WHERE model_id = ? ORDER BY id").pluck().all(NEW), newBefore, 'the same 32 templates, ids and bytes');
  t.same(inspect(path).oldTemplates, before().oldTemplates);
});
