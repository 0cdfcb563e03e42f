/**
 * A loopback HTTP emulator of a Shelly Gen2+ relay's RPC endpoint (POST /rpc, JSON-RPC frames):
 * Switch.Set (with toggle_after: the output flips back on the emulator's own timer, as the device
 * does) and Switch.GetStatus. It records every Switch.Set call with its arrival time, and can be
 * told to stop answering (a relay that is down behind a live TCP port) or to answer RPC errors.
 * It is an emulator of the device's documented protocol for tests, not a stand-in for facegate code.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SwitchSetCall {
  readonly atMs: number;
  readonly id: number;
  readonly on: boolean;
  readonly toggleAfter: number | undefined;
}

export type RelayBehaviour = 'ok' | 'silent' | 'rpc-error';

export class RelayEmulator {
  readonly calls: SwitchSetCall[] = [];
  /** Output of each switch id (true = on) and when the last flip-back happened. */
  readonly outputs = new Map<number, boolean>();
  readonly flipBacks: Array<{ atMs: number; id: number; on: boolean }> = [];
  behaviour: RelayBehaviour = 'ok';
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<RelayEmulator> {
    let emulator: RelayEmulator | undefined;
    const server = createServer((req, res) => void emulator?.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    emulator = new RelayEmulator(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return emulator;
  }

  /** Resolves once `n` Switch.Set calls have arrived (or rejects after timeoutMs). */
  async waitForCalls(n: number, timeoutMs = 5000): Promise<SwitchSetCall[]> {
    const until = Date.now() + timeoutMs;
    while (this.calls.length < n) {
      if (Date.now() > until) throw new Error(`relay emulator: ${this.calls.length} Switch.Set calls, expected ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.calls.slice(0, n);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || req.url !== '/rpc') {
      res.writeHead(404).end();
      return;
    }
    let frame: { id?: unknown; method?: unknown; params?: { id?: unknown; on?: unknown; toggle_after?: unknown } };
    try {
      frame = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof frame;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: -32700, message: 'parse error' } }));
      return;
    }
    const reply = (body: Record<string, unknown>): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: frame.id, src: 'relay-emulator', ...body }));
    const switchId = typeof frame.params?.id === 'number' ? frame.params.id : 0;
    if (frame.method === 'Switch.GetStatus') {
      reply({ result: { id: switchId, output: this.outputs.get(switchId) ?? false } });
      return;
    }
    if (frame.method !== 'Switch.Set' || typeof frame.params?.on !== 'boolean') {
      reply({ error: { code: -103, message: 'Invalid argument' } });
      return;
    }
    const on = frame.params.on;
    const toggleAfter = typeof frame.params.toggle_after === 'number' ? frame.params.toggle_after : undefined;
    this.calls.push({ atMs: Date.now(), id: switchId, on, toggleAfter });
    if (this.behaviour === 'silent') {
      this.hanging.add(res);
      return;
    }
    if (this.behaviour === 'rpc-error') {
      reply({ error: { code: -114, message: 'Resource unavailable: overtemperature' } });
      return;
    }
    const wasOn = this.outputs.get(switchId) ?? false;
    this.outputs.set(switchId, on);
    clearTimeout(this.timers.get(switchId));
    if (toggleAfter !== undefined) {
      this.timers.set(
        switchId,
        setTimeout(() => {
          this.outputs.set(switchId, !on);
          this.flipBacks.push({ atMs: Date.now(), id: switchId, on: !on });
        }, toggleAfter * 1000),
      );
    }
    reply({ result: { was_on: wasOn } });
  }

  async close(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
