/**
 * The config file's history: the last N versions kept in a `.history/` folder beside the file,
 * and a line diff between two versions.
 *
 * A folder rather than a table in one of the stores: the history belongs to the file (copied,
 * backed up and restored with it, readable with `diff` by a person on the box), it exists before
 * any store is opened and whichever database paths the config names, and a version is the file's
 * own bytes, so an entry is one plain file. Each entry is two files named by a sequence number
 * and the version: `<seq>-<version>.yaml` (the bytes) and `.json` (who, when, what changed).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';

export interface HistoryEntry {
  /** The version (see configVersion in ./edit.ts) of the file this entry holds. */
  readonly version: string;
  /** The version it replaced; undefined for the first version recorded. */
  readonly previous?: string | undefined;
  readonly timeMs: number;
  /** Who made it: an API token id, or 'file' for a version found on disk (edited by hand). */
  readonly actor: string;
  /** Config paths that changed ('cameras.door', 'gates.main'). */
  readonly paths: readonly string[];
  /** True when the change restored an earlier version. */
  readonly rollback?: boolean | undefined;
}

/** Versions kept by default. */
export const DEFAULT_HISTORY_KEEP = 20;

const VERSION = /^[0-9a-f]{8,64}$/;
/** `<sequence>-<version>.json`: the sequence orders entries whatever the clocks said. */
const ENTRY = /^(\d{8})-([0-9a-f]{8,64})\.json$/;

/** The history folder of a config file: `.history/` beside it, one per file name. */
export function historyDir(configFile: string): string {
  return join(dirname(configFile), '.history', basename(configFile));
}

export interface ConfigHistory {
  /** Newest first. */
  list(): HistoryEntry[];
  /** The text of a version, or undefined when it is not (or no longer) kept. */
  text(version: string): string | undefined;
  entry(version: string): HistoryEntry | undefined;
  /** Record a version (its bytes first, then its entry), then drop the oldest beyond `keep`. */
  add(entry: HistoryEntry, text: string, mode: number): void;
}

export function openConfigHistory(dir: string, keep = DEFAULT_HISTORY_KEEP): ConfigHistory {
  const files = (): { name: string; seq: number; version: string }[] => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => ENTRY.test(n))
      .sort()
      .reverse()
      .map((n) => {
        const m = ENTRY.exec(n) as RegExpExecArray;
        return { name: n, seq: Number(m[1]), version: m[2] };
      });
  };
  const read = (name: string): HistoryEntry | undefined => {
    try {
      return JSON.parse(readFileSync(join(dir, name), 'utf8')) as HistoryEntry;
    } catch {
      return undefined; // a half-written or foreign file: not an entry
    }
  };
  const find = (version: string) => (VERSION.test(version) ? files().find((f) => f.version === version) : undefined);
  return {
    list: () => files().flatMap((f) => read(f.name) ?? []),
    entry: (version) => {
      const f = find(version);
      return f && read(f.name);
    },
    text: (version) => {
      const f = find(version);
      if (!f) return undefined;
      try {
        return readFileSync(join(dir, f.name.replace(/\.json$/, '.yaml')), 'utf8');
      } catch {
        return undefined;
      }
    },
    add: (entry, text, mode) => {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const stem = `${String((files()[0]?.seq ?? 0) + 1).padStart(8, '0')}-${entry.version}`;
      // The bytes carry the same secrets as the config file: the same mode, never wider.
      writeFileAtomic(join(dir, `${stem}.yaml`), text, mode & 0o600);
      writeFileAtomic(join(dir, `${stem}.json`), `${JSON.stringify(entry)}\n`, mode & 0o600);
      for (const old of files().slice(keep)) {
        rmSync(join(dir, old.name), { force: true });
        rmSync(join(dir, old.name.replace(/\.json$/, '.yaml')), { force: true });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------

export type DiffLine = { readonly op: ' ' | '-' | '+'; readonly text: string };

/**
 * A shortest line diff (Myers' O((n+m)·D) algorithm): a config edit changes a few lines of a file
 * of thousands, so D stays small where a full LCS table would be n·m. Pure.
 */
export function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk back through the saved frontiers.
  const out: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) out.push({ op: ' ', text: a[--x] }) && y--;
    if (d === 0) break;
    if (x === prevX) out.push({ op: '+', text: b[--y] });
    else out.push({ op: '-', text: a[--x] });
  }
  while (x > 0 && y > 0) out.push({ op: ' ', text: a[--x] }) && y--;
  return out.reverse();
}

const splitLines = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/**
 * A unified diff (`@@ -a,n +b,m @@` hunks with `context` lines around each change) of two texts,
 * labelled with their versions; empty when they are equal. Pure.
 */
export function unifiedDiff(before: string, after: string, labels: { readonly from: string; readonly to: string }, context = 3): string {
  const lines = diffLines(splitLines(before), splitLines(after));
  if (lines.every((l) => l.op === ' ')) return '';
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  // Positions (1-based) of each line in the old and new text.
  const pos: { a: number; b: number }[] = [];
  let ai = 1;
  let bi = 1;
  for (const l of lines) {
    pos.push({ a: ai, b: bi });
    if (l.op !== '+') ai++;
    if (l.op !== '-') bi++;
  }
  let i = 0;
  while (i < lines.length) {
    if (lines[i].op === ' ') {
      i++;
      continue;
    }
    let start = Math.max(0, i - context);
    let end = i;
    // Extend over changes closer than 2·context lines apart.
    for (;;) {
      while (end < lines.length && lines[end].op !== ' ') end++;
      let next = end;
      while (next < lines.length && lines[next].op === ' ' && next - end < 2 * context) next++;
      if (next < lines.length && lines[next].op !== ' ' && next - end < 2 * context) end = next;
      else break;
    }
    end = Math.min(lines.length, end + context);
    const hunk = lines.slice(start, end);
    const aCount = hunk.filter((l) => l.op !== '+').length;
    const bCount = hunk.filter((l) => l.op !== '-').length;
    const aStart = aCount === 0 ? pos[start].a - 1 : pos[start].a;
    const bStart = bCount === 0 ? pos[start].b - 1 : pos[start].b;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const l of hunk) out.push(`${l.op}${l.text}`);
    i = end;
    start = end;
  }
  return `${out.join('\n')}\n`;
}
