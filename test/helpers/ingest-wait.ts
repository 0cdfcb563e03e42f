/** Waiting on camera health in ingest tests: every wait has a deadline and says what it saw. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Camera, CameraHealth } from '../../src/ingest/index.ts';
import { until } from '../../src/lib/time.ts';

/** Records every health event of a camera from now on. */
export class HealthLog {
  readonly events: CameraHealth[] = [];
  private waiters: Array<() => void> = [];

  constructor(cam: Camera) {
    cam.health.subscribe((h) => {
      this.events.push(h);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  types(): string[] {
    return this.events.map((e) => (e.type === 'camera.down' ? `down:${e.reason.kind}` : e.type.replace('camera.', '')));
  }

  /** Resolve with the first event at index >= `from` that matches, or reject after `timeoutMs`. */
  async waitFor<T extends CameraHealth>(pred: (h: CameraHealth) => h is T, timeoutMs: number, from?: number): Promise<{ event: T; index: number }>;
  async waitFor(pred: (h: CameraHealth) => boolean, timeoutMs: number, from?: number): Promise<{ event: CameraHealth; index: number }>;
  async waitFor(pred: (h: CameraHealth) => boolean, timeoutMs: number, from = 0): Promise<{ event: CameraHealth; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex((e, i) => i >= from && pred(e));
      if (index >= 0) return { event: this.events[index], index };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; health so far: ${this.types().join(', ')}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }
}

export const isUp = (h: CameraHealth): h is Extract<CameraHealth, { type: 'camera.up' }> => h.type === 'camera.up';
export const isDown = (h: CameraHealth): h is Extract<CameraHealth, { type: 'camera.down' }> => h.type === 'camera.down';
export const isStalled = (h: CameraHealth): h is Extract<CameraHealth, { type: 'camera.stalled' }> => h.type === 'camera.stalled';

export { sleep } from '../../src/lib/time.ts';

/** true once `cond` holds, false after `timeoutMs` (for `t.ok(await waitUntil(...), 'what')`). */
export function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  return until('a condition', cond, timeoutMs).then(
    () => true,
    () => false,
  );
}

/** A pino logger whose output lands in `lines` (to check that no secret is ever logged). */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}
