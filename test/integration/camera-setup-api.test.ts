/**
 * The add-camera wizard's routes on the real service: POST /v1/cameras/probe against a real
 * loopback RTSP camera with a password (size, fps, codec and a real JPEG of its first frame; the
 * credentials given apart from the URL) and an H.265 one; a wrong password and a wrong path with
 * their fixes, never the password in an answer or a log line; POST /v1/cameras/discover against the in-test
 * ONVIF device (directed) whose stream URI is that camera; GET /v1/config/entries with the
 * file's version; POST /v1/gates/:id/test-actuation runs a gate's real command once and audits
 * it; viewer and operator get 403 on all of them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { sha256Hex } from '../../src/api/auth.ts';
import { createLogger } from '../../src/log.ts';
import { startOnvifDevice } from '../helpers/onvif-device.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { withService } from '../helpers/service.ts';

const ADMIN = 'setup-admin-token-0123456789';
const OPERATOR = 'setup-operator-token-0123456789';
const VIEWER = 'setup-viewer-token-0123456789';
const PASSWORD = 'Pr0be-Secret-77';

// A second real RTSP server, H.265 (tools/rtsp-server.py serves H.264 only), from Debian's python3-gi.
const H265_SERVER = `
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
s = GstRtspServer.RTSPServer(); s.set_address("127.0.0.1"); s.set_service("0")
f = GstRtspServer.RTSPMediaFactory()
f.set_launch("( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=5/1 ! videoconvert ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=5 ! rtph265pay name=pay0 pt=96 config-interval=1 )")
f.set_shared(True)
s.get_mount_points().add_factory("/h265", f)
s.attach(None)
print("READY", s.get_bound_port(), flush=True)
GLib.MainLoop().run()
`;
const h265Skip = spawnSync('gst-inspect-1.0', ['x265enc'], { stdio: 'ignore' }).status === 0 ? false : 'no x265enc (gstreamer1.0-plugins-bad)';

async function startH265Server(t: Test): Promise<string> {
  const child = spawn('/usr/bin/python3', ['-c', H265_SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the H.265 RTSP server did not start in 15 s')), 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the H.265 RTSP server exited (${code})`)));
  });
  return `rtsp://127.0.0.1:${port}/h265`;
}

t.test('camera setup routes', async (t) => {
  const rtsp = await withRtspCamera(t, { width: 320, height: 240, fps: 5, auth: `admin:${PASSWORD}` });
  const dir = mkdtempSync(join(tmpdir(), 'fg-camera-setup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  const text = `# side entrance
server:
  port: 0
auth:
  tokens:
    - { id: setup-admin, role: admin, sha256: ${sha256Hex(ADMIN)} }
    - { id: setup-operator, role: operator, sha256: ${sha256Hex(OPERATOR)} }
    - { id: setup-viewer, role: viewer, sha256: ${sha256Hex(VIEWER)} }
cameras:
  - id: lab
    source: { kind: test, width: 160, height: 120, fps: 2 }
gates:
  - id: lab-door
    cameras: [lab]
    liveness: { required: false }
    # the test's own program stands in for a door controller
    actuation:
      command: { argv: [${JSON.stringify(process.execPath)}, -e, "require('fs').writeFileSync(process.argv[1], 'opened')", ${JSON.stringify(join(dir, 'actuated.txt'))}] }
  - id: no-actuation
    cameras: [lab]
`;
  writeFileSync(file, text, { mode: 0o600 });
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const { service } = await withService(t, { config: () => parseYaml(text) as Record<string, unknown>, configFile: file, logger: createLogger({ level: 'info', destination }) });
  const base = service.api.url;
  const post = (path: string, token: string, body: unknown): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  await t.test('roles: only admin', async (t) => {
    for (const token of [VIEWER, OPERATOR]) {
      t.equal((await post('/v1/cameras/probe', token, { url: rtsp.url('/test') })).status, 403);
      t.equal((await post('/v1/cameras/discover', token, { host: '127.0.0.1:9' })).status, 403);
      t.equal((await fetch(`${base}/v1/config/entries`, { headers: { authorization: `Bearer ${token}` } })).status, 403);
    }
  });

  await t.test('probe: size, fps, codec and a JPEG of the first frame; credentials apart from the URL', async (t) => {
    const r = await post('/v1/cameras/probe', ADMIN, { url: rtsp.url('/test'), username: 'admin', password: PASSWORD });
    const text = await r.text();
    t.equal(r.status, 200, text.slice(0, 300));
    t.notOk(text.includes(PASSWORD), 'the answer has no password');
    const body = JSON.parse(text) as { width: number; height: number; fps: number | null; codec: string; snapshot?: { base64: string; contentType: string } };
    t.equal(body.width, 320);
    t.equal(body.height, 240);
    t.equal(body.fps, 5);
    t.equal(body.codec, 'h264');
    t.equal(body.snapshot?.contentType, 'image/jpeg');
    const meta = await sharp(Buffer.from(body.snapshot?.base64 ?? '', 'base64')).metadata();
    t.equal(meta.format, 'jpeg');
    t.equal(meta.width, 320, 'the snapshot is the frame at its size');
  });

  await t.test('probe: an H.265 camera is found by trying the codecs in turn', { skip: h265Skip }, async (t) => {
    const server = await startH265Server(t);
    const r = await post('/v1/cameras/probe', ADMIN, { url: server, timeoutMs: 8000 });
    const body = (await r.json()) as { codec: string; width: number; height: number };
    t.equal(r.status, 200);
    t.match(body, { codec: 'h265', width: 320, height: 240 }, 'h264 refused at once (no H264 track), h265 delivers');
  });

  await t.test('probe: a wrong password, a wrong path, a bad URL', async (t) => {
    const wrong = 'Wr0ng-Pass-88';
    const bad = await post('/v1/cameras/probe', ADMIN, { url: rtsp.url('/test'), username: 'admin', password: wrong, timeoutMs: 8000 });
    const badText = await bad.text();
    t.equal(bad.status, 422, badText);
    const b = JSON.parse(badText) as { code: string; error: string; hint?: string };
    t.equal(b.code, 'unauthorized');
    t.ok(b.hint, `with a fix: ${b.hint}`);
    t.notOk(badText.includes(wrong));
    const path = await post('/v1/cameras/probe', ADMIN, { url: rtsp.url('/nope', `admin:${PASSWORD}`), timeoutMs: 8000 });
    const p = (await path.json()) as { code: string };
    t.equal(path.status, 422);
    t.equal(p.code, 'not-found');
    const notRtsp = await post('/v1/cameras/probe', ADMIN, { url: 'http://example.invalid/x' });
    t.equal(notRtsp.status, 400);
    t.match(await notRtsp.json(), { code: 'BAD_REQUEST', field: 'url' });
  });

  await t.test('discover: the in-test ONVIF device, directed', async (t) => {
    const d = await startOnvifDevice({ user: 'admin', password: PASSWORD, discovery: 'directed', rtspUrl: rtsp.url('/test'), name: 'Side Door' });
    t.teardown(() => d.close());
    const r = await post('/v1/cameras/discover', ADMIN, { host: `127.0.0.1:${d.discoveryPort}`, username: 'admin', password: PASSWORD, timeoutMs: 1000 });
    const text = await r.text();
    t.equal(r.status, 200, text.slice(0, 300));
    t.notOk(text.includes(PASSWORD));
    const body = JSON.parse(text) as { cameras: Array<{ name?: string; profiles: Array<{ streamUri?: string; width?: number }> }> };
    t.equal(body.cameras.length, 1);
    t.equal(body.cameras[0].name, 'Side Door');
    t.equal(body.cameras[0].profiles[0].streamUri, rtsp.url('/test'), 'the stream URI the device answers');
    t.ok(d.log.some((l) => l.op === 'GetStreamUri' && l.ok), 'asked with the digest');
    const half = await post('/v1/cameras/discover', ADMIN, { host: '127.0.0.1:9', username: 'admin' });
    t.equal(half.status, 400, 'a username without a password is refused');
    const none = await post('/v1/cameras/discover', ADMIN, { host: '127.0.0.1:9', timeoutMs: 300 });
    t.match(await none.json(), { ok: true, cameras: [] }, 'nothing answers: an empty list');
  });

  await t.test('config entries: as the file has them, with its version', async (t) => {
    const r = await fetch(`${base}/v1/config/entries`, { headers: { authorization: `Bearer ${ADMIN}` } });
    t.equal(r.status, 200);
    const body = (await r.json()) as { version: string; cameras: unknown[]; gates: unknown[] };
    const etag = (await fetch(`${base}/v1/config`, { headers: { authorization: `Bearer ${ADMIN}` } })).headers.get('etag');
    t.equal(`"${body.version}"`, etag, 'the same version as GET /v1/config');
    t.same(body.cameras, [{ id: 'lab', source: { kind: 'test', width: 160, height: 120, fps: 2 } }], 'as written, no defaults filled in');
    t.same(
      body.gates.map((g) => (g as { id: string }).id),
      ['lab-door', 'no-actuation'],
    );
  });

  await t.test('test actuation: the running gate\'s command runs once, audited as a manual open', async (t) => {
    for (const token of [VIEWER, OPERATOR]) t.equal((await post('/v1/gates/lab-door/test-actuation', token, {})).status, 403);
    const r = await post('/v1/gates/lab-door/test-actuation', ADMIN, {});
    const body = (await r.json()) as { ok: boolean; outcomes: Array<{ target: string; ok: boolean; exitCode?: number }> };
    t.equal(r.status, 200);
    t.match(body, { ok: true, outcomes: [{ target: 'command', ok: true, exitCode: 0 }] });
    t.equal(readFileSync(join(dir, 'actuated.txt'), 'utf8'), 'opened', 'the command ran');
    const events = (await (await fetch(`${base}/v1/events?gate=lab-door&order=asc`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { events: Array<{ type: string; data: Record<string, unknown> }> };
    t.match(
      events.events.map((e) => [e.type, e.data.by ?? e.data.trigger]),
      [
        ['gate.opened', 'setup-admin'],
        ['gate.actuated', 'gate.opened'],
      ],
    );
    t.equal((await post('/v1/gates/no-actuation/test-actuation', ADMIN, {})).status, 409, 'a gate without actuation: 409');
    t.equal((await post('/v1/gates/nope/test-actuation', ADMIN, {})).status, 404);
  });

  t.notOk(
    logLines.some((l) => l.includes(PASSWORD) || l.includes('Wr0ng-Pass-88')),
    'no password in any log line',
  );
  t.ok(
    logLines.some((l) => l.includes('camera probed from the API')),
    'the probe was logged (without credentials)',
  );
});
