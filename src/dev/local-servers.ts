/**
 * Local nats-server (JetStream) and PostgreSQL instances in temp dirs on free loopback ports, for
 * `facegate demo --fleet`, the fleet bench and the tests: nats-server with user/password (or
 * token) auth, restartable on the same port and store; PostgreSQL 15 initialised in a temp dir
 * owned by the `postgres` user (the server refuses root: `runuser -u postgres` when we are root),
 * scram password auth over TCP, unix socket in the temp dir; stop / crash (immediate) / restart.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ChildServer, freePort } from './child-server.ts';


export { freePort } from './child-server.ts';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

export interface NatsServerOptions {
  /** user -> password; default one user `facegate` with a random password. */
  readonly users?: Readonly<Record<string, string>>;
  /** A token instead of users. */
  readonly token?: string;
  /** Pin the port (restart tests keep it); default a free one. */
  readonly port?: number;
  /** Per-user permissions (subjects allowed to publish / subscribe); users not named have all. */
  readonly permissions?: Readonly<Record<string, { readonly publish?: readonly string[]; readonly subscribe?: readonly string[] }>>;
  /** NKey users (public keys, U...) besides the password users. */
  readonly nkeys?: readonly string[];
  /** Require TLS with this server certificate (PEM files). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /**
   * Operator (JWT) mode instead of users: the operator JWT, the system account's public key, and
   * the account JWTs (public key -> JWT) preloaded into a MEMORY resolver. Clients then log in
   * with a user JWT + seed (a .creds file); `users`, `token`, `nkeys` and `permissions` do not apply.
   */
  readonly operator?: { readonly jwt: string; readonly systemAccount: string; readonly accounts: Readonly<Record<string, string>> };
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
  private readonly process: ChildServer;

  private constructor(dir: string, port: number, users: Readonly<Record<string, string>>, token: string | undefined) {
    this.dir = dir;
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.users = users;
    this.token = token;
    this.process = new ChildServer('nats-server', NATS_SERVER, ['-c', join(dir, 'nats.conf')], dir, [port]);
  }

  /** The first user and password (the usual client credentials in tests). */
  get user(): { user: string; pass: string } {
    const [user, pass] = Object.entries(this.users)[0] ?? ['', ''];
    return { user, pass };
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-nats-'));
    const port = opts.port ?? (await freePort());
    const users = opts.token || opts.operator ? {} : (opts.users ?? { facegate: `pw-${Math.random().toString(36).slice(2)}` });
    const lines = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${quote(join(dir, 'js'))} }`, 'max_payload: 1048576'];
    if (opts.operator) {
      lines.push(`operator: ${quote(opts.operator.jwt)}`, `system_account: ${quote(opts.operator.systemAccount)}`, 'resolver: MEMORY');
      lines.push(`resolver_preload: { ${Object.entries(opts.operator.accounts).map(([k, jwt]) => `${quote(k)}: ${quote(jwt)}`).join(', ')} }`);
    } else if (opts.token) lines.push(`authorization { token: ${quote(opts.token)} }`);
    else lines.push(`authorization { users = [ ${[...Object.entries(users).map(([u, p]) => {
            const perm = opts.permissions?.[u];
            const allow = (list: readonly string[] | undefined) => `{ allow: [${(list ?? []).map(quote).join(', ')}] }`;
            return `{ user: ${quote(u)}, password: ${quote(p)}${perm ? `, permissions: { publish: ${allow(perm.publish)}, subscribe: ${allow(perm.subscribe)} }` : ''} }`;
          }), ...(opts.nkeys ?? []).map((k) => `{ nkey: ${quote(k)} }`)].join(', ')} ] }`);
    if (opts.tls) lines.push(`tls { cert_file: ${quote(opts.tls.cert)}, key_file: ${quote(opts.tls.key)} }`);
    writeFileSync(join(dir, 'nats.conf'), `${lines.join('\n')}\n`);
    const s = new NatsServer(dir, port, users, opts.token);
    await s.restart();
    return s;
  }

  get running(): boolean {
    return this.process.running;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Start (again) on the same port and store; resolves when it accepts TCP connections. */
  restart(): Promise<void> {
    return this.process.restart();
  }

  /** Kill the server (SIGKILL by default: an outage); resolves when it is gone. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.process.kill(signal);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresOptions {
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** fsync on (a real deployment; the bench) or off (tests: faster, a crash of the OS is not simulated). Default off. */
  readonly fsync?: boolean;
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

  fsync = false;

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
    server.fsync = opts.fsync ?? false;
    await server.restart();
    // The database itself, over TCP with the password (what facegate will do). A failure here
    // must not leave a server running.
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${database}"`);
      } finally {
        await c.end();
      }
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  get running(): boolean {
    return asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), 'status']).status === 0;
  }

  /** Start (again) on the same port and data; resolves when it accepts connections. */
  async restart(): Promise<void> {
    if (this.running) return;
    const r = asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=${this.fsync ? 'on' : 'off'}`, '-l', join(this.dir, 'log'), '-w', '-t', '60', 'start']);
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
