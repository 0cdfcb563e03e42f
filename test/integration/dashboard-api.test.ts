/**
 * The dashboard's server side without a browser or models: LiveFrames (encode at most once per
 * interval, shared by concurrent watchers, stale frames refused), Gallery.mergeUnknowns and the
 * unknown-clusters API, and the HTTP surface (static bundle with CSP and caching, the frame
 * endpoint, /v1/me, unknown routes by role, same-origin WebSocket, 404 for unknown routes), and
 * `X-Content-Type-Options: nosniff` on every kind of response (JSON, images, metrics, static files,
 * errors, refused WebSocket upgrades).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer, type IdentityApi } from '../../src/api/server.ts';
import { LiveFrames } from '../../src/app/live-frames.ts';
import { BufferPool, createFrameLease, releaseFrame } from '../../src/lib/frame-lease.ts';
import { createUnknownsApi } from '../../src/app/unknowns.ts';
import { EventBus, EventLog, type Event, type NewEvent } from '../../src/events/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { createLogger } from '../../src/log.ts';
import type { Frame } from '../../src/types.ts';
import { dataPath } from '../helpers/data.ts';

const VIEWER = 'dash-api-viewer-0123456789';
const ADMIN = 'dash-api-admin-0123456789';
const tokens = [
  { id: 'v', role: 'viewer' as const, sha256: sha256Hex(VIEWER) },
  { id: 'a', role: 'admin' as const, sha256: sha256Hex(ADMIN) },
];

function frame(cameraId: string, seq: number, capturedAt = Date.now()): Frame {
  const width = 320;
  const height = 180;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seq * 13) & 255;
  return { cameraId, seq, width, height, data, capturedAt, pts: undefined, format: 'RGB' };
}

t.test('LiveFrames: holds the newest frame of a pooled camera, gives the previous back, and keeps the one being encoded', async (t) => {
  const pool = new BufferPool({ poison: true });
  const pooled = (seq: number): Frame => {
    const f = frame('door', seq);
    const data = pool.take(f.data.length);
    data.set(f.data);
    return { ...f, data, lease: createFrameLease([[pool, data]]) };
  };
  const live = new LiveFrames({ minIntervalMs: 0 });
  const chain = (f: Frame): Frame => {
    live.onFrame(f);
    // The chain is done with it (the camera chain's last stage releases its own hold).
    releaseFrame(f);
    return f;
  };
  chain(pooled(0));
  // A dashboard opens: its request waits for the camera's next frame, and the camera is watched from now.
  const opened = live.latest('door');
  const first = chain(pooled(1));
  t.ok((await opened).ok, 'the first request gets the next frame');
  t.ok(first.lease?.held, 'the live view holds the newest frame after the chain let go');
  const second = chain(pooled(2));
  t.notOk(first.lease?.held, 'and gives the previous one back');
  const encoding = live.latest('door');
  // A newer frame arrives while sharp reads the second one on its threads.
  const third = chain(pooled(3));
  t.ok(second.lease?.held, 'the frame being encoded stays held though a newer one replaced it');
  t.equal(third.data.buffer, first.data.buffer, 'the third frame went into the first one\'s memory (released)');
  t.not(third.data.buffer, second.data.buffer, 'not into the one being encoded');
  const r = await encoding;
  t.ok(r.ok && r.frame.seq === 2, 'the JPEG is of the frame it started with');
  t.notOk(second.lease?.held, 'given back once encoded');
  t.ok(third.lease?.held);
  live.forget('door');
  t.notOk(third.lease?.held, 'a forgotten camera gives its frame back');
});

t.test('LiveFrames: a pooled camera nobody watches keeps no frame; a request waits for the next one', async (t) => {
  const pool = new BufferPool({ poison: true });
  let seq = 0;
  const pooled = (): Frame => {
    const f = frame('gate', ++seq);
    const data = pool.take(f.data.length);
    data.set(f.data);
    return { ...f, data, lease: createFrameLease([[pool, data]]) };
  };
  let now = 1_000_000;
  const live = new LiveFrames({ minIntervalMs: 0, watchMs: 30_000, waitMs: 2000, now: () => now });
  const chain = (f: Frame): Frame => {
    live.onFrame(f);
    releaseFrame(f);
    return f;
  };
  const unwatched = chain(pooled());
  t.notOk(unwatched.lease?.held, 'nobody watches: the chain\'s release gives the memory back at once');
  const asked = live.latest('gate');
  // The camera's next frame arrives while the request waits.
  await new Promise((r) => setTimeout(r, 20));
  const next = chain(pooled());
  t.ok(next.lease?.held, 'a waiting request keeps the next frame');
  const r = await asked;
  t.ok(r.ok && r.frame.seq === next.seq, 'and gets it as JPEG');
  now += 10_000;
  const watched = chain(pooled());
  t.ok(watched.lease?.held && !next.lease?.held, 'watched within watchMs: the newest frame is kept, the previous given back');
  now += 30_001;
  const later = chain(pooled());
  t.ok(!later.lease?.held && !watched.lease?.held, 'no request for watchMs: frames are not kept any more');
  const gone = new LiveFrames({ waitMs: 50, now: () => now });
  gone.onFrame(pooled());
  t.match(await gone.latest('gate'), { ok: false, reason: 'no-frame' }, 'no next frame within waitMs: no-frame, said so');
});

function unit(dim: number, hot: number, other = -1): Float32Array {
  const v = new Float32Array(dim);
  v[hot] = 1;
  if (other >= 0) v[other] = 0.2;
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

t.test('LiveFrames: encodes on request only, at most once per interval, shared, stale refused', async (t) => {
  let now = 1_000_000;
  const live = new LiveFrames({ minIntervalMs: 500, staleMs: 5000, now: () => now });
  t.match(await live.latest('door'), { ok: false, reason: 'no-frame' }, 'no frame yet');
  for (let i = 1; i <= 50; i++) live.onFrame(frame('door', i));
  t.equal(live.encodes, 0, 'frames arriving cost no encode while nobody watches');
  const [a, b, c] = await Promise.all([live.latest('door'), live.latest('door'), live.latest('door')]);
  t.equal(live.encodes, 1, 'three concurrent watchers share one encode');
  t.ok(a.ok && b.ok && c.ok && a.frame.jpeg === b.frame.jpeg && b.frame.jpeg === c.frame.jpeg, 'the same JPEG for all');
  t.equal(a.ok && a.frame.jpeg.subarray(0, 2).toString('hex'), 'ffd8', 'a JPEG');
  t.equal(a.ok && a.frame.seq, 50, 'of the newest frame');
  live.onFrame(frame('door', 51));
  now += 200;
  await live.latest('door');
  t.equal(live.encodes, 1, 'within the interval: the cached JPEG');
  now += 400;
  const d = await live.latest('door');
  t.equal(live.encodes, 2, 'after the interval: a new encode');
  t.equal(d.ok && d.frame.seq, 51, 'of the newer frame');
  now += 600;
  await live.latest('door');
  t.equal(live.encodes, 2, 'no new frame: no new encode');
  now += 6000;
  t.match(await live.latest('door'), { ok: false, reason: 'stale' }, 'a camera silent for 5 s is stale');
});

t.test('Gallery.mergeUnknowns and the unknown-clusters API', async (t) => {
  const g = openGallery(':memory:');
  t.teardown(() => g.close());
  const a = g.upsertUnknown(unit(8, 0), 'm', 1000, 0.9).id;
  g.upsertUnknown(unit(8, 0, 1), 'm', 2000, 0.9);
  const b = g.upsertUnknown(unit(8, 3), 'm', 3000, 0.9).id;
  t.not(a, b, 'two clusters');
  const events = [
    { id: 3, type: 'face.unknown', data: { unknownId: b, snapshotId: 'snap_bbbbbbbb' } },
    { id: 2, type: 'face.unknown', data: { unknownId: a, snapshotId: 'snap_aaaaaaa2' } },
    { id: 1, type: 'face.unknown', data: { unknownId: a, snapshotId: 'snap_aaaaaaa1' } },
  ] as unknown as Event[];
  // Naming a cluster enrols its snapshots through the identity API (real models): covered by
  // test/dashboard.test.ts. Listing, merging and dismissing, tested here, never call it.
  const noIdentities = {} as IdentityApi;
  // The audit events go to a real event log (schema-checked on append).
  const log = new EventLog(':memory:');
  const bus = new EventBus(log);
  t.teardown(() => {
    bus.close();
    log.close();
  });
  const deps = { gallery: g, recentUnknownEvents: () => events, snapshotBytes: async () => undefined, identities: noIdentities, publish: (e: NewEvent) => bus.publish(e), mergeHistory: () => log.query({ types: ['unknown.merged'], order: 'asc', limit: 100 }), logger: createLogger({ level: 'silent' }) };
  const api = createUnknownsApi(deps);
  const list = api.list();
  t.same(
    list.map((u) => [u.id, u.count, u.snapshots]),
    [
      [b, 1, ['snap_bbbbbbbb']],
      [a, 2, ['snap_aaaaaaa2', 'snap_aaaaaaa1']],
    ],
    'newest first, counts and snapshots',
  );
  const merged = api.merge(b, a, 'a');
  t.match(merged, { id: a, count: 3, firstSeen: 1000, lastSeen: 3000 }, 'merged: counts add, seen range widens');
  t.same(merged?.snapshots, ['snap_bbbbbbbb', 'snap_aaaaaaa2', 'snap_aaaaaaa1'], "the merged cluster shows both clusters' faces");
  t.same(
    g.listUnknowns().map((u) => u.id),
    [a],
    'the merged-from cluster is gone',
  );
  t.match(log.query({ types: ['unknown.merged'], limit: 10 }), [{ type: 'unknown.merged', data: { actor: 'a', from: b, into: a, count: 3 } }], 'the merge is an audit event naming the actor');
  // After a restart the log still says b became a: its past sightings stay under a.
  t.same(createUnknownsApi(deps).list().find((u) => u.id === a)?.snapshots, ['snap_bbbbbbbb', 'snap_aaaaaaa2', 'snap_aaaaaaa1'], 'the merge survives a restart (read back from the log)');
  t.equal(api.merge('unk_404', a, 'a'), undefined, 'an unknown id merges nothing');
  t.throws(() => g.mergeUnknowns(a, a), /itself/, 'not into itself');
  t.ok(api.dismiss(a, 'a'), 'dismissed');
  t.notOk(api.dismiss(a, 'a'), 'twice: nothing to dismiss');
  t.match(log.query({ types: ['unknown.dismissed'], limit: 10 }), [{ type: 'unknown.dismissed', data: { actor: 'a', unknownId: a } }], 'the dismissal is an audit event');
  t.same(g.listUnknowns(), [], 'no unknowns left');
});

t.test('HTTP: static bundle, frame endpoint, /v1/me, unknowns by role, same-origin WebSocket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-dash-api-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><script type="module" src="/assets/app-ABCDEFGH12.js"></script>');
  writeFileSync(join(web, 'assets/app-ABCDEFGH12.js'), `console.log(${JSON.stringify('x'.repeat(2000))});`);
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const gallery = openGallery(':memory:');
  const unk = gallery.upsertUnknown(unit(8, 0), 'm', Date.now(), 0.9).id;
  const live = new LiveFrames();
  live.onFrame(frame('door', 1));
  let api: ApiServer | undefined;
  t.teardown(async () => {
    await api?.close();
    bus.close();
    log.close();
    gallery.close();
    rmSync(dir, { recursive: true, force: true });
  });
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => tokens,
      metrics: createMetrics({ defaultMetrics: false }),
      cameras: () => [{ id: 'door' }, { id: 'yard' }],
      liveFrames: live,
      unknowns: createUnknownsApi({ gallery, recentUnknownEvents: () => [], snapshotBytes: async () => undefined, identities: {} as IdentityApi, publish: () => undefined, logger: createLogger({ level: 'silent' }) }),
      webRoot: web,
      consentPolicy: () => ({ required: true, notice: 'Agreed at the desk.' }),
      // A real JPEG as the snapshot store's one file.
      snapshotBytes: async (id) => (id === 'snap_00000001' ? readFileSync(dataPath('identities/deepface/mark/img57.jpg')) : undefined),
    },
    { bind: '127.0.0.1', port: 0 },
  );
  const base = api.url;
  const get = (path: string, token?: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });

  const page = await get('/');
  t.equal(page.status, 200, 'the page needs no token');
  t.match(page.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/, 'strict CSP');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const js = await get('/assets/app-ABCDEFGH12.js', undefined, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed asset: immutable');
  t.equal(js.headers.get('content-encoding'), 'gzip', 'served gzipped');
  t.equal(await js.text(), `console.log(${JSON.stringify('x'.repeat(2000))});`, 'the asset itself');
  const again = await get('/', undefined, { headers: { 'if-none-match': page.headers.get('etag') ?? '' } });
  t.equal(again.status, 304, 'revalidation: 304');
  t.equal((await get('/assets/nope.js')).status, 404, 'unknown asset: 404');
  t.equal((await get('/../package.json')).status, 404, 'no path outside the bundle');

  t.equal((await get('/v1/me')).status, 401, '/v1/me needs a token');
  t.same(await (await get('/v1/me', VIEWER)).json(), { id: 'v', role: 'viewer', consent: { required: true, notice: 'Agreed at the desk.' } }, '/v1/me: id, role and the consent policy');
  const f = await get('/v1/cameras/door/frame', VIEWER);
  t.equal(f.status, 200);
  t.equal(f.headers.get('x-frame-source-size'), '320x180', 'the source size for the boxes');
  t.equal(Buffer.from(await f.arrayBuffer()).subarray(0, 2).toString('hex'), 'ffd8', 'a JPEG');
  t.equal((await get('/v1/cameras/yard/frame', VIEWER)).status, 503, 'a camera without a frame: 503');
  t.equal((await get('/v1/cameras/ghost/frame', VIEWER)).status, 404, 'no such camera: 404');
  t.equal((await get('/v1/cameras/door/frame?token=x', VIEWER)).status, 400, 'a token in the URL is refused');

  t.match(await (await get('/v1/unknowns', VIEWER)).json(), { unknowns: [{ id: unk, count: 1 }] }, 'a viewer lists unknowns');
  t.equal((await get(`/v1/unknowns/${unk}`, VIEWER, { method: 'DELETE' })).status, 403, 'a viewer cannot dismiss');
  t.equal((await get(`/v1/unknowns/${unk}/merge`, ADMIN, { method: 'POST', body: JSON.stringify({ into: unk }), headers: { 'content-type': 'application/json' } })).status, 400, 'not into itself');
  t.equal((await get(`/v1/unknowns/${unk}/name`, ADMIN, { method: 'POST', body: JSON.stringify({ name: '' }), headers: { 'content-type': 'application/json' } })).status, 400, 'a name is required');
  // Naming makes an identity: with requireConsent, not without the person's consent.
  const noConsent = await get(`/v1/unknowns/${unk}/name`, ADMIN, { method: 'POST', body: JSON.stringify({ name: 'Walk-in' }), headers: { 'content-type': 'application/json' } });
  t.equal(noConsent.status, 422, 'naming without consent is refused');
  t.match(((await noConsent.json()) as { error: string }).error, /consent/);
  t.equal(gallery.listIdentities().length, 0, 'and nobody was made');
  const unk2 = gallery.upsertUnknown(unit(8, 3), 'm', Date.now(), 0.9).id;
  const named = await get(`/v1/unknowns/${unk2}/name`, ADMIN, { method: 'POST', body: JSON.stringify({ name: 'Walk-in', consent: 'Agreed at the desk.', consentMethod: 'dashboard' }), headers: { 'content-type': 'application/json' } });
  t.equal(named.status, 201, 'with consent: named');
  t.match(gallery.listIdentities()[0]?.consent, { method: 'dashboard', text: 'Agreed at the desk.', recordedBy: 'a' }, 'the identity carries the consent, recorded by the admin token');
  t.equal((await get(`/v1/unknowns/${unk}`, ADMIN, { method: 'DELETE' })).status, 200, 'an admin dismisses');
  t.equal((await get(`/v1/unknowns/${unk}`, ADMIN, { method: 'DELETE' })).status, 404, 'then it is gone');
  t.equal((await get('/v1/nothing', VIEWER)).status, 404, 'unknown API route: 404');

  const wsUrl = `${base.replace('http', 'ws')}/v1/events`;
  const connect = (origin: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, ['facegate.v1', `facegate.token.${VIEWER}`], { headers: { origin } });
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => undefined);
    });
  t.equal(await connect(base), 101, 'the dashboard served by this server may open the WebSocket');
  t.equal(await connect('http://evil.example'), 403, 'another origin may not');

  // Every response says nosniff: a browser must never guess a type (a JSON error or a JPEG read as HTML).
  const kinds: [string, Promise<Response>][] = [
    ['static page', get('/')],
    ['static asset', get('/assets/app-ABCDEFGH12.js')],
    ['304 revalidation', get('/', undefined, { headers: { 'if-none-match': page.headers.get('etag') ?? '' } })],
    ['health probe', get('/healthz')],
    ['readiness probe', get('/readyz')],
    ['metrics', get('/metrics', VIEWER)],
    ['JSON', get('/v1/me', VIEWER)],
    ['JSON HEAD', get('/v1/me', VIEWER, { method: 'HEAD' })],
    ['live frame JPEG', get('/v1/cameras/door/frame', VIEWER)],
    ['snapshot JPEG', get('/v1/snapshots/snap_00000001', VIEWER)],
    ['401', get('/v1/me')],
    ['400 token in URL', get('/v1/me?token=x', VIEWER)],
    ['400 bad JSON', get(`/v1/unknowns/x/merge`, ADMIN, { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } })],
    ['404 API', get('/v1/nothing', VIEWER)],
    ['404 outside the API', get('/nothing.txt')],
    ['503 frame', get('/v1/cameras/yard/frame', VIEWER)],
  ];
  for (const [what, pending] of kinds) {
    const r = await pending;
    await r.arrayBuffer();
    t.equal(r.headers.get('x-content-type-options'), 'nosniff', `${what} (${r.status} ${r.headers.get('content-type') ?? ''}): nosniff`);
  }
  const refused = await new Promise<Record<string, string | string[] | undefined>>((resolve) => {
    const ws = new WebSocket(wsUrl, ['facegate.v1', `facegate.token.${VIEWER}`], { headers: { origin: 'http://evil.example' } });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.headers);
    });
    ws.once('error', () => undefined);
  });
  t.equal(refused['x-content-type-options'], 'nosniff', 'a refused WebSocket upgrade (plain-text 403 on the raw socket): nosniff');
});
