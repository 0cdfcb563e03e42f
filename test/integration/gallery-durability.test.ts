import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { openGallery } from '../../src/gallery/index.ts';

const CHILD = fileURLToPath(new URL('../helpers/gallery-enroll-child.ts', import.meta.url));

interface ChildRun {
  committed: number[];
  inTx: number[];
  signal: NodeJS.Signals | null;
}

/** Run the enrolling child and SIGKILL it when `killWhen(line)` says so; report what it printed. */
function runChild(args: string[], killWhen: (line: string, run: ChildRun) => boolean | number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: ChildRun = { committed: [], inTx: [], signal: null };
    let stderr = '';
    let killing = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [what, n] = line.split(' ');
      if (what === 'committed') run.committed.push(Number(n));
      if (what === 'in-tx') run.inTx.push(Number(n));
      const decision = killWhen(line, run);
      if (decision !== false && !killing) {
        killing = true;
        if (decision === true) child.kill('SIGKILL');
        else setTimeout(() => child.kill('SIGKILL'), decision);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      run.signal = signal;
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (code ${code}): ${stderr}`));
      else resolve(run);
    });
  });
}

/** Check the file with SQLite alone (not through the gallery code under test). */
function inspect(path: string): { integrity: string; fkProblems: number; orphans: number; counts: Map<string, number> } {
  const db = new Database(path);
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const fkProblems = (db.pragma('foreign_key_check') as unknown[]).length;
    const orphans = db.prepare<[], number>('SELECT count(*) FROM templates WHERE identity_id NOT IN (SELECT id FROM identities)').pluck().get() ?? -1;
    const rows = db.prepare<[], { name: string; n: number }>('SELECT i.name AS name, count(t.id) AS n FROM identities i LEFT JOIN templates t ON t.identity_id = i.id GROUP BY i.id').all();
    return { integrity, fkProblems, orphans, counts: new Map(rows.map((r) => [r.name, r.n])) };
  } finally {
    db.close();
  }
}

t.test('kill -9 inside an enrollment transaction leaves no partial identity', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gallery.db');
  const TEMPLATES = 1500; // 1500 x 512-d = 3 MB per identity
  // The child sleeps 3 s inside the transaction of person-3, after writing all its rows; the kill lands there.
  const run = await runChild([path, '0', String(TEMPLATES), '512', '3000'], (line) => line === 'in-tx 3');
  t.same(run.committed, [0, 1, 2], 'three enrollments committed before the kill');
  t.same(run.inTx, [0, 1, 2, 3]);

  const state = inspect(path);
  t.equal(state.integrity, 'ok', 'integrity_check ok');
  t.equal(state.fkProblems, 0, 'no foreign key violations');
  t.equal(state.orphans, 0, 'no orphan templates');
  t.same([...state.counts.keys()].sort(), ['person-0', 'person-1', 'person-2'], 'person-3, killed mid-transaction, is absent');
  for (const [name, n] of state.counts) t.equal(n, TEMPLATES, `${name} has all ${TEMPLATES} templates`);

  const g = openGallery(path, { create: false });
  t.teardown(() => g.close());
  t.equal(g.stats().templates, 3 * TEMPLATES, 'the gallery reopens with exactly the committed rows');
  t.same(g.stats().indexes.map((ix) => ix.rows), [750 * 3, 750 * 3]);
});

t.test('kill -9 at arbitrary moments, repeatedly: every identity present is complete', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gallery.db');
  const TEMPLATES = 400;
  let next = 0;
  const delays = [0, 7, 23, 41];
  let committedTotal = 0;
  for (const [round, delay] of delays.entries()) {
    // Kill `delay` ms after the second `begin` of this round: somewhere in validation, the
    // transaction, or between two enrollments.
    let begins = 0;
    const run = await runChild([path, String(next), String(TEMPLATES), '256', '0'], (line) => (line.startsWith('begin') && ++begins === 2 ? delay || true : false));
    committedTotal += run.committed.length;
    const state = inspect(path);
    t.equal(state.integrity, 'ok', `round ${round}: integrity_check ok`);
    t.equal(state.orphans, 0, `round ${round}: no orphans`);
    const incomplete = [...state.counts].filter(([, n]) => n !== TEMPLATES);
    t.same(incomplete, [], `round ${round}: no identity with a partial template set`);
    for (const n of run.committed) t.ok(state.counts.has(`person-${n}`), `round ${round}: committed person-${n} survived the kill`);
    t.ok(state.counts.size >= committedTotal, `round ${round}: ${state.counts.size} identities, ${committedTotal} reported committed`);
    next += 1000;
  }
});

t.test('kill -9 after an uncommitted enrollment spilled into the WAL: recovery discards it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gallery.db');
  // better-sqlite3's page cache is 16 MB (cache_size -16000); 4500 x 1024-d = 18 MB of blobs
  // overflows it, so SQLite writes uncommitted pages into the WAL before COMMIT.
  const run = await runChild([path, '0', '4500', '1024', '5000'], (line) => line === 'in-tx 0');
  t.same(run.committed, []);
  const walBytes = statSync(`${path}-wal`).size;
  // Before it, the WAL held only the schema (~50 kB).
  t.ok(walBytes > 1e6, `the uncommitted transaction is partly on disk in the WAL (${(walBytes / 1e6).toFixed(1)} MB)`);
  const state = inspect(path);
  t.equal(state.integrity, 'ok');
  t.equal(state.orphans, 0);
  t.same([...state.counts], [], 'recovery dropped the uncommitted identity and all its templates');
  const g = openGallery(path, { create: false });
  t.teardown(() => g.close());
  t.match(g.stats(), { identities: 0, templates: 0, unknowns: 0, indexes: [] });
});
