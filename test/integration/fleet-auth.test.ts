// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * Every way fleet mode authenticates to NATS, against a real nats-server: a token (inline and from
 * a file), an NKey seed file, a .creds file (user JWT + seed) against a server in operator mode
 * (operator, account and user JWTs signed here), and TLS with a private CA (the server's
 * certificate made here with openssl) plus a password. Each forwards events into the stream; a
 * wrong one is refused clearly. And the least-privilege edge permissions (src/fleet/permissions.ts):
 * every operation an edge performs works with them, every one that could wreck the fleet or read
 * other edges' data is refused by the server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { nkeys } from '@nats-io/transport-node';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { parseConfig } from '../../src/config/index.ts';
import { startGalleryFollower } from '../../src/fleet/gallery-follower.ts';
import { startNatsLink } from '../../src/fleet/nats.ts';
import { startPassageFollower } from '../../src/fleet/passage-follower.ts';
import { HEARTBEAT_KEY, openPassageBucket, passageKey } from '../../src/fleet/passages-kv.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { CursorStore } from '../../src/outputs/index.ts';
import { createLogger } from '../../src/log.ts';
import { readStream, sleep, until } from '../helpers/fleet.ts';
import { edgePermissions } from '../../src/fleet/permissions.ts';
import { createSnapshotUploader, openSnapshotStore } from '../../src/fleet/snapshots.ts';
import { ensureEventsStream } from '../../src/fleet/stream.ts';
import { edgeInboxPrefix } from '../../src/fleet/subjects.ts';
import { healthEvent, testEdge } from '../helpers/fleet-setup.ts';
import { NatsServer } from '../helpers/nats.ts';
import { operatorSetup } from '../helpers/fleet-jwt.ts';

const logger = createLogger({ level: 'silent' });

function fleetWith(nats: Record<string, unknown>, node: string) {
  const c = parseConfig({ fleet: { nodeId: node, site: 'hq', nats: { connectTimeoutMs: 1000, ...nats } } });
  if (!c.fleet) throw new Error('no fleet');
  return c.fleet;
}

async function forwards(t: Tap, nats: Record<string, unknown>, node: string, check: () => Promise<number>): Promise<void> {
  const edge = testEdge(fleetWith(nats, node), logger);
  t.teardown(() => edge.close());
  for (let i = 0; i < 5; i++) edge.bus.publish(healthEvent(i));
  await until(`${node} forwarded`, async () => (await check()) >= 5, 20_000, 50);
  t.pass(`${node}: 5 events in the stream`);
}

type Tap = { teardown(fn: () => unknown): void; pass(msg: string): void };

t.test('token (inline and file) and NKey seed file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-nats-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const token = `tok-${Math.random().toString(36).slice(2)}`;
  const s = await NatsServer.start({ token });
  t.teardown(() => s.stop());
  const count = (server: NatsServer, opts: Record<string, unknown>) => async () => {
    const nc = await connect({ servers: server.url, ...opts });
    try {
      return (await readStream(nc, 'FACEGATE_EVENTS').catch(() => [])).length;
    } finally {
      await nc.close();
    }
  };
  await forwards(t, { servers: [s.url], token }, 'tok-inline', count(s, { token }));
  writeFileSync(join(dir, 'token'), `${token}\n`);
  await forwards(t, { servers: [s.url], tokenFile: join(dir, 'token') }, 'tok-file', async () => (await count(s, { token })()) - 5);

  const kp = nkeys.createUser();
  const seedFile = join(dir, 'user.nk');
  writeFileSync(seedFile, `${new TextDecoder().decode(kp.getSeed())}\n`, { mode: 0o600 });
  const s2 = await NatsServer.start({ nkeys: [kp.getPublicKey()] });
  t.teardown(() => s2.stop());
  await forwards(t, { servers: [s2.url], nkeySeedFile: seedFile }, 'nkey-1', count(s2, { user: s2.user.user, pass: s2.user.pass }));

  const other = nkeys.createUser();
  writeFileSync(join(dir, 'other.nk'), new TextDecoder().decode(other.getSeed()));
  const bad = testEdge(fleetWith({ servers: [s2.url], nkeySeedFile: join(dir, 'other.nk') }, 'nkey-bad'), logger);
  t.teardown(() => bad.close());
  await until('refused', () => /refused the credentials/.test(bad.forwarder.status().lastError ?? ''), 20_000);
  t.pass('an unknown NKey is refused with the fix');
});

