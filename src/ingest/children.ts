/**
 * Ownership of GStreamer child processes: every pipeline process is registered here and killed by
 * PID when its camera lets go of it, and when this process ends.
 *
 * On Linux the child is started through util-linux `setpriv --pdeathsig KILL`, so the kernel kills
 * it the moment this process dies, whatever the cause (SIGTERM, SIGINT, SIGKILL, a crash) — without
 * facegate touching the application's own signal handling. Where setpriv is missing, SIGTERM /
 * SIGINT / SIGHUP handlers kill the children by PID and, if no one else handles the signal,
 * re-raise it so the process still dies the default way.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';

const live = new Map<number, ChildProcess>();
let hooksInstalled = false;
let shuttingDown = false;
const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const signalHandlers = new Map<NodeJS.Signals, () => void>();

let setprivPath: string | null | undefined;
/** setpriv with --pdeathsig (util-linux >= 2.33), or null. Decided once per process. */
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux' || process.env.FACEGATE_INGEST_PDEATHSIG === '0') return setprivPath;
  for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) {
    try {
      accessSync(p, constants.X_OK);
      setprivPath = p;
      break;
    } catch {
      // try the next location
    }
  }
  return setprivPath;
}

/** True when children die with this process through the kernel (pdeathsig). */
export function childrenDieWithParent(): boolean {
  return setpriv() !== null;
}

function killAllChildren(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  shuttingDown = true;
  killAllChildren();
  // Only ours listening: Node's default (terminate) would have happened without us, so restore it.
  if (process.listenerCount(sig) === 1) {
    for (const [s, h] of signalHandlers) process.removeListener(s, h);
    signalHandlers.clear();
    process.kill(process.pid, sig);
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' runs on normal exit and process.exit(): synchronous kill by PID.
  process.on('exit', killAllChildren);
  if (setpriv() === null) {
    for (const sig of SIGNALS) {
      const h = () => onSignal(sig);
      signalHandlers.set(sig, h);
      process.on(sig, h);
    }
  }
}

/** True once a termination signal arrived: no new pipelines are started after that. */
export function isShuttingDown(): boolean {
  return shuttingDown;
}

/** Spawn an owned child. `command` must be an executable name/path; argv is passed without a shell. */
export function spawnOwned(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  installHooks();
  const wrapper = setpriv();
  const child = wrapper
    ? spawn(wrapper, ['--pdeathsig', 'KILL', '--', command, ...args], { ...options, shell: false })
    : spawn(command, [...args], { ...options, shell: false });
  const pid = child.pid;
  if (pid !== undefined) {
    live.set(pid, child);
    child.once('exit', () => live.delete(pid));
  }
  return child;
}

/** SIGKILL an owned child by PID (no-op when it is gone). */
export function killOwned(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // exited in between
  }
}

/** Owned children still running (for tests and diagnostics). */
export function ownedChildPids(): number[] {
  return [...live.keys()];
}

/** True when `pid` names a running process (a zombie counts as gone). */
export function isProcessRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // state is the field after the parenthesised command name
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    if (process.platform === 'linux') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
