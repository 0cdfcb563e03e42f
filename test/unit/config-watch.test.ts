import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { formatConfigPath, watchConfig, type Config, type ConfigDiff, type ConfigError } from '../../src/config/index.ts';

type WatchEvent = { kind: 'change'; next: Config; diff: ConfigDiff; previous: Config } | { kind: 'error'; error: ConfigError };

/** Collects watcher callbacks; `next()` waits for the next one, `quiet()` asserts none comes. */
class Recorder {
  private readonly queue: WatchEvent[] = [];
  private waiter: ((e: WatchEvent) => void) | undefined;
  push(e: WatchEvent): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(e);
    } else this.queue.push(e);
  }
  next(timeoutMs = 5000): Promise<WatchEvent> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no watcher callback within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  }
  /** Events that arrived within `ms` (should be none). */
  async quiet(ms: number): Promise<WatchEvent[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.queue.splice(0);
  }
}

const yaml = (cameras: { id: string; fps?: unknown }[]): string =>
  ['cameras:', ...cameras.flatMap((c) => [`  - id: ${c.id}`, `    url: rtsp://192.0.2.1:554/${c.id}`, ...(c.fps === undefined ? [] : [`    fps: ${String(c.fps)}`])]), 'gates:', '  - { id: g, cameras: [a] }', ''].join('\n');

/** What editors do: write a temporary file beside it, then rename it over the config. */
function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

t.test('watchConfig on a real file: change, invalid, valid again, same bytes, delete, close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  writeFileSync(file, yaml([{ id: 'a' }, { id: 'b' }]));

  const rec = new Recorder();
  const w = watchConfig(file, {
    debounceMs: 50,
    onChange: (next, diff, previous) => rec.push({ kind: 'change', next, diff, previous }),
    onError: (error) => rec.push({ kind: 'error', error }),
  });
  t.teardown(() => w.close());
  const seen: string[][] = [];
  let completed = false;
  w.config$.subscribe({ next: (c) => seen.push(c.cameras.map((x) => x.id)), complete: () => (completed = true) });
  t.same(seen, [['a', 'b']], 'config$ starts with the current config');
  t.same(w.current.cameras.map((c) => c.id), ['a', 'b']);

  // A camera added and another removed, saved the way editors save.
  atomicWrite(file, yaml([{ id: 'a' }, { id: 'c' }]));
  const first = await rec.next();
  if (first.kind !== 'change') throw new Error(`expected a change, got ${first.error.describe()}`);
  t.same(first.diff.cameras, { added: ['c'], removed: ['b'], changed: [] });
  t.same(first.diff.sections, ['cameras']);
  t.same(first.previous.cameras.map((c) => c.id), ['a', 'b']);
  t.equal(w.current, first.next, 'swapped in');
  t.same(await rec.quiet(300), [], 'one save, one onChange');

  // An invalid save (written in place): reported, the running config stays.
  writeFileSync(file, yaml([{ id: 'a' }, { id: 'c', fps: 'fast' }]));
  const bad = await rec.next();
  if (bad.kind !== 'error') throw new Error('expected an error');
  t.equal(bad.error.code, 'CONFIG_INVALID');
  t.same(bad.error.issues.map((i) => [formatConfigPath(i.path), i.message, i.line]), [['cameras[1].fps', 'expected number, got string', 6]]);
  t.equal(w.current, first.next, 'the running config is unchanged');
  t.same(await rec.quiet(200), []);

  // Valid again: the diff is against the running (last valid) config.
  atomicWrite(file, yaml([{ id: 'a', fps: 10 }, { id: 'c' }]));
  const again = await rec.next();
  if (again.kind !== 'change') throw new Error(`expected a change, got ${again.error.describe()}`);
  t.same(again.diff.cameras, { added: [], removed: [], changed: ['a'] });
  t.equal(again.next.cameras[0].fps, 10);

  // The same bytes, or a change that only touches comments: no callback.
  atomicWrite(file, yaml([{ id: 'a', fps: 10 }, { id: 'c' }]));
  writeFileSync(join(dir, 'other.txt'), 'x');
  t.same(await rec.quiet(300), [], 'same content, other files: nothing');
  atomicWrite(file, `# a comment\n${yaml([{ id: 'a', fps: 10 }, { id: 'c' }])}`);
  t.same(await rec.quiet(300), [], 'same config: nothing');

  // Deleted: reported, still running on the last config.
  unlinkSync(file);
  const gone = await rec.next();
  t.equal(gone.kind === 'error' && gone.error.code, 'CONFIG_NOT_FOUND');
  t.equal(w.current, again.next);

  t.same(seen, [['a', 'b'], ['a', 'c'], ['a', 'c']], 'config$ emitted each valid change');
  w.close();
  t.ok(completed, 'config$ completes on close');
  w.close();
  writeFileSync(file, yaml([{ id: 'z' }]));
  t.same(await rec.quiet(300), [], 'nothing after close');
});

