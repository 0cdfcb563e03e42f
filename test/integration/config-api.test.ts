/**
 * The config editor through the HTTP API of the real service, started from a real YAML file: a
 * camera added with PUT /v1/config/cameras/:id (a real RTSP camera with a password) is written to
 * the file with its comments kept, comes up, and is announced as config.changed with the actor;
 * GET /v1/config never shows the password; a stale If-Match gets 409 and the current version, no
 * If-Match 428, an invalid camera 422 with config check's paths and fixes; viewer and operator
 * tokens get 403; the history's diff and a rollback take the camera away again.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { sha256Hex } from '../../src/api/auth.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { until } from '../helpers/api-net.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { withService } from '../helpers/service.ts';

const ADMIN = 'cfg-admin-token-0123456789';
const OPERATOR = 'cfg-operator-token-0123456789';
const VIEWER = 'cfg-viewer-token-0123456789';
const PASSWORD = 'Cam3raPass';

t.test('edit the config through the API', async (t) => {
  const rtsp = await withRtspCamera(t, { width: 160, height: 120, fps: 5, auth: `admin:${PASSWORD}` });
  const dir = mkdtempSync(join(tmpdir(), 'fg-config-api-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'facegate.yaml');
  const original = `# the box at the side entrance
server:
  port: 0 # any free port (the test reads it back)
auth:
  tokens:
    - { id: cfg-admin, role: admin, sha256: ${sha256Hex(ADMIN)} }
    - { id: cfg-operator, role: operator, sha256: ${sha256Hex(OPERATOR)} }
    - { id: cfg-viewer, role: viewer, sha256: ${sha256Hex(VIEWER)} }
gallery:
  db: gallery.sqlite
events:
  db: events.sqlite
  snapshots:
    dir: snapshots
# cameras are added from the dashboard
cameras: []
`;
  writeFileSync(file, original, { mode: 0o600 });
  // The stores where `facegate run --config FILE` puts them: relative paths resolve against the
  // file's folder (loadConfig), never the working directory.
  const doc = parseYaml(original) as Record<string, unknown>;
  const { service } = await withService(t, {
    config: () => ({ ...doc, gallery: { db: join(dir, 'gallery.sqlite') }, events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } } }),
    configFile: file,
  });
  const url = service.api.url;
  const call = (path: string, token: string, init: RequestInit = {}): Promise<Response> => fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  const json = (body: unknown): RequestInit => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const events: Array<{ type: string; cameraId?: string; data: Record<string, unknown> }> = [];
  let connected = false;
  const w = watchEvents({ url, token: VIEWER, filter: { types: ['config.changed', 'camera.up'] }, onEvent: (e) => events.push(e as never), onStatus: (s) => (connected ||= s.state === 'connected') });
  t.teardown(() => w.close());
  await until('the event stream connected', () => connected, 10_000);

  // Read: the text with its comments, the version as the ETag.
  const got = await call('/v1/config', ADMIN);
  t.equal(got.status, 200);
  t.match(got.headers.get('content-type'), /yaml/);
  const v0 = (got.headers.get('etag') ?? '').replace(/"/g, '');
  t.match(v0, /^[0-9a-f]{16}$/);
  const text0 = await got.text();
  t.ok(text0.includes('# cameras are added from the dashboard'));
  t.notOk(text0.includes(sha256Hex(ADMIN)), 'token hashes are not shown');

  // Roles: only admin.
  for (const token of [VIEWER, OPERATOR]) {
    t.equal((await call('/v1/config', token)).status, 403, 'GET refused below admin');
    t.equal((await call('/v1/config/cameras/door', token, { method: 'PUT', ...json({ url: rtsp.url() }), headers: { 'content-type': 'application/json', 'if-match': `"${v0}"` } })).status, 403, 'PUT refused below admin');
    t.equal((await call('/v1/config/history', token)).status, 403);
  }
  const put = (id: string, body: unknown, version: string | undefined): Promise<Response> =>
    call(`/v1/config/cameras/${id}`, ADMIN, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(version ? { 'if-match': `"${version}"` } : {}) } });

  // No If-Match: 428.
  const noMatch = await put('door', { url: rtsp.url() }, undefined);
  t.equal(noMatch.status, 428);
  t.equal(readFileSync(file, 'utf8'), original);

  // Add a camera: written, announced, applied (the camera comes up).
  const camera = { name: 'Side door', url: rtsp.url('/test', `admin:${PASSWORD}`), fps: 5 };
  const added = await put('door', camera, v0);
  t.equal(added.status, 200, 'camera added');
  const r1 = (await added.json()) as { version: string; previous: string; paths: string[]; applied: boolean };
  t.equal(r1.previous, v0);
  t.same(r1.paths, ['cameras.door']);
  t.ok(r1.applied);
  t.equal(added.headers.get('etag'), `"${r1.version}"`);
  const onDisk = readFileSync(file, 'utf8');
  t.ok(onDisk.includes('# the box at the side entrance') && onDisk.includes('# any free port (the test reads it back)') && onDisk.includes('# cameras are added from the dashboard'), 'the comments are kept');
  t.ok(onDisk.includes(`admin:${PASSWORD}@`), 'the file has the camera with its password');
  t.same(
    service.config().cameras.map((c) => c.id),
    ['door'],
    'the service runs the new config',
  );
  await until('the new camera is up', () => events.some((e) => e.type === 'camera.up' && e.cameraId === 'door'), 30_000);
  await until('config.changed', () => events.some((e) => e.type === 'config.changed'), 5000);
  t.match(events.find((e) => e.type === 'config.changed')?.data, { actor: 'cfg-admin', version: r1.version, previous: v0, paths: ['cameras.door'] });

  // The password never comes back out.
  const text1 = await (await call('/v1/config', ADMIN)).text();
  t.notOk(text1.includes(PASSWORD), 'GET /v1/config hides the camera password');
  t.ok(text1.includes('rtsp://***@127.0.0.1'));

  // A second client still on v0: 409 with the current version; the file is unchanged.
  const stale = await put('yard', { url: rtsp.url() }, v0);
  t.equal(stale.status, 409);
  const staleBody = (await stale.json()) as { code: string; current: string };
  t.equal(staleBody.code, 'CONFIG_CONFLICT');
  t.equal(staleBody.current, r1.version);
  t.equal(stale.headers.get('etag'), `"${r1.version}"`);
  t.equal(readFileSync(file, 'utf8'), onDisk);

  // An invalid edit: 422 with config check's path + fix; nothing written.
  const invalid = await call('/v1/config/gates/main', ADMIN, { method: 'PUT', body: JSON.stringify({ cameras: ['nowhere'] }), headers: { 'content-type': 'application/json', 'if-match': `"${r1.version}"` } });
  t.equal(invalid.status, 422);
  const issues = ((await invalid.json()) as { issues: Array<{ path: string; message: string; hint?: string }> }).issues;
  t.ok(issues.some((i) => i.path.startsWith('gates[0].cameras') && i.message.length > 0 && i.hint), 'the gate camera problem with its path and fix');
  t.equal(readFileSync(file, 'utf8'), onDisk);

  // The same URL sent back redacted (what GET showed) keeps the password.
  const renamed = await put('door', { ...camera, name: 'Side entrance', url: rtsp.url('/test', '***') }, r1.version);
  t.equal(renamed.status, 200);
  const r2 = (await renamed.json()) as { version: string };
  t.ok(readFileSync(file, 'utf8').includes(`admin:${PASSWORD}@`), 'the password stays in the file');
  t.equal(service.config().cameras[0].name, 'Side entrance');

  // A gate added and removed again: the running gates follow.
  const gatePut = await call('/v1/config/gates/side', ADMIN, { method: 'PUT', body: JSON.stringify({ name: 'Side gate', cameras: ['door'], allow: { groups: ['staff'] } }), headers: { 'content-type': 'application/json', 'if-match': `"${r2.version}"` } });
  t.equal(gatePut.status, 200);
  const r3 = (await gatePut.json()) as { version: string; paths: string[] };
  t.same(r3.paths, ['gates.side']);
  const gateIds = async (): Promise<string[]> => ((await (await call('/v1/gates', VIEWER)).json()) as { gates: Array<{ id: string }> }).gates.map((g) => g.id);
  t.same(await gateIds(), ['side'], 'the gate runs');
  const gateDel = await call('/v1/config/gates/side', ADMIN, { method: 'DELETE', headers: { 'if-match': `"${r3.version}"` } });
  t.equal(gateDel.status, 200);
  const r4 = (await gateDel.json()) as { version: string };
  t.match(readFileSync(file, 'utf8'), /\ngates: \[\]\n/, 'the section stays, empty');
  t.same(await gateIds(), []);

  // History with a redacted diff.
  const hist = (await (await call('/v1/config/history', ADMIN)).json()) as { current: string; versions: Array<{ version: string; actor: string }> };
  t.equal(hist.current, r4.version);
  t.same(
    hist.versions.map((v) => v.version),
    [r4.version, r3.version, r2.version, r1.version, v0],
  );
  const d = (await (await call(`/v1/config/history/${r1.version}`, ADMIN)).json()) as { diff: string; previous: string; actor: string };
  t.equal(d.previous, v0);
  t.equal(d.actor, 'cfg-admin');
  t.match(d.diff, /\+\s+- id: door/);
  t.notOk(d.diff.includes(PASSWORD), 'the diff hides the password');
  t.equal((await call('/v1/config/history/0123456789abcdef', ADMIN)).status, 404);

  // Remove a camera that is not there: 404.
  t.equal((await call('/v1/config/cameras/nope', ADMIN, { method: 'DELETE', headers: { 'if-match': `"${r4.version}"` } })).status, 404);

  // Roll back to the file as it was: the camera goes away.
  const back = await call('/v1/config/rollback', ADMIN, { method: 'POST', ...json({ version: v0 }) });
  t.equal(back.status, 200);
  t.match(await back.json(), { version: v0, previous: r4.version, paths: ['cameras.door'] });
  t.equal(readFileSync(file, 'utf8'), original, 'the file is back byte for byte');
  t.same(service.config().cameras, []);
  await until('the rollback event', () => events.some((e) => e.type === 'config.changed' && e.data.rollback === true), 5000);
  t.match(events.filter((e) => e.type === 'config.changed').at(-1)?.data, { actor: 'cfg-admin', version: v0, rollback: true });
});