t.test('.creds (user JWT + seed) against nats-server in operator mode; expired, foreign and malformed creds refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-nats-jwt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Operator -> accounts (SYS, FACEGATE with JetStream) -> users, signed here; a MEMORY resolver.
  const op = operatorSetup();
  const s = await NatsServer.start({ operator: op.server });
  t.teardown(() => s.stop());
  const write = (name: string, text: string): string => {
    const file = join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };
  // The edge's permissions in its JWT (the README's per-edge example): its own subjects only.
  const doorPerms = edgePermissions(fleetWith({ servers: ['nats://127.0.0.1:4222'] }, 'creds-door-1'));
  const door = op.user('door-1', { allow: { pub: doorPerms.publish, sub: doorPerms.subscribe } });
  const reader = op.user('reader');
  // The hub (any user with full rights) makes the stream; the edge may only read its info.
  const readerNc = await connect({ servers: s.url, authenticator: credsAuthenticator(new TextEncoder().encode(reader.creds)) });
  await ensureEventsStream(readerNc, fleetWith({ servers: ['nats://127.0.0.1:4222'] }, 'creds-door-1'));
  await readerNc.close();
  await forwards(t, { servers: [s.url], credsFile: write('door-1.creds', door.creds) }, 'creds-door-1', async () => {
    const nc = await connect({ servers: s.url, authenticator: credsAuthenticator(new TextEncoder().encode(reader.creds)) });
    try {
      return (await readStream(nc, 'FACEGATE_EVENTS').catch(() => [])).filter((m) => m.node === 'creds-door-1').length;
    } finally {
      await nc.close();
    }
  });

  // The JWT's permissions hold: the same user cannot publish as another node.
  const doorNc = await connect({ servers: s.url, inboxPrefix: edgeInboxPrefix('creds-door-1'), authenticator: credsAuthenticator(new TextEncoder().encode(door.creds)) });
  await t.rejects(jetstream(doorNc).publish('facegate.hq.creds-door-2.events.system.health', '{}', { timeout: 500 }), /permission/i, 'door-1 cannot publish as creds-door-2 (its JWT permissions)');
  await doorNc.close();

  // Refused: an expired user JWT, a user of an account the server does not know; a file that is
  // not a .creds file. Clear errors, FLEET_NATS_AUTH / FLEET_CONFIG_INVALID, no seed or JWT in them.
  const expired = op.user('door-old', { expiresInS: -60 });
  const foreign = op.user('door-rogue', { issuer: nkeys.createAccount() });
  const cases = [
    { name: 'expired', user: expired, file: write('expired.creds', expired.creds), code: 'FLEET_NATS_AUTH', match: /refused the credentials: the JWT of user 'door-old' in nats\.credsFile .*expired\.creds expired at \d{4}-.*Authorization Violation[\s\S]*fix: issue new credentials/ },
    { name: 'foreign account', user: foreign, file: write('rogue.creds', foreign.creds), code: 'FLEET_NATS_AUTH', match: /refused the JWT of user 'door-rogue' in nats\.credsFile .*rogue\.creds \(Authorization Violation\)[\s\S]*fix: check that the user's account is known/ },
    { name: 'not a .creds file', user: door, file: write('seed-only.creds', `${door.seed}\n`), code: 'FLEET_CONFIG_INVALID', match: /nats\.credsFile .*seed-only\.creds: it does not hold the two armoured blocks/ },
  ];
  const links = cases.map((c) => ({ c, link: startNatsLink({ config: fleetWith({ servers: [s.url], credsFile: c.file }, 'creds-bad').nats, name: `creds-${c.name}`, logger }) }));
  t.teardown(() => Promise.all(links.map((l) => l.link.close())));
  for (const { c, link } of links) {
    await until(`${c.name} refused`, () => link.status().lastErrorCode !== undefined, 10_000);
    const st = link.status();
    t.equal(st.lastErrorCode, c.code, `${c.name}: ${c.code}`);
    t.match(st.lastError, c.match, `${c.name}: ${st.lastError?.split('\n')[0]}`);
    t.notOk(st.lastError?.includes(c.user.seed) || st.lastError?.includes(c.user.seed.slice(2, 20)) || st.lastError?.includes(c.user.jwt.split('.')[1].slice(0, 20)), `${c.name}: no seed or JWT in the error`);
    t.equal(st.connected, false);
  }
  // The file is read again at each attempt: new credentials in place of the expired ones log in.
  writeFileSync(cases[0].file, op.user('door-old').creds);
  await until('renewed creds accepted', () => links[0].link.status().connected, 10_000);
  t.pass('the renewed .creds file is used without a restart');
});

