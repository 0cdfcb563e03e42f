/**
 * `facegate run --config FILE` as a user runs it (bin/facegate.js): a child process with real GStreamer cameras,
 * real models, the HTTP API and the WebSocket. Hot reload adds a camera and removes another
 * without restarting the third (its frame counters carry on, no second camera.up); an invalid
 * edit is rejected and the running config stays; then kill -9 during a burst of events: every
 * event a WebSocket client had received is in the log afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { stringify } from 'yaml';
import { sha256Hex } from '../../src/api/auth.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { EventLog } from '../../src/events/index.ts';
import { dataPath } from '../helpers/data.ts';
import { readFileSync } from 'node:fs';
import { until } from '../../src/lib/time.ts';

// The entry a user runs: the compiled build when it is current (setup.sh builds it), else the sources.
const BIN = fileURLToPath(new URL('../../bin/facegate.js', import.meta.url));
const VIEWER = 'run-viewer-token-0123456789';
const OPERATOR = 'run-operator-token-0123456789';
const ADMIN = 'run-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fg-run-'));
const configFile = join(dir, 'facegate.yaml');
const eventsDb = join(dir, 'events.sqlite');

const camera = (id: string) => ({ id, source: { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 15 }, fps: 5, detector: { size: 320 } });
const config = (cameras: string[]) => ({
  server: { port: 0 },
  auth: {
    tokens: [
      { id: 'viewer', role: 'viewer', sha256: sha256Hex(VIEWER) },
      { id: 'operator', role: 'operator', sha256: sha256Hex(OPERATOR) },
      { id: 'admin', role: 'admin', sha256: sha256Hex(ADMIN) },
    ],
  },
  cameras: cameras.map(camera),
  gates: [{ id: 'lobby', cameras: ['b'], liveness: { required: false }, allow: { groups: ['staff'] } }],
  gallery: { db: 'gallery.sqlite' },
  events: { db: 'events.sqlite', snapshots: { dir: 'snapshots' } },
  logging: { level: 'info' },
});
/** Editors save by writing a temporary file and renaming it over the old one. */
const writeConfig = (doc: unknown): void => {
  writeFileSync(`${configFile}.tmp`, typeof doc === 'string' ? doc : stringify(doc));
  renameSync(`${configFile}.tmp`, configFile);
};

