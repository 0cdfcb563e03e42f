/** Child processes for the multi-process fleet tests: `facegate hub` and `facegate run` edges. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  stderrTail(): string;
  /** Resolves when the process has exited. */
  exited(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnFacegate(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, ['bin/facegate.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
  const exited = () => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  return {
    child,
    lines,
    stderrTail: () => err,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited();
    },
  };
}
