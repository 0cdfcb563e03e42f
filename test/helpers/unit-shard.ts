/**
 * The unit tier runs in a few processes instead of one per file (the way mocha runs a suite):
 * each `test/unit/*.test.ts` file imported into one of `test/shards/unit-N.ts`, which tap runs
 * two at a time. A process per file cost about a second of CPU before its first test (tsx, tap and
 * the imports); for 60-odd files of pure tests that was most of the tier's time. A file still
 * runs alone with `npx tap test/unit/FILE.test.ts`.
 *
 * Sharing a process has two rules, checked here before a file is imported, because breaking them
 * passes alone and fails (or hides failures) in a shard:
 * - no `t.teardown`/`t.before`/`t.after` at the top level: on the root they make tap end the
 *   shard once it is idle between two files, so later files' tests would never run. Clean up a
 *   file-wide temp dir with `tempDir()` below, or register the hook inside a subtest.
 * - no process-wide state set at the top level (`process.env.X = ...`, `process.chdir`): it would
 *   leak into other files' tests. Set it inside a test and restore it in that test's teardown.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const UNIT = join(ROOT, 'test/unit');

const RULES: readonly { pattern: RegExp; fix: string }[] = [
  { pattern: /^t\.(teardown|before|beforeEach|after|afterEach)\(/m, fix: 'a top-level hook ends a shared shard early: use tempDir() from test/helpers/unit-shard.ts, or register it inside a subtest' },
  { pattern: /^process\.(env\.\w+\s*=|env\[[^\]]+\]\s*=|chdir\(|umask\()/m, fix: 'process-wide state set at the top level leaks into other files: set it inside a test and restore it in t.teardown' },
];

/** A temp directory for a whole test file, removed when the process exits (shard-safe). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The unit test files of shard `index` (1-based) of `count`: every count-th file by name. */
export function unitShardFiles(index: number, count: number): string[] {
  return readdirSync(UNIT)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .filter((_, i) => i % count === index - 1)
    .map((f) => join(UNIT, f));
}

/** Imports the shard's files in order; a file that breaks a rule or fails to load is one failure. */
export async function runUnitShard(index: number, count: number): Promise<void> {
  for (const file of unitShardFiles(index, count)) {
    const name = relative(ROOT, file);
    const broken = RULES.find((r) => r.pattern.test(readFileSync(file, 'utf8')));
    if (broken) {
      t.fail(`${name}: ${broken.fix}`, { found: broken.pattern.exec(readFileSync(file, 'utf8'))?.[0] });
      continue;
    }
    t.comment(name);
    try {
      await import(file);
    } catch (e) {
      t.fail(`${name} failed to load: ${e instanceof Error ? e.message : String(e)}`, { stack: e instanceof Error ? e.stack : undefined });
    }
  }
}
