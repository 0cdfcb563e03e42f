/**
 * A real NATS server (Debian's nats-server 2.9) with JetStream for tests: its own temp store dir
 * and config file, a free loopback port, user/password auth (or a token), started, stopped,
 * killed (SIGKILL: an outage) and restarted on the same port with the same store (JetStream data
 * survives a restart, as on a real box). No mock broker anywhere.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.ts';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsServerOptions {
  /** user -> password; default one user `facegate` with a random password. */
  readonly users?: Readonly<Record<string, string>>;
  /** A token instead of users. */
  readonly token?: string;
  /** Pin the port (restart tests keep it); default a free one. */
  readonly port?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

function quote(s: string): string {
  return JSON.stringify(s);
}

export class NatsServer {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly users: Readonly<Record<string, string>>;
  readonly token: string | undefined;
  private child: ChildProcess | undefined;
  private stderr = '';

  private constructor(dir: string, port: number, users: Readonly<Record<string, string>>, token: string | undefined) {
    this.dir = dir;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.users = users;
    this.token = token;
  }

  /** The first user and password (the usual client credentials in tests). */
  get user(): { user: string; pass: string } {
    const [user, pass] = Object.entries(this.users)[0] ?? ['', ''];
    return { user, pass };
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-nats-'));
    const port = opts.port ?? (await freePort());
    const users = opts.token ? {} : (opts.users ?? { facegate: `pw-${Math.random().toString(36).slice(2)}` });
    const lines = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${quote(join(dir, 'js'))} }`, 'max_payload: 1048576'];
    if (opts.token) lines.push(`authorization { token: ${quote(opts.token)} }`);
    else lines.push(`authorization { users = [ ${Object.entries(users).map(([u, p]) => `{ user: ${quote(u)}, password: ${quote(p)} }`).join(', ')} ] }`);
    writeFileSync(join(dir, 'nats.conf'), `${lines.join('\n')}\n`);
    const s = new NatsServer(dir, port, users, opts.token);
    await s.restart();
    return s;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start (again) on the same port and store; resolves when it accepts TCP connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const child = spawn(NATS_SERVER, ['-c', join(this.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${this.stderr}`);
      if (await canConnect(this.port)) return;
      await sleep(25);
    }
    throw new Error(`nats-server did not listen on ${this.port}: ${this.stderr}`);
  }

  /** Kill the server (SIGKILL by default: an outage); resolves when it is gone. */
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