let child: ChildProcess | undefined;
let url = '';
const logLines: Record<string, unknown>[] = [];
t.teardown(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const api = async <T>(path: string, token = VIEWER, init: RequestInit = {}): Promise<T> => {
  const res = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
};
type CameraView = { id: string; running: boolean; detect?: { processed: number } };
const cameras = async (): Promise<CameraView[]> => (await api<{ cameras: CameraView[] }>('/v1/cameras')).cameras;
const processed = async (id: string): Promise<number> => (await cameras()).find((c) => c.id === id)?.detect?.processed ?? -1;

t.test('hot reload: add c, remove a, b keeps running untouched; an invalid edit is rejected', async (t) => {
  writeConfig(config(['a', 'b']));
  child = spawn(process.execPath, [BIN, 'run', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let buf = '';
  child.stderr?.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        logLines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logLines.push({ msg: line });
      }
    }
  });
  await until('the service to start', () => logLines.some((l) => l.msg === 'facegate running'), 60_000);
  url = String(logLines.find((l) => l.msg === 'facegate running')?.url);
  await until('frames on a and b', async () => (await processed('a')) > 3 && (await processed('b')) > 3, 30_000);

  const bBefore = await processed('b');
  writeConfig(config(['b', 'c']));
  await until('c running and a gone', async () => {
    const cams = await cameras();
    return cams.some((c) => c.id === 'c' && c.running && (c.detect?.processed ?? 0) > 0) && !cams.some((c) => c.id === 'a');
  });
  const bAfter = await processed('b');
  t.ok(bAfter > bBefore, `b's frame count carried on across the reload (${bBefore} -> ${bAfter}): not restarted`);
  const ups = await api<{ events: { cameraId: string }[] }>('/v1/events?type=camera.up&limit=100');
  t.same(ups.events.filter((e) => e.cameraId === 'b').length, 1, 'one camera.up for b: it was never restarted');
  t.ok(ups.events.some((e) => e.cameraId === 'c'), 'camera.up for the new camera c');

  // An invalid file: the errors are logged with their path, the running config stays.
  const seen = logLines.length;
  writeConfig({ ...config(['b', 'c']), cameras: [{ ...camera('b'), fps: 'fast' }] });
  await until('the rejection in the log', () => logLines.slice(seen).some((l) => l.msg === 'config file rejected; the running config stays'));
  const rejected = logLines.slice(seen).find((l) => l.msg === 'config file rejected; the running config stays');
  t.match(String(rejected?.detail), /cameras\[0\]\.fps/, 'the error names the path');
  await new Promise((r) => setTimeout(r, 500));
  t.same((await cameras()).map((c) => c.id).sort(), ['b', 'c'], 'still running b and c');

  // A changed camera restarts alone: c at another fps comes up a second time, b stays untouched.
  type Ups = { events: { cameraId: string }[] };
  writeConfig({ ...config(['b', 'c']), cameras: [camera('b'), { ...camera('c'), fps: 4 }] });
  await until('c restarted with its new settings', async () => (await api<Ups>('/v1/events?type=camera.up&limit=100')).events.filter((e) => e.cameraId === 'c').length === 2, 30_000);
  t.same((await api<Ups>('/v1/events?type=camera.up&limit=100')).events.filter((e) => e.cameraId === 'b').length, 1, "b is untouched by c's change");
  // Another detector tier for c: c restarts on the new session (the old one is released) and keeps detecting.
  writeConfig({ ...config(['b', 'c']), cameras: [camera('b'), { ...camera('c'), fps: 4, detector: { size: 320, tier: '2.5g' } }] });
  await until('c restarted on the 2.5g detector', async () => (await api<Ups>('/v1/events?type=camera.up&limit=100')).events.filter((e) => e.cameraId === 'c').length === 3, 30_000);
  const cBefore = await processed('c');
  await until('c detecting after the switch', async () => (await processed('c')) > cBefore + 3, 30_000);
  const errors = await api<Ups>('/v1/events?type=stage.error&limit=100');
  t.same(errors.events.filter((e) => e.cameraId === 'c'), [], 'no stage error: c never ran on the released session');
  t.notOk(logLines.some((l) => JSON.stringify(l).includes(OPERATOR) || JSON.stringify(l).includes(VIEWER)), 'no token in the logs');
});

t.test('a second facegate on the same port exits at once with one clear line, starting nothing; SIGTERM during start-up stops', async (t) => {
  const port = Number(new URL(url).port);
  const second = join(dir, 'second.yaml');
  const secondConfig = { ...config(['b']), server: { port }, gallery: { db: 'second-gallery.sqlite' }, events: { db: 'second-events.sqlite', snapshots: { dir: 'second-snapshots' } } };
  writeFileSync(second, stringify(secondConfig));
  const runTo = async (args: string[], signalOn?: RegExp): Promise<{ code: number | null; signal: string | null; stderr: string; ms: number }> => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let signalled = false;
    p.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (signalOn && !signalled && signalOn.test(stderr)) {
        signalled = true;
        p.kill('SIGTERM');
      }
    });
    const killer = setTimeout(() => p.kill('SIGKILL'), 45_000);
    // 'close', not 'exit': stderr is read to its end first.
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => p.once('close', (c, s) => r([c, s])));
    clearTimeout(killer);
    return { code, signal, stderr, ms: Date.now() - t0 };
  };
  const busy = await runTo(['run', '--config', second]);
  t.equal(busy.code, 1, `exits 1 (${busy.ms} ms)`);
  t.match(busy.stderr, /error: cannot listen on 127\.0\.0\.1:\d+: the port is in use \(EADDRINUSE\)/, 'one clear line naming the port');
  t.match(busy.stderr, /fix: .*server\.port/, 'and the fix');
  t.notMatch(busy.stderr, /camera up|facegate running/, 'no camera started, no API claimed');
  t.ok(busy.ms < 30_000, 'fails before loading models and cameras');
  // Start-up on a free port, SIGTERM as soon as the models are loaded (cameras not yet started):
  // the process stops cleanly, not a zombie.
  writeFileSync(second, stringify({ ...secondConfig, server: { port: 0 } }));
  const early = await runTo(['run', '--config', second], /recognition thresholds/);
  t.equal(early.code, 0, `SIGTERM during start-up stops it, exit 0 (${early.ms} ms)`);
  t.match(early.stderr, /stopped during start-up|"stopping"/, 'and says so');
});

