import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { EventLog } from '../../src/events/index.ts';

const WRITER = fileURLToPath(new URL('../helpers/events-writer.ts', import.meta.url));

/** Run the writer, SIGKILL it once it has printed `killAfter` ids; return what it printed. */
function burstAndKill(db: string, killAfter: number): Promise<{ printed: number[]; startLastId: number; signal: NodeJS.Signals | null; done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, db], { stdio: ['ignore', 'pipe', 'pipe'] });
    const printed: number[] = [];
    let startLastId = -1;
    let done = false;
    let partial = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ready ')) startLastId = Number(line.slice(6));
        else if (line === 'done') done = true;
        else if (line) printed.push(Number(line));
      }
      if (!killed && printed.length >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!killed) reject(new Error(`writer exited on its own (code ${code}): ${stderr}`));
      else resolve({ printed, startLastId, signal, done });
    });
  });
}

t.test('kill -9 mid-burst: every id the writer reported is in the log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-events-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'events.db');
  let lastPrinted = 0;
  for (const [round, killAfter] of [300, 50, 1000].entries()) {
    const run = await burstAndKill(db, killAfter);
    t.equal(run.signal, 'SIGKILL', `round ${round}: killed`);
    t.notOk(run.done, `round ${round}: killed mid-burst`);
    t.ok(run.printed.length >= killAfter, `round ${round}: ${run.printed.length} ids reported`);
    t.ok(run.startLastId >= lastPrinted, `round ${round}: reopened log starts at ${run.startLastId}, after every id reported before`);
    t.ok(run.printed.every((id, i) => id === (i === 0 ? run.startLastId + 1 : run.printed[i - 1] + 1)), `round ${round}: ids consecutive, continuing the log`);

    const raw = new Database(db, { readonly: true });
    t.equal(raw.pragma('integrity_check', { simple: true }), 'ok', `round ${round}: database intact`);
    raw.close();
    const log = new EventLog(db);
    const ids = new Set(log.since(0, {}, 10_000_000).map((e) => e.id));
    const lost = run.printed.filter((id) => !ids.has(id));
    t.same(lost, [], `round ${round}: no reported id lost (${ids.size} events in the log)`);
    t.ok(log.lastId() >= run.printed.at(-1)!, `round ${round}: lastId covers the reported ids`);
    const sample = log.get(run.printed.at(-1)!);
    t.match(sample, { type: 'gate.denied', gateId: 'front', data: { reason: 'not-allowed' } }, `round ${round}: the last reported event reads back whole`);
    log.close();
    lastPrinted = run.printed.at(-1)!;
  }
});
