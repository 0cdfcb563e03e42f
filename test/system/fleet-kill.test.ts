/**
 * kill -9 in the middle of forwarding, real processes: an edge outbox process SIGKILLed while it
 * publishes, then restarted (its persisted cursor may lag the acks: the replay is dropped by
 * JetStream's de-duplication); and the `facegate hub` process SIGKILLed during a burst, then
 * restarted (a committed but unacknowledged batch comes again and the primary key drops it).
 * Either way the hub ends with every event exactly once, checked against the edge's log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { EventLog } from '../../src/events/index.ts';
import { HubStore } from '../../src/hub/store.ts';
import { createLogger } from '../../src/log.ts';
import { sleep, until } from '../helpers/fleet.ts';
import { edgeFleet, natsSection } from '../helpers/fleet-setup.ts';
import { NatsServer } from '../helpers/nats.ts';
import { Postgres } from '../helpers/postgres.ts';

const logger = createLogger({ level: 'silent' });
const ROOT = new URL('../..', import.meta.url).pathname;

interface Proc {
  readonly child: ChildProcess;
  lines: string[];
}

function spawnProc(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, lines: [] };
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    p.lines.push(...parts);
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.once('exit', (code, sig) => {
    if (code !== 0 && sig !== 'SIGKILL' && sig !== 'SIGTERM') process.stderr.write(`process ${args.join(' ')} exited ${code} ${sig}: ${err}\n`);
  });
  return p;
}

const killed = (p: Proc) => new Promise<void>((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r() : p.child.once('exit', () => r())));

t.test('kill -9 of an edge mid-forwarding, then of the hub mid-burst: no loss, no duplicate', async (t) => {
  const [s, pg] = await Promise.all([NatsServer.start(), Postgres.start()]);
  const dir = mkdtempSync(join(tmpdir(), 'fg-kill-'));
  const procs: Proc[] = [];
  t.teardown(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await s.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(
    hubYaml,
    stringify({
      server: { bind: '127.0.0.1', port: 0 },
      auth: { enabled: false },
      logging: { level: 'warn' },
      fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection(s), hub: { postgres: { host: '127.0.0.1', port: pg.port, database: pg.database, user: pg.user, password: pg.password }, retryMs: 100, ackWaitMs: 2000 } },
    }),
  );
  const startHubProc = async (): Promise<Proc> => {
    const p = spawnProc(['bin/facegate.js', 'hub', '--config', hubYaml]);
    procs.push(p);
    await until('hub ready', () => p.lines.some((l) => l.includes('"hub":"ready"')), 60_000);
    return p;
  };
  let hub = await startHubProc();
  const store = new HubStore({ host: '127.0.0.1', port: pg.port, database: pg.database, user: pg.user, password: pg.password, poolSize: 1 }, logger);
  t.teardown(() => store.close());
  const count = () => store.eventCount('door-k').catch(() => 0);

  // 1. The edge outbox process, SIGKILLed while forwarding 3000 events, then restarted.
  const eventsDb = join(dir, 'edge', 'events.sqlite');
  const fleet = JSON.stringify(edgeFleet(s, 'door-k', 'hq'));
  const edge1 = spawnProc(['--import', 'tsx', 'test/helpers/fleet-outbox-proc.ts'], { EVENTS_DB: eventsDb, FLEET_JSON: fleet, APPEND: '3000' });
  procs.push(edge1);
  await until('forwarding under way', () => edge1.lines.some((l) => /^cursor ([1-9]\d{2,})/.test(l)), 60_000, 10);
  edge1.child.kill('SIGKILL');
  await killed(edge1);
  const atKill = await count();
  const log = new EventLog(eventsDb);
  const written = log.lastId();
  log.close();
  t.ok(written > 0, `the edge had logged ${written} events when it was killed; the hub had ${atKill}`);
  const edge2 = spawnProc(['--import', 'tsx', 'test/helpers/fleet-outbox-proc.ts'], { EVENTS_DB: eventsDb, FLEET_JSON: fleet, APPEND: '0' });
  procs.push(edge2);
  await until(`all ${written} at the hub`, async () => (await count()) >= written, 60_000, 100);
  t.equal(await count(), written, 'no duplicate');
  t.same(await store.eventIds('door-k'), Array.from({ length: written }, (_, i) => i + 1), 'no loss: ids 1..N');

  // 2. The hub SIGKILLed during a burst of 3000 more from the same edge, then restarted.
  edge2.child.kill('SIGTERM');
  await killed(edge2);
  const edge3 = spawnProc(['--import', 'tsx', 'test/helpers/fleet-outbox-proc.ts'], { EVENTS_DB: eventsDb, FLEET_JSON: fleet, APPEND: '3000' });
  procs.push(edge3);
  await until('the burst is reaching the hub', async () => (await count()) > written + 300, 60_000, 20);
  hub.child.kill('SIGKILL');
  await killed(hub);
  await until('the edge appended its burst', () => edge3.lines.some((l) => l.startsWith('appended')), 60_000);
  const total = written + 3000;
  // With the hub down the edge keeps forwarding into JetStream: the restarted hub takes the rest from there.
  await until('the edge forwarded its burst to JetStream', () => edge3.lines.includes(`cursor ${total}`), 60_000);
  hub = await startHubProc();
  await until(`all ${total} at the hub`, async () => (await count()) >= total, 90_000, 100);
  // A negative check: no late duplicate batch. The hub's fetches expire after 1 s, so one more
  // fetch cycle would have brought one.
  await sleep(1000);
  t.equal(await count(), total, 'no duplicate after the hub restart');
  t.same(await store.eventIds('door-k'), Array.from({ length: total }, (_, i) => i + 1), 'no loss');
  hub.child.kill('SIGTERM');
  edge3.child.kill('SIGTERM');
});
