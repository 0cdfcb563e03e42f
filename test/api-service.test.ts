/**
 * The identities API through the real service (real models, real photos, no cameras): every
 * change made through the API is an audit event (identity.created / identity.updated /
 * identity.removed) carrying the actor's token id, logged and published like any other event;
 * and a rejected upload names the upload, never the server's temp path. Also checks that the
 * configured server.limits reach the API server.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256Hex } from '../src/api/auth.ts';
import { startService, type Service } from '../src/app/service.ts';
import { watchEvents } from '../src/client/watch.ts';
import { parseConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log.ts';
import { dataPath } from './helpers/data.ts';
import { httpRequest, rawClient, until } from './helpers/api-net.ts';

const VIEWER = 'svc-viewer-token-0123456789';
const ADMIN = 'svc-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'fg-api-svc-'));
let service: Service;
let url = '';

t.before(async () => {
  const config = parseConfig({
    server: { port: 0, limits: { maxConnections: 40, maxConnectionsPerAddress: 30, headersTimeoutMs: 800, requestTimeoutMs: 30_000, idleTimeoutMs: 1000, authFailuresPerMinute: 50 } },
    auth: { tokens: [{ id: 'desk-viewer', role: 'viewer', sha256: sha256Hex(VIEWER) }, { id: 'hr-admin', role: 'admin', sha256: sha256Hex(ADMIN) }] },
    cameras: [],
    gallery: { db: join(dir, 'gallery.sqlite') },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
  });
  service = await startService(config, { logger: createLogger({ level: 'error' }), port: 0 });
  url = service.api.url;
});
t.teardown(async () => {
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (path: string, token: string, init: RequestInit = {}): Promise<Response> => fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
const jpeg = (file: string): RequestInit => ({ method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: readFileSync(dataPath(file)) });
type Ev = { id: number; type: string; identityId?: string; data: Record<string, unknown> };

t.test('identity changes through the API are audit events with the actor', async (t) => {
  const events: Ev[] = [];
  const w = watchEvents({ url, token: VIEWER, filter: { types: ['identity.*'] }, onEvent: (e) => events.push(e as unknown as Ev) });
  t.teardown(() => w.close());
  await new Promise((r) => setTimeout(r, 300));

  const created = await call('/v1/identities?name=Angelina&group=staff', ADMIN, jpeg('identities/deepface/angelina/img1.jpg'));
  t.equal(created.status, 201);
  const id = ((await created.json()) as { identity: { id: string } }).identity.id;
  t.equal((await call(`/v1/identities/${id}/photos`, ADMIN, jpeg('identities/deepface/angelina/img4.jpg'))).status, 201);
  const patch = await call(`/v1/identities/${id}`, ADMIN, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Angelina J', groups: ['staff', 'night'] }) });
  t.equal(patch.status, 200);
  t.equal((await call(`/v1/identities/${id}`, ADMIN, { method: 'DELETE' })).status, 200);
  // A refused change (viewer) is no event.
  t.equal((await call(`/v1/identities/${id}`, VIEWER, { method: 'DELETE' })).status, 403);

  await until('four audit events', () => events.length >= 4, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  t.same(events.map((e) => e.type), ['identity.created', 'identity.updated', 'identity.updated', 'identity.removed']);
  t.ok(events.every((e) => e.identityId === id && e.data.actor === 'hr-admin'), 'each names the identity and the actor (token id)');
  t.match(events[0].data, { name: 'Angelina', groups: ['staff'], templates: 4 });
  t.match(events[1].data, { templatesAdded: 4 });
  t.match(events[2].data, { name: 'Angelina J', groups: ['staff', 'night'] });
  t.match(events[3].data, { name: 'Angelina J' });
  const logged = service.log.query({ types: ['identity.*'] }).map((e) => e.type);
  t.same(logged, ['identity.created', 'identity.updated', 'identity.updated', 'identity.removed'], 'written to the event log');
  t.notOk(JSON.stringify(events).includes(ADMIN), 'never the token');
});

t.test('a rejected upload names the upload, not the server temp path', async (t) => {
  const created = await call('/v1/identities?name=Penny&group=staff', ADMIN, jpeg('identities/deepface/angelina/img1.jpg'));
  const id = ((await created.json()) as { identity: { id: string } }).identity.id;
  const bodies: string[] = [];
  for (const [what, init] of [
    ['bytes that are not an image', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('not a jpeg at all') }],
    ['a group photo', jpeg('groups/faceapi_bbt4.jpg')],
  ] as const) {
    const r = await call(`/v1/identities/${id}/photos`, ADMIN, init);
    t.equal(r.status, 422, what);
    const text = await r.text();
    bodies.push(text);
    t.notOk(text.includes(tmpdir()) || text.includes('facegate-upload') || /\/tmp\//.test(text), `${what}: no temp path in ${text}`);
    t.match(text, /uploaded photo/, `${what}: names the upload`);
  }
  const createBad = await call('/v1/identities?name=Nobody', ADMIN, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.from('garbage') });
  t.equal(createBad.status, 422);
  const text = await createBad.text();
  t.notOk(text.includes(tmpdir()) || text.includes('facegate-upload'), `create: no temp path in ${text}`);
});

t.test('server.limits from the config reach the API server', async (t) => {
  const c = await rawClient(service.api.port);
  t.teardown(() => c.socket.destroy());
  const ms = await Promise.race([c.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 4000))]);
  t.ok(ms !== undefined && ms >= 700 && ms < 3000, `an idle socket was cut after ${ms} ms (headersTimeoutMs 800)`);
  const statuses: number[] = [];
  for (let i = 0; i < 55; i++) statuses.push((await httpRequest(service.api.port, '/v1/cameras', { headers: { authorization: 'Bearer wrong' }, localAddress: '127.0.0.9' })).status);
  t.equal(statuses.filter((s) => s === 401).length, 50, 'authFailuresPerMinute 50');
  t.equal(statuses.filter((s) => s === 429).length, 5);
});
