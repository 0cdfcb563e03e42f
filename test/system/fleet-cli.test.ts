/**
 * The fleet commands as a person types them, against a real nats-server and PostgreSQL:
 * `facegate enroll --hub` (real models), `facegate hub-identities list|remove`, the clear
 * errors of a config without fleet.hub, and a second `facegate hub` on a busy port (exits, no zombie).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { DEMO_CAST, demoDataDir } from '../../src/demo/demo.ts';
import { HubStore } from '../../src/hub/store.ts';
import { createLogger } from '../../src/log.ts';
import { natsSection } from '../helpers/fleet-setup.ts';
import { ROOT, spawnFacegate } from '../helpers/fleet-procs.ts';
import { sleep, until } from '../helpers/fleet.ts';
import { NatsServer } from '../helpers/nats.ts';
import { Postgres } from '../helpers/postgres.ts';

const facegate = (...args: string[]) => spawnSync(process.execPath, ['bin/facegate.js', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

t.test('enroll --hub, hub-identities list / remove', async (t) => {
  const [s, p] = await Promise.all([NatsServer.start(), Postgres.start()]);
  const dir = mkdtempSync(join(tmpdir(), 'fg-fleet-cli-'));
  t.teardown(async () => {
    await s.stop();
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const pgSection = { host: '127.0.0.1', port: p.port, database: p.database, user: p.user, passwordFile: 'pg.password' };
  writeFileSync(join(dir, 'pg.password'), `${p.password}\n`);
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, stringify({ fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection(s), hub: { postgres: pgSection } } }));

  const photo = join(demoDataDir(), DEMO_CAST.enrolled[0].photo);
  const r = facegate('enroll', '--hub', '--hub-config', hubYaml, '--name', 'Angelina', '--group', 'staff', '--json', photo);
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { identity: { id: string; name: string; groups: string[]; templates: number } };
  t.equal(out.identity.name, 'Angelina');
  t.same(out.identity.groups, ['staff']);
  const store = new HubStore({ ...pgSection, password: p.password, passwordFile: undefined, ssl: undefined, poolSize: 1 }, createLogger({ level: 'silent' }));
  t.teardown(() => store.close());
  t.equal((await store.getIdentity(out.identity.id))?.templates.length, out.identity.templates, 'in PostgreSQL with its templates');
  t.equal((await store.pendingGallery()).length, 1, 'waiting in the outbox for the hub to publish');

  const list = facegate('hub-identities', 'list', '--config', hubYaml, '--json');
  t.equal(list.status, 0, list.stderr);
  t.match(list.stdout, /"name":"Angelina"/);
  const rm = facegate('hub-identities', 'remove', 'Angelina', '--config', hubYaml);
  t.equal(rm.status, 0, rm.stderr);
  t.equal(await store.getIdentity(out.identity.id), undefined);
  // Both changes are audit events of the hub's origin, naming the local actor.
  const audit = (await store.queryEvents({ nodeId: 'hub' })).map((e) => ({ site: e.site, type: e.body.type, id: e.body.id, identityId: e.body.identityId, data: e.body.data }));
  const actor = `facegate-cli:${userInfo().username}`;
  t.same(audit, [
    { site: 'hq', type: 'identity.created', id: 1, identityId: out.identity.id, data: { actor, name: 'Angelina', groups: ['staff'], templates: out.identity.templates } },
    { site: 'hq', type: 'identity.removed', id: 2, identityId: out.identity.id, data: { actor, name: 'Angelina' } },
  ], 'enroll --hub and hub-identities remove are audit events of the hub');
  const again = facegate('hub-identities', 'remove', 'Angelina', '--config', hubYaml);
  t.equal(again.status, 1);
  t.match(again.stderr, /no identity "Angelina" at the hub/);

  const noHub = join(dir, 'edge.yaml');
  writeFileSync(noHub, stringify({ fleet: { nodeId: 'e1', site: 'hq', nats: natsSection(s) } }));
  const bad = facegate('enroll', '--hub', '--hub-config', noHub, '--name', 'X', photo);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /has no fleet.hub section/);
  const missing = facegate('enroll', '--hub', '--name', 'X', photo);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /--hub needs the hub's config/);

  // A second `facegate hub` on the first one's port: it must not become a zombie (connected to
  // NATS and PostgreSQL, taking batches, without its API). It stops what it started and exits
  // non-zero with one clear line; the first hub is untouched and stops on SIGTERM.
  const runYaml = join(dir, 'hub-run.yaml');
  writeFileSync(runYaml, stringify({ logging: { level: 'warn' }, events: { snapshots: { dir: join(dir, 'snapshots') } }, fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection(s), hub: { postgres: pgSection } } }));
  const first = spawnFacegate(['hub', '--config', runYaml, '--port', '0']);
  t.teardown(() => first.kill('SIGKILL'));
  await until('the first hub is ready', () => first.lines.some((l) => l.includes('"hub":"ready"')), 30_000);
  const { port, url } = JSON.parse(first.lines.find((l) => l.includes('"hub":"ready"')) ?? '{}') as { port: number; url: string };
  const t0 = Date.now();
  const second = spawnFacegate(['hub', '--config', runYaml, '--port', String(port)]);
  t.teardown(() => second.kill('SIGKILL'));
  const exited = await Promise.race([second.exited().then(() => true), sleep(20_000).then(() => false)]);
  t.ok(exited, `the second hub exited (${Date.now() - t0} ms)`);
  t.not(second.child.exitCode, 0, `non-zero exit: ${second.child.exitCode}`);
  const errors = second.stderrTail().split('\n').filter((l) => l.startsWith('error:'));
  t.equal(errors.length, 1, `one error line: ${errors.join(' | ')}`);
  t.match(errors[0], new RegExp(`port ${port}.*in use`), 'it names the port and the cause');
  t.notOk(second.stderrTail().includes(p.password), 'no password on stderr');
  t.equal((await fetch(`${url}/healthz`)).status, 200, 'the first hub still answers');
  const t1 = Date.now();
  await Promise.race([first.kill('SIGTERM'), sleep(15_000)]);
  t.equal(first.child.exitCode, 0, `the first hub stops on SIGTERM with 0 (${Date.now() - t1} ms)`);
});
