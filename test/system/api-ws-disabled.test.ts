/** events.outputs.ws.enabled: false turns the WebSocket event stream off; the HTTP API stays. */
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { withService } from '../helpers/service.ts';

const TOKEN = 'ws-off-viewer-token-0123456789';

t.test('no WebSocket when events.outputs.ws.enabled is false; on by default', async (t) => {
  const configFor = (enabled: boolean | undefined) => () => ({
    auth: { tokens: [{ id: 'v', role: 'viewer', sha256: sha256Hex(TOKEN) }] },
    cameras: [],
    events: enabled === undefined ? {} : { outputs: { ws: { enabled } } },
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
  await t.test('events.outputs.ws.enabled: false', async (t) => {
    const { service } = await withService(t, { prefix: 'fg-ws-off-', config: configFor(false) });
    const r = await open(service.api.url);
    t.equal(r.status, 404, 'disabled: the upgrade is refused');
    t.match(r.body, /events\.outputs\.ws\.enabled/, 'saying which key turned it off');
    const res = await fetch(`${service.api.url}/v1/events?limit=1`, { headers: { authorization: `Bearer ${TOKEN}` } });
    t.equal(res.status, 200, 'the HTTP event query still answers');
  });
  await t.test('the default', async (t) => {
    const { service } = await withService(t, { prefix: 'fg-ws-on-', config: configFor(undefined) });
    t.ok((await open(service.api.url)).opened, 'default: the WebSocket opens');
  });
});
