/**
 * A real Mosquitto 2 broker for tests: its own temp dir and config, a free loopback port, started
 * and stopped by the test (and restartable on the same port, for outage tests). Optional users
 * (mosquitto_passwd) and an ACL for the auth tests. No mock broker anywhere.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildServer, freePort } from '../../src/dev/child-server.ts';

export const MOSQUITTO = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** user -> password; with users, anonymous clients are refused. */
  readonly users?: Readonly<Record<string, string>>;
  /** ACL file text (mosquitto acl_file syntax); only with users. */
  readonly acl?: string;
  /**
   * Keep sessions and queued messages on disk (saved every second), so a persistent subscriber
   * (clean: false) gets what was published while it was away, even across a SIGKILL + restart.
   */
  readonly persistence?: boolean;
  /**
   * Also listen with TLS (mqtts://, tlsUrl) using these PEM files; with requireClientCert the
   * broker refuses clients without a certificate signed by `ca`.
   */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string; readonly requireClientCert?: boolean };
  /** Also listen for MQTT over WebSocket (ws://, wsUrl). */
  readonly websockets?: boolean;
}

export { freePort } from '../../src/dev/child-server.ts';

export class Mosquitto {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  /** mqtts:// listener (with the `tls` option). */
  tlsUrl: string | undefined;
  /** ws:// listener (with the `websockets` option). */
  wsUrl: string | undefined;
  private readonly extraPorts: number[] = [];
  private process: ChildServer | undefined;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.url = `mqtt://127.0.0.1:${port}`;
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-mosquitto-'));
    const port = await freePort();
    const lines = [`listener ${port} 127.0.0.1`, 'log_dest stderr', 'log_type error', 'log_type warning'];
    // As root, mosquitto drops to the user 'mosquitto', who cannot read this private temp dir.
    if (process.getuid?.() === 0) lines.push('user root');
    lines.push(...(opts.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : ['persistence false']));
    if (opts.users) {
      const pw = join(dir, 'passwd');
      for (const [i, [user, pass]] of Object.entries(opts.users).entries()) {
        const r = spawnSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', pw, user, pass], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      lines.push('allow_anonymous false', `password_file ${pw}`);
      if (opts.acl !== undefined) {
        writeFileSync(join(dir, 'acl'), opts.acl);
        lines.push(`acl_file ${join(dir, 'acl')}`);
      }
    } else lines.push('allow_anonymous true');
    const m = new Mosquitto(dir, port);
    // Extra listeners after the auth lines: mosquitto applies allow_anonymous/password_file to
    // every listener (per_listener_settings is off).
    if (opts.tls) {
      const tlsPort = await freePort();
      lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
      if (opts.tls.requireClientCert) lines.push('require_certificate true');
      m.tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
      m.extraPorts.push(tlsPort);
    }
    if (opts.websockets) {
      const wsPort = await freePort();
      lines.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets');
      m.wsUrl = `ws://127.0.0.1:${wsPort}`;
      m.extraPorts.push(wsPort);
    }
    writeFileSync(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
    await m.restart();
    return m;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Start (again) on the same ports; resolves when every listener accepts TCP connections. */
  async restart(): Promise<void> {
    this.process ??= new ChildServer('mosquitto', MOSQUITTO, ['-c', join(this.dir, 'mosquitto.conf')], this.dir, [this.port, ...this.extraPorts]);
    await this.process.restart();
  }

  /** Kill the broker (SIGKILL: an outage, not a clean shutdown); resolves when it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.process?.kill(signal);
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