t.test('TLS with a private CA', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-nats-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=facegate test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  const s = await NatsServer.start({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') } });
  t.teardown(() => s.stop());
  const ca = join(dir, 'ca.crt');
  await forwards(t, { servers: [s.url], user: s.user.user, password: s.user.pass, tls: { ca } }, 'tls-1', async () => {
    const nc = await connect({ servers: s.url, user: s.user.user, pass: s.user.pass, tls: { ca: (await import('node:fs')).readFileSync(ca, 'utf8') } });
    try {
      return (await readStream(nc, 'FACEGATE_EVENTS').catch(() => [])).length;
    } finally {
      await nc.close();
    }
  });
  // Without the CA the server's certificate is not trusted: a clear error, nothing forwarded.
  const noCa = testEdge(fleetWith({ servers: [s.url], user: s.user.user, password: s.user.pass }, 'tls-no-ca'), logger);
  t.teardown(() => noCa.close());
  await until('an error', () => (noCa.forwarder.status().lastError ?? '').length > 0, 20_000);
  t.equal(noCa.forwarder.status().connected, false, `refused: ${noCa.forwarder.status().lastError?.split('\n')[0]}`);
  t.match(noCa.forwarder.status().lastError, /TLS with NATS .* failed[\s\S]*fix: set fleet.nats.tls.ca/);
});

t.test('least-privilege edge permissions (edgePermissions, the README set): each thing an edge does works, each thing it must not do is refused', async (t) => {
  const edgeFleet = fleetWith({ servers: ['nats://127.0.0.1:4222'], user: 'door-1', password: 'door-1-pw' }, 'door-1');
  const s = await NatsServer.start({ users: { hub: 'hub-pw', 'door-1': 'door-1-pw' }, permissions: { 'door-1': edgePermissions(edgeFleet) } });
  t.teardown(() => s.stop());
  // What the hub makes at its start (the edge may not): the events stream, its durable consumer,
  // the buckets and the object store.
  const hubNc = await connect({ servers: s.url, user: 'hub', pass: 'hub-pw' });
  t.teardown(() => hubNc.close());
  await ensureEventsStream(hubNc, edgeFleet);
  const hubJsm = await jetstreamManager(hubNc);
  await hubJsm.consumers.add('FACEGATE_EVENTS', { durable_name: 'facegate-hub', ack_policy: AckPolicy.Explicit });
  const kv = await new Kvm(hubNc).create('facegate-gallery', { history: 1 });
  await openSnapshotStore(hubNc, edgeFleet);
  const own = testEdge(fleetWith({ servers: [s.url], user: 'door-1', password: 'door-1-pw' }, 'door-1'), logger);
  t.teardown(() => own.close());
  for (let i = 0; i < 5; i++) own.bus.publish(healthEvent(i));
  const count = async () => {
    const nc = await connect({ servers: s.url, user: 'hub', pass: 'hub-pw' });
    try {
      return (await readStream(nc, 'FACEGATE_EVENTS').catch(() => [])).filter((m) => m.node === 'door-1').length;
    } finally {
      await nc.close();
    }
  };
  await until('door-1 forwards as itself', async () => (await count()) === 5, 20_000, 50);
  t.pass('door-1 forwarded its own events with its restricted user');
  // ... and follows the gallery the hub's user writes.
  const emb = Buffer.from(new Float32Array(512).fill(1 / Math.sqrt(512)).buffer).toString('base64');
  await kv.put('id_perm0001', JSON.stringify({ v: 1, id: 'id_perm0001', name: 'Perm', groups: [], metadata: {}, updatedMs: 1, templates: [{ id: 'tpl_perm0001', modelId: 'w600k_mbf_dq', masked: false, embedding: emb, quality: null }] }));
  const gdir = mkdtempSync(join(tmpdir(), 'fg-nats-perm-'));
  const gallery = openGallery(join(gdir, 'gallery.sqlite'));
  const state = new CursorStore(join(gdir, 'fleet.sqlite'));
  const follower = startGalleryFollower({ fleet: fleetWith({ servers: [s.url], user: 'door-1', password: 'door-1-pw' }, 'door-1'), gallery, state, logger });
  t.teardown(async () => {
    await follower.close();
    state.close();
    gallery.close();
    rmSync(gdir, { recursive: true, force: true });
  });
  await follower.synced(20_000);
  t.equal(gallery.getIdentity('id_perm0001')?.name, 'Perm', 'the restricted edge user follows the gallery');
  // Anti-passback areas: the hub writes the passages bucket, the restricted edge reads it only.
  const passagesKv = await openPassageBucket(hubNc, 'facegate-passages', { ttlMs: 3_600_000 });
  const key = passageKey('hq-lobby', 'id_perm0001');
  await passagesKv.put(key, JSON.stringify({ v: 1, area: 'hq-lobby', identityId: 'id_perm0001', gateId: 'lobby-in', nodeId: 'door-2', site: 'hq', direction: 'entry', timeMs: Date.now(), eventId: 1 }));
  // The hub's heartbeat, live (only one written after the edge caught up counts: a replayed one may predate an outage).
  const beat = () => passagesKv.put(HEARTBEAT_KEY, JSON.stringify({ v: 1, hub: 'hub', timeMs: Date.now() }));
  await beat();
  const beating = setInterval(() => void beat().catch(() => undefined), 200);
  t.teardown(() => clearInterval(beating));
  const link = startNatsLink({ config: { ...edgeFleet.nats, servers: [s.url] }, name: 'perm-passages', logger, inboxPrefix: edgeInboxPrefix('door-1') });
  const passages = startPassageFollower({ fleet: edgeFleet, link, logger });
  const seen: string[] = [];
  const sub = passages.inputs$.subscribe((i) => seen.push(i.type === 'area.passage' ? `${i.passage.area}:${i.passage.identityId}` : `sync:${i.sync.mode}`));
  t.teardown(async () => {
    sub.unsubscribe();
    await passages.close();
    await link.close();
  });
  await passages.fresh(20_000);
  clearInterval(beating);
  t.ok(seen.includes('hq-lobby:id_perm0001') && seen.at(-1) === 'sync:fresh', 'the restricted edge user follows the area passages');
  const edgeKv = await new Kvm(await link.ready()).open('facegate-passages', { timeout: 2000 });
  await t.rejects(edgeKv.put(key, JSON.stringify({ forged: true })), /permission/i, 'the edge cannot write a passage');
  // Snapshots: the edge uploads to the object store the hub made; offered again (a page replayed
  // after a crash), the object is there and is not replaced (that would need a purge).
  const snapDir = mkdtempSync(join(tmpdir(), 'fg-nats-perm-snap-'));
  t.teardown(() => rmSync(snapDir, { recursive: true, force: true }));
  writeFileSync(join(snapDir, 'face.jpg'), Buffer.alloc(200_000, 7));
  const uploader = createSnapshotUploader({ fleet: edgeFleet, link, logger, readSnapshot: async (_id, kind) => (kind === 'face' ? readFileSync(join(snapDir, 'face.jpg')) : undefined) });
  const snapEvent = { ...healthEvent(0), v: 1 as const, id: 1, time: new Date().toISOString(), data: { status: 'ok' as const, snapshotId: 'snap_perm0001' } };
  await uploader.deliver([snapEvent as never]);
  await uploader.deliver([snapEvent as never]);
  t.equal(uploader.uploaded(), 1, 'one snapshot uploaded, the replay skipped');
  t.equal((await (await openSnapshotStore(hubNc, edgeFleet)).info('door-1/snap_perm0001.face.jpg'))?.size, 200_000, 'the hub sees it');

  // Refused with the edge's own credentials: every operation that wrecked the fleet with the old
  // `$JS.API.>` set, and the ways to read other edges' events.
  const door = await connect({ servers: s.url, user: 'door-1', pass: 'door-1-pw', inboxPrefix: edgeInboxPrefix('door-1') });
  t.teardown(() => door.close());
  const jsm = await jetstreamManager(door, { timeout: 1500 });
  const refused: [string, () => Promise<unknown>][] = [
    ['purge the passages bucket', () => jsm.streams.purge('KV_facegate-passages')],
    ['purge the gallery bucket', () => jsm.streams.purge('KV_facegate-gallery')],
    ['purge the events stream', () => jsm.streams.purge('FACEGATE_EVENTS')],
    ['delete the gallery bucket', () => jsm.streams.delete('KV_facegate-gallery')],
    ['purge the snapshot store', () => jsm.streams.purge('OBJ_facegate-snapshots')],
    ["delete the hub's durable consumer", () => jsm.consumers.delete('FACEGATE_EVENTS', 'facegate-hub')],
    ['create an ephemeral consumer on the events stream', () => jsm.consumers.add('FACEGATE_EVENTS', { ack_policy: AckPolicy.None })],
    ["read the hub's consumer", () => jsm.consumers.info('FACEGATE_EVENTS', 'facegate-hub')],
    ['read an event by sequence', () => jsm.streams.getMessage('FACEGATE_EVENTS', { seq: 1 })],
    ['write the gallery', () => new Kvm(door).open('facegate-gallery').then((g) => g.put('id_forged', '{}'))],
  ];
  for (const [what, op] of refused) await t.rejects(op(), /permission/i, `refused: ${what}`);
  for (const subject of ['facegate.hq.door-2.events.>', '_INBOX.>', '$KV.facegate-gallery.>']) {
    const sub = door.subscribe(subject);
    const closed = await Promise.race([sub.closed, sleep(3000).then(() => 'still open')]);
    t.match(String(closed), /permission/i, `refused: listening on ${subject}`);
  }
  t.equal((await hubJsm.streams.info('KV_facegate-passages')).state.messages > 0, true, 'the passages are still there');
  t.equal((await hubJsm.consumers.info('FACEGATE_EVENTS', 'facegate-hub')).name, 'facegate-hub', "the hub's consumer is still there");
  // The same user claiming to be door-2: the server refuses the subjects.
  const spoof = testEdge(fleetWith({ servers: [s.url], user: 'door-1', password: 'door-1-pw' }, 'door-2'), logger);
  t.teardown(() => spoof.close());
  for (let i = 0; i < 3; i++) spoof.bus.publish(healthEvent(i));
  // Refused either way: its inbox (_INBOX_door-2) is not door-1's to listen on, and its subjects
  // are not door-1's to publish on.
  await until('refused', () => spoof.runner.health()[0].failed > 0 || spoof.forwarder.status().lastError !== undefined, 20_000, 50);
  t.match(spoof.forwarder.status().lastError ?? 'publish failed', /permission|timeout|publish failed/i, `door-2 refused: ${spoof.forwarder.status().lastError?.split('\n')[0]}`);
  t.equal(spoof.cursors.get('fleet'), 0, 'nothing acknowledged for door-2');
  t.equal((await readStream(hubNc, 'FACEGATE_EVENTS')).filter((m) => m.node === 'door-2').length, 0, 'no door-2 event in the stream');
});
