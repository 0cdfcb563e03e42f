/** events.outputs.ws.enabled: false turns the WebSocket event stream off; the HTTP API stays. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService } from '../../src/app/service.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';

const TOKEN = 'ws-off-viewer-token-0123456789';

t.test('no WebSocket when events.outputs.ws.enabled is false; on by default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-ws-off-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configFor = (enabled: boolean | undefined) =>
    parseConfig({
      server: { port: 0 },
      auth: { tokens: [{ id: 'v', role: 'viewer', sha256: sha256Hex(TOKEN) }] },
      cameras: [],
      gallery: { db: join(dir, 'g.sqlite') },
      events: { db: join(dir, 'e.sqlite'), snapshots: { dir: join(dir, 's') }, ...(enabled === undefined ? {} : { outputs: { ws: { enabled } } }) },
    });
  const open = (url: string) =>
    new Promise<{ status?: number; body?: string; opened: boolean }>((resolve) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/events`, ['facegate.v1'], { headers: { authorization: `Bearer ${TOKEN}` } });
      ws.on('open', () => {
        ws.close();
        resolve({ opened: true });
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body, opened: false }));
      });
      ws.on('error', () => undefined);
    });
  for (const enabled of [false, undefined]) {
    const service = await startService(configFor(enabled), { logger: createLogger({ level: 'error' }), port: 0 });
    try {
      const r = await open(service.api.url);
      if (enabled === false) {
        t.equal(r.status, 404, 'disabled: the upgrade is refused');
        t.match(r.body, /events\.outputs\.ws\.enabled/, 'saying which key turned it off');
        const res = await fetch(`${service.api.url}/v1/events?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } });
        t.equal(res.status, 200, 'the HTTP event query still answers');
      } else t.ok(r.opened, 'default: the WebSocket opens');
    } finally {
      await service.close();
    }
  }
});
