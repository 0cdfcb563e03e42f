/**
 * Camera passwords in every form a config may carry, through the whole running service: they must
 * never appear in a log line, a WebSocket event, /v1/events, /v1/cameras, /metrics, an event-log
 * row or any process's command line, while the camera with the right password delivers frames.
 * Real loopback gst-rtsp-server with basic auth, real GStreamer, real SQLite.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { RtspTestServer } from '../helpers/rtsp.ts';
import { waitUntil } from '../helpers/ingest-wait.ts';

const VIEWER = 'secrets-viewer-token-0123456789';
const PASSWORD = 'Door@Pw9:x';
const NEEDLES = ['Pw9', encodeURIComponent(PASSWORD), 'QuerySecret7', 'TokSecret5'];

function commandLines(): string {
  let all = '';
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      all += readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ') + '\n';
    } catch {
      // gone
    }
  }
  return all;
}

t.test('camera passwords never leave the service, in any form', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-secrets-'));
  const rtsp = await RtspTestServer.start({ width: 160, height: 120, fps: 10, auth: `admin:${PASSWORD}` });
  let service: Service | undefined;
  let watcher: { close(): void } | undefined;
  t.teardown(async () => {
    watcher?.close();
    await service?.close();
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const port = rtsp.port;
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const config = parseConfig({
    server: { port: 0 },
    auth: { tokens: [{ id: 'v', role: 'viewer', sha256: sha256Hex(VIEWER) }] },
    cameras: [
      // Idle decoding: a parse child (with the password, through the stdin launcher) and a decode child.
      { id: 'good', url: rtsp.url('/test', `admin:${encodeURIComponent(PASSWORD)}`), fps: 5, motion: { idleDecode: 'keyframes' } },
      { id: 'raw-at', url: `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/test`, fps: 5 },
      { id: 'query', url: `rtsp://127.0.0.1:${port}/test?user=admin&password=QuerySecret7`, fps: 5 },
      { id: 'token', url: `rtsp://127.0.0.1:1/x?token=TokSecret5`, fps: 5 },
    ],
    gates: [{ id: 'front-door', cameras: ['good'], liveness: { required: false }, allow: { groups: ['staff'] } }],
    gallery: { db: join(dir, 'gallery.sqlite') },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
  });
  service = await startService(config, { logger: createLogger({ level: 'debug', destination }) });
  const events: Array<{ id: number; type: string; cameraId?: string } & Record<string, unknown>> = [];
  watcher = watchEvents({ url: service.api.url, token: VIEWER, since: 0, onEvent: (e) => events.push(e) });

  const has = (type: string, cameraId: string) => events.some((e) => e.type === type && e.cameraId === cameraId);
  t.ok(await waitUntil(() => has('camera.up', 'good'), 30_000), 'the camera with the right password is up');
  t.ok(await waitUntil(() => has('camera.up', 'raw-at'), 30_000), 'so is the one with a raw @ and : in its password (encoded for rtspsrc)');
  t.ok(await waitUntil(() => ['query', 'token'].every((c) => has('camera.down', c)), 30_000), 'the others are down');
  const ps = commandLines();
  // A killed server: connection-lost for a camera whose URL carries the password.
  await rtsp.kill();
  t.ok(await waitUntil(() => events.some((e) => e.type === 'camera.down' && e.cameraId === 'good'), 15_000), 'camera.down after the server was killed');
  await rtsp.restart();
  const ups = () => events.filter((e) => e.type === 'camera.up' && e.cameraId === 'good').length;
  t.ok(await waitUntil(() => ups() >= 2, 30_000), 'and up again');
  const lost = events.find((e) => e.type === 'camera.down' && e.cameraId === 'good');
  t.equal((lost?.data as { reason?: string } | undefined)?.reason, 'connection-lost');

  const auth = { headers: { authorization: `Bearer ${VIEWER}` } };
  const http = async (path: string) => {
    const r = await fetch(`${service?.api.url}${path}`, auth);
    return `${r.status} ${await r.text()}`;
  };
  const apiEvents = await http('/v1/events?limit=1000');
  const apiCameras = await http('/v1/cameras');
  const metrics = await http('/metrics');
  t.match(apiCameras, /"good"/, '/v1/cameras answered');
  const good = (JSON.parse(apiCameras.slice(4)) as { cameras?: { id: string; ingest?: { idleDecode?: { parsed: number } } }[] }).cameras?.find((c) => c.id === 'good');
  t.ok((good?.ingest?.idleDecode?.parsed ?? 0) > 0, `the idle-decoding camera ran as parse + decode children (${JSON.stringify(good?.ingest?.idleDecode)})`);
  watcher.close();
  await service.close();
  service = undefined;
  const db = new Database(join(dir, 'events.sqlite'), { readonly: true });
  const rows = JSON.stringify(db.prepare('SELECT * FROM events').all());
  db.close();

  const outputs: Record<string, string> = {
    'log lines': lines.join(''),
    'WebSocket events': JSON.stringify(events),
    '/v1/events': apiEvents,
    '/v1/cameras': apiCameras,
    '/metrics': metrics,
    'event-log rows': rows,
    'process command lines (minus the test server)': ps.split('\n').filter((l) => !l.includes('rtsp-server.py')).join('\n'),
  };
  for (const [where, text] of Object.entries(outputs)) {
    const found = NEEDLES.filter((n) => text.includes(n));
    t.same(found, [], `no secret in ${where} (${text.length} chars)`);
  }
  t.ok(lines.length > 5, `logs captured (${lines.length} lines)`);
  t.ok(JSON.parse(rows).length >= 5, 'event rows written');
});
