/** The `fleet:` config section: defaults, paths resolved against the file, errors with path + fix. */
import t from 'tap';
import { ConfigError, parseConfigText } from '../../src/config/index.ts';

const base = `
fleet:
  nodeId: door-1
  site: hq
  nats:
    servers: [nats://127.0.0.1:4222]
    user: facegate
    passwordFile: secrets/nats.pw
`;

t.test('defaults and resolved paths', async (t) => {
  const c = parseConfigText(base, 'f.yaml', { baseDir: '/etc/facegate' });
  t.ok(c.fleet);
  t.equal(c.fleet?.nodeId, 'door-1');
  t.equal(c.fleet?.role, 'edge');
  t.equal(c.fleet?.nats.passwordFile, '/etc/facegate/secrets/nats.pw');
  t.equal(c.fleet?.names.eventsStream, 'FACEGATE_EVENTS');
  t.equal(c.fleet?.names.galleryBucket, 'facegate-gallery');
  t.equal(c.fleet?.names.subjectPrefix, 'facegate');
  t.same(c.fleet?.forward.types, ['*']);
  t.equal(c.fleet?.stream.duplicateWindowMs, 120_000);
  t.equal(c.fleet?.edgeEnrollment, 'refuse');
  t.equal(c.fleet?.hub, undefined);
  const hub = parseConfigText(`${base}  hub:\n    postgres: { passwordFile: pg.pw, port: 5433 }\n`, 'f.yaml', { baseDir: '/srv' });
  t.equal(hub.fleet?.hub?.postgres.passwordFile, '/srv/pg.pw');
  t.equal(hub.fleet?.hub?.postgres.port, 5433);
  t.equal(hub.fleet?.hub?.postgres.host, '127.0.0.1');
  t.equal(parseConfigText('{}').fleet, undefined, 'no fleet section: nothing changes');
});

function issues(text: string): { path: string; message: string; hint?: string }[] {
  try {
    parseConfigText(text, 'f.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => ({ path: i.path.join('.'), message: i.message, hint: i.hint }));
    throw e;
  }
  return [];
}

t.test('bad input: path and a fix', async (t) => {
  const creds = issues(base.replace('nats://127.0.0.1:4222', 'nats://u:secret@127.0.0.1:4222'));
  const c = creds.find((i) => i.path === 'fleet.nats.servers.0');
  t.match(c?.message, /credentials/);
  t.match(c?.hint, /passwordFile/);
  t.notMatch(JSON.stringify(creds), /secret/, 'the password is not echoed');
  const scheme = issues(base.replace('nats://127.0.0.1:4222', 'http://x:4222'));
  t.ok(scheme.find((i) => i.path === 'fleet.nats.servers.0' && /nats:\/\//.test(i.message)));
  const two = issues(`${base}    tokenFile: t\n`);
  t.ok(two.find((i) => /one way to authenticate/.test(i.message) && /tokenFile/.test(i.hint ?? '')));
  const noUser = issues(base.replace('    user: facegate\n', ''));
  t.ok(noUser.find((i) => i.path === 'fleet.nats.user'));
  const node = issues(base.replace('door-1', 'Door 1'));
  t.ok(node.find((i) => i.path === 'fleet.nodeId' && /slug/.test(i.message)));
  const missing = issues('fleet:\n  nodeId: a\n');
  t.ok(missing.find((i) => i.path === 'fleet.site'));
  t.ok(missing.find((i) => i.path === 'fleet.nats'));
  const bucket = issues(`${base}  names: { galleryBucket: 'a.b' }\n`);
  t.ok(bucket.find((i) => i.path === 'fleet.names.galleryBucket'));
  const typo = issues(`${base}  nodeid: x\n`);
  t.ok(typo.find((i) => i.path.startsWith('fleet')), 'a misspelt key is an error');
});

t.test('the commented example in config/default.yaml parses once uncommented', async (t) => {
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(new URL('../../config/default.yaml', import.meta.url), 'utf8');
  const block = text.slice(text.indexOf('# fleet:'));
  const yaml = block
    .split('\n')
    .map((l) => (l.startsWith('# ') ? l.slice(2) : l.startsWith('#') ? l.slice(1) : l))
    .join('\n');
  const c = parseConfigText(yaml, 'default.yaml fleet example', { baseDir: '/etc/facegate' });
  t.equal(c.fleet?.nodeId, 'door-box-1');
  t.equal(c.fleet?.hub?.postgres.passwordFile, '/etc/facegate/postgres.password');
  t.equal(c.fleet?.hub?.ackWaitMs, 10_000);
  t.same(c.fleet?.passages, { heartbeatMs: 1000, staleAfterMs: 5000, ttlHours: 24 });
  t.equal(c.fleet?.names.passagesBucket, 'facegate-passages');
});

t.test('anti-passback area settings: defaults and a stale limit under the heartbeat', async (t) => {
  const c = parseConfigText(base, 'f.yaml', { baseDir: '/etc/facegate' });
  t.same(c.fleet?.passages, { heartbeatMs: 1000, staleAfterMs: 5000, ttlHours: 24 });
  t.equal(c.fleet?.names.passagesBucket, 'facegate-passages');
  const bad = issues(`${base}  passages: { heartbeatMs: 2000, staleAfterMs: 1000 }\n`);
  t.match(bad, [{ path: 'fleet.passages.staleAfterMs', message: /longer than heartbeatMs/, hint: /staleAfterMs: 5000/ }]);
  const name = issues(`${base}  names: { passagesBucket: 'a.b' }\n`);
  t.ok(name.find((i) => i.path === 'fleet.names.passagesBucket'), 'a bucket name that is not a JetStream name');
});

t.test("the hub's ack wait: a default, and a clear error outside 1 s .. 10 min", async (t) => {
  const hub = `${base}  hub: { postgres: { host: db.local } }\n`;
  t.equal(parseConfigText(hub, 'f.yaml', { baseDir: '/etc/facegate' }).fleet?.hub?.ackWaitMs, 10_000);
  t.match(issues(`${base}  hub: { ackWaitMs: 500 }\n`), [{ path: 'fleet.hub.ackWaitMs' }]);
  t.match(issues(`${base}  hub: { ackWaitMs: 3600000 }\n`), [{ path: 'fleet.hub.ackWaitMs' }]);
});
