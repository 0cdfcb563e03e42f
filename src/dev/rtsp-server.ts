/**
 * Starts/stops the loopback RTSP server (tools/rtsp-server.py, Debian's python3 with gi +
 * gst-rtsp-server): real H.264 over real RTSP, for the tests and the demo. Binds 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../paths.ts';

export const REPO_ROOT = PROJECT_ROOT;
/** The shared data folder lives beside the repository (../shared), wherever it is cloned. */
export const CLIP_PATH = resolve(REPO_ROOT, '../shared/data/video/facenet_pytorch_video.mp4');
const SERVER_SCRIPT = resolve(REPO_ROOT, 'tools/rtsp-server.py');
const PYTHON = process.env.FACEGATE_TEST_PYTHON ?? '/usr/bin/python3';

export interface RtspServerOptions {
  /** Fixed port; default 0 (a free one). */
  readonly port?: number;
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  /** Serve a clip at /clip: true = the shared street clip, or a path. */
  readonly clip?: boolean | string;
  /** Serve the clip's own H.264 (an MP4) without re-encoding: cheap for many clients (benches). */
  readonly passthrough?: boolean;
  /** `user:pass`: require basic auth. */
  readonly auth?: string;
}

export class RtspTestServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  port = 0;

  private constructor(private readonly opts: RtspServerOptions) {}

  static async start(opts: RtspServerOptions = {}): Promise<RtspTestServer> {
    const server = new RtspTestServer(opts);
    await server.launch(opts.port ?? 0);
    return server;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** URL of a mount, optionally with credentials. */
  url(path = '/test', credentials?: string): string {
    return `rtsp://${credentials ? credentials + '@' : ''}127.0.0.1:${this.port}${path}`;
  }

  private async launch(port: number): Promise<void> {
    const clip = this.opts.clip === true ? CLIP_PATH : this.opts.clip || undefined;
    if (clip && !existsSync(clip)) throw new Error(`clip missing: ${clip}`);
    const args = [SERVER_SCRIPT, '--port', String(port)];
    if (this.opts.width) args.push('--width', String(this.opts.width));
    if (this.opts.height) args.push('--height', String(this.opts.height));
    if (this.opts.fps) args.push('--fps', String(this.opts.fps));
    if (clip) args.push('--clip', clip);
    if (this.opts.auth) args.push('--auth', this.opts.auth);
    if (this.opts.passthrough) args.push('--passthrough');
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise<void>((r) => child.once('exit', () => r()));
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-2000);
    });
    this.port = await new Promise<number>((resolvePort, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`RTSP server did not start in 15 s: ${stderr}`)), 15_000);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (s: string) => {
        out += s;
        const m = /READY (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`RTSP server exited with ${code} before READY: ${stderr}`));
      });
    });
  }

  /** SIGKILL, as a camera losing power would. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Graceful stop. Falls back to SIGKILL after 3 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }

  /** Freeze the server (frozen camera: connections stay open, nothing flows). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await this.exited;
  }

  /** Start again on the same port (after kill/stop). Retries while the port is still held. */
  async restart(): Promise<void> {
    await this.stop();
    let lastError: unknown;
    for (let i = 0; i < 20; i++) {
      try {
        await this.launch(this.port);
        return;
      } catch (e) {
        lastError = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw lastError;
  }
}
