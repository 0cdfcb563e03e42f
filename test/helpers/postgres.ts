/**
 * A real PostgreSQL 15 cluster for tests (Debian's postgresql): initdb in a temp dir owned by the
 * `postgres` user (the server refuses to run as root: everything goes through `runuser -u
 * postgres` when we are root), password auth (scram) over TCP on a free loopback port, the unix
 * socket in the temp dir. start / stop (fast) / kill (immediate: a crash) / restart on the same
 * port and data. No mock database anywhere.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './mosquitto.ts';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresOptions {
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
}

function asPostgres(cmd: string, args: readonly string[]): { status: number | null; out: string } {
  const root = process.getuid?.() === 0;
  const r = root ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export class Postgres {
  readonly dir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;

  private constructor(dir: string, port: number, user: string, password: string, database: string) {
    this.dir = dir;
    this.port = port;
    this.user = user;
    this.password = password;
    this.database = database;
  }

  /** postgres://user:password@127.0.0.1:port/db (tests only: facegate takes the password apart). */
  get url(): string {
    return `postgres://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${this.database}`;
  }

  static async start(opts: PostgresOptions = {}): Promise<Postgres> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-pg-'));
    const user = opts.user ?? 'facegate';
    const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}`;
    const database = opts.database ?? 'facegate';
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    chmodSync(dir, 0o700);
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(pwfile, uid, uid);
    }
    const init = asPostgres(join(PG_BIN, 'initdb'), ['-D', join(dir, 'data'), '-U', user, '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
    rmSync(pwfile, { force: true });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.out}`);
    const port = await freePort();
    const server = new Postgres(dir, port, user, password, database);
    await server.restart();
    // The database itself, over TCP with the password (what facegate will do).
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${database}"`);
    } finally {
      await c.end();
    }
    return server;
  }

  get running(): boolean {
    return asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), 'status']).status === 0;
  }

  /** Start (again) on the same port and data; resolves when it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const r = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
    if (r.status !== 0) throw new Error(`pg_ctl start failed: ${r.out}`);
  }

  /** Stop: 'immediate' is a crash (no checkpoint), 'fast' a clean shutdown. */
  async kill(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    if (!this.running) return;
    const r = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
    if (r.status !== 0) throw new Error(`pg_ctl stop failed: ${r.out}`);
  }

  async stop(): Promise<void> {
    await this.kill('fast').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
