/** Process accounting from /proc for the benches: CPU seconds and RSS of a pid. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const getconf = (name: string, fallback: number): number => {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
};
const CLK_TCK = getconf('CLK_TCK', 100);
const PAGE_SIZE = getconf('PAGESIZE', 4096);

export interface ProcStat {
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, seconds. */
  readonly cpuS: number;
  readonly rssMB: number;
}

/** /proc/PID/stat of a live process, or undefined. */
export function procStat(pid: number | undefined): ProcStat | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    return { ppid: Number(f[1]), comm: s.slice(s.indexOf('(') + 1, close), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssMB: (Number(f[21]) * PAGE_SIZE) / 1e6 };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process, in seconds (0 when it is gone). */
export const cpuSeconds = (pid: number | undefined): number => procStat(pid)?.cpuS ?? 0;

/** CPU seconds of this process's main (JavaScript) thread: its task id is the process id. */
export function mainThreadCpuSeconds(): number {
  try {
    const s = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** An environment without glibc malloc settings (npm run bench sets the shipped ones), for a child whose variant sets its own. */
export function withoutMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('MALLOC_')));
}