t.test('watchConfig: an invalid file at the start throws; initial skips the first load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  writeFileSync(file, 'cameras: [\n');
  t.throws(() => watchConfig(file), { code: 'CONFIG_SYNTAX' });

  writeFileSync(file, yaml([{ id: 'a' }]));
  const rec = new Recorder();
  const start = watchConfig(file, { debounceMs: 30 });
  const w = watchConfig(file, { initial: start.current, debounceMs: 30, onChange: (next, diff, previous) => rec.push({ kind: 'change', next, diff, previous }) });
  start.close();
  t.teardown(() => w.close());
  atomicWrite(file, yaml([{ id: 'a' }, { id: 'b' }]));
  const e = await rec.next();
  t.same(e.kind === 'change' && e.diff.cameras.added, ['b']);
});

t.test('hot reload: a file over a limit is rejected with its path like any invalid edit; the running config stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  writeFileSync(file, yaml([{ id: 'a' }]));
  const rec = new Recorder();
  const w = watchConfig(file, {
    debounceMs: 50,
    onChange: (next, diff, previous) => rec.push({ kind: 'change', next, diff, previous }),
    onError: (error) => rec.push({ kind: 'error', error }),
  });
  t.teardown(() => w.close());
  const running = w.current;

  // A camera URL over 128 KiB (spawn would throw E2BIG), carrying a password: refused, not echoed.
  const longUrl = `rtsp://admin:hunter2-s3cret@192.0.2.1:554/${'x'.repeat(140_000)}`;
  atomicWrite(file, ['cameras:', '  - id: a', '    url: rtsp://192.0.2.1:554/a', '  - id: b', `    url: ${longUrl}`, 'gates:', '  - { id: g, cameras: [a] }', ''].join('\n'));
  const long = await rec.next();
  if (long.kind !== 'error') throw new Error('expected the long URL to be rejected');
  t.equal(long.error.code, 'CONFIG_INVALID');
  t.same(long.error.issues.map((i) => [formatConfigPath(i.path), i.message, i.line]), [['cameras[1].url', 'too long: 140,042 characters, at most 4,096', 5]]);
  t.notMatch(long.error.describe(), /s3cret/);
  t.equal(w.current, running, 'still the running config');

  // 65 cameras: over the default limits.maxCameras.
  const many = Array.from({ length: 65 }, (_, i) => ({ id: i === 0 ? 'a' : `c${i}` }));
  atomicWrite(file, yaml(many));
  const count = await rec.next();
  if (count.kind !== 'error') throw new Error('expected 65 cameras to be rejected');
  t.same(count.error.issues.map((i) => [formatConfigPath(i.path), i.message, i.line]), [['cameras', '65 cameras: more than limits.maxCameras (64)', 1]]);
  t.equal(w.current, running, 'still the running config');
  t.same(await rec.quiet(200), []);

  // The same cameras with the limit raised in the same file: applied, 64 cameras added.
  atomicWrite(file, `limits: { maxCameras: 65 }\n${yaml(many)}`);
  const ok = await rec.next();
  if (ok.kind !== 'change') throw new Error(`expected a change, got ${ok.error.describe()}`);
  t.equal(ok.next.cameras.length, 65);
  t.equal(ok.diff.cameras.added.length, 64);
  t.ok(ok.diff.limits, 'limits changed');
  t.same(ok.diff.sections, ['limits', 'cameras']);
});
