/**
 * A server program run as a child process on a loopback port, for tests, benches and demos
 * (nats-server, mosquitto): started and restarted on the same port, ready once it accepts TCP,
 * killed as an outage (SIGKILL) or stopped (SIGTERM) with its temp dir removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { sleep } from '../lib/time.ts';


/** A TCP port free on 127.0.0.1 now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

export class ChildServer {
  private child: ChildProcess | undefined;
  private stderr = '';

  constructor(
    /** What the errors call it (e.g. nats-server). */
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    /** The temp dir it owns (removed by stop()). */
    readonly dir: string,
    /** Every port it must accept TCP on before it counts as started. */
    readonly ports: readonly number[],
    private readonly startTimeoutMs = 10_000,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start (again) on the same ports; resolves when every port accepts TCP connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const child = spawn(this.command, [...this.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${this.name} exited (${child.exitCode}): ${this.stderr}`);
      if ((await Promise.all(this.ports.map(canConnect))).every(Boolean)) return;
      await sleep(25);
    }
    throw new Error(`${this.name} did not listen on ${this.ports.join(', ')} within ${this.startTimeoutMs} ms: ${this.stderr}`);
  }

  /** Kill it (SIGKILL by default: an outage, not a clean shutdown); resolves when it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