t.test('identities API: enrollment by photo upload (admin), clear rejections, CRUD', async (t) => {
  const call = (path: string, token: string, init: RequestInit = {}): Promise<Response> => fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  const jpeg = (file: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(dataPath(file)) });
  t.equal((await call('/v1/identities?name=Angelina&group=staff', OPERATOR, jpeg('identities/deepface/angelina/img1.jpg'))).status, 403, 'an operator cannot enroll');
  const created = await call('/v1/identities?name=Angelina&group=staff', ADMIN, jpeg('identities/deepface/angelina/img1.jpg'));
  t.equal(created.status, 201, 'admin enrolls from one photo');
  const body = (await created.json()) as { ok: boolean; identity: { id: string; name: string; groups: string[]; templateTotal: number } };
  t.match(body.identity, { name: 'Angelina', groups: ['staff'] });
  t.equal(body.identity.templateTotal, 4, 'one plain and three synthetic-masked templates');
  const id = body.identity.id;

  const group = await call(`/v1/identities/${id}/photos`, ADMIN, jpeg('groups/faceapi_bbt4.jpg'));
  t.equal(group.status, 422, 'a group photo is rejected');
  t.match(await group.json(), { ok: false, reason: 'several-faces' });
  const wrongType = await call(`/v1/identities/${id}/photos`, ADMIN, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  t.equal(wrongType.status, 415, 'not an image type');
  const garbage = await call(`/v1/identities/${id}/photos`, ADMIN, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('not a jpeg at all') });
  t.equal(garbage.status, 422, 'bytes that are not an image are rejected');
  t.equal((await call(`/v1/identities/${id}/photos`, ADMIN, jpeg('identities/deepface/angelina/img4.jpg'))).status, 201, 'a second photo adds templates');

  const renamed = await call(`/v1/identities/${id}`, ADMIN, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Angelina J', groups: ['staff', 'night'] }) });
  t.match(await renamed.json(), { name: 'Angelina J', groups: ['staff', 'night'], templateTotal: 8 });
  const list = (await (await call('/v1/identities', VIEWER)).json()) as { identities: { id: string }[] };
  t.same(list.identities.map((i) => i.id), [id], 'a viewer lists identities');
  t.equal((await call(`/v1/identities/${id}`, ADMIN, { method: 'DELETE' })).status, 200);
  t.equal((await call(`/v1/identities/${id}`, VIEWER)).status, 404, 'gone');
});

t.test('kill -9 during a burst of events: the log holds every event a client received', async (t) => {
  const received: { id: number; type: string }[] = [];
  const w = watchEvents({ url, token: VIEWER, filter: { types: ['gate.opened'] }, onEvent: (e) => received.push({ id: e.id, type: e.type }) });
  // Operators opening the lobby door as fast as the API answers: each is a logged gate.opened event.
  let stop = false;
  const burst = (async () => {
    let n = 0;
    while (!stop) {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(`${url}/v1/gates/lobby/open`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: `burst ${n++}` }) }).catch(() => undefined),
        ),
      );
    }
  })();
  await until('events flowing to the client', () => received.length >= 150, 30_000);
  child?.kill('SIGKILL');
  const killedAt = received.length;
  stop = true;
  await burst;
  w.close();
  await until('the server to be gone', () => child?.exitCode !== null || child?.signalCode !== null);
  t.equal(child?.signalCode, 'SIGKILL');
  const log = new EventLog(eventsDb);
  try {
    const missing = received.filter((e) => log.since(e.id - 1, {}, 1)[0]?.id !== e.id || log.since(e.id - 1, {}, 1)[0]?.type !== e.type);
    t.equal(missing.length, 0, `all ${received.length} events the client received (${killedAt} when the kill was sent) are in the log after kill -9`);
    t.ok(log.lastId() >= received[received.length - 1].id, 'the log is at or past the last id the client saw');
  } finally {
    log.close();
  }
});
