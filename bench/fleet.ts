/**
 * `npm run bench -- fleet [--events N] [--identities N] [--backlog N] [--samples N]`: fleet mode
 * on real servers (a local nats-server and PostgreSQL, the `facegate hub` process):
 * 1. events/s sustained edge -> hub (PostgreSQL insert included) with 1 and 4 edge processes, each
 *    appending N events to its own SQLite log while forwarding;
 * 2. backlog drain: an edge that queued 100k events while partitioned, then forwards them;
 * 3. gallery at 10k identities: bootstrap of a new edge, then propagation p50/p99 from the hub's
 *    PostgreSQL commit to searchable in the edge's gallery;
 * with CPU (% of one core) and RSS of the hub, the edges, nats-server and PostgreSQL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/index.ts';
import { openGallery } from '../src/gallery/index.ts';
import { startGalleryFollower } from '../src/fleet/gallery-follower.ts';
import { HubStore } from '../src/hub/store.ts';
import type { StoredIdentity } from '../src/fleet/gallery-kv.ts';
import { NatsServer, Postgres } from '../src/dev/local-servers.ts';
import { createLogger } from '../src/log.ts';
import { CursorStore } from '../src/outputs/index.ts';
import { procStat } from './proc.ts';
import { randomUnit } from '../test/helpers/gallery-data.ts';
import { sleep, until } from '../src/lib/time.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const logger = createLogger({ level: 'warn' });

function arg(args: readonly string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}


interface Child {
  readonly child: ChildProcess;
  readonly lines: string[];
}

function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { child, lines };
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** CPU seconds and RSS of a process tree rooted at pid (PostgreSQL's backends are children). */
function treeStat(pid: number | undefined): { cpuS: number; rssMB: number } {
  if (pid === undefined) return { cpuS: 0, rssMB: 0 };
  let cpuS = 0;
  let rssMB = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(Number(d));
    if (!s || (Number(d) !== pid && s.ppid !== pid)) continue;
    cpuS += s.cpuS;
    rssMB += s.rssMB;
  }
  return { cpuS, rssMB };
}

class Meter {
  private readonly start = new Map<string, { cpuS: number; t: number }>();
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly pids: () => Record<string, number | undefined>) {}
  begin(): void {
    const now = performance.now();
    for (const [k, pid] of Object.entries(this.pids())) this.start.set(k, { cpuS: treeStat(pid).cpuS, t: now });
    this.peak.clear();
    this.timer = setInterval(() => {
      for (const [k, pid] of Object.entries(this.pids())) this.peak.set(k, Math.max(this.peak.get(k) ?? 0, treeStat(pid).rssMB));
    }, 250);
  }
  end(): Record<string, { cpuPct: number; rssMB: number }> {
    clearInterval(this.timer);
    const now = performance.now();
    const out: Record<string, { cpuPct: number; rssMB: number }> = {};
    for (const [k, pid] of Object.entries(this.pids())) {
      const s = this.start.get(k);
      const st = treeStat(pid);
      out[k] = { cpuPct: s ? (100 * (st.cpuS - s.cpuS)) / ((now - s.t) / 1000) : 0, rssMB: Math.max(this.peak.get(k) ?? 0, st.rssMB) };
    }
    return out;
  }
}

const unit = (dim: number): Float32Array => randomUnit(dim, Math.random);
const rid = (p: string) => `${p}_${randomBytes(8).toString('hex')}`;
function identity(i: number): StoredIdentity {
  const now = Date.now();
  const t = (masked: boolean) => ({ id: rid('tpl'), modelId: 'w600k_mbf_dq', masked, embedding: unit(512), quality: 0.9, sourcePhotoSha256: null });
  return { id: rid('id'), name: `Person ${i}`, groups: ['staff'], metadata: {}, createdMs: now, updatedMs: now, templates: [t(false), t(true)] };
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};

export async function runFleetBench(args: readonly string[]): Promise<void> {
  const perEdge = arg(args, 'events', 20_000);
  const identities = arg(args, 'identities', 10_000);
  const backlog = arg(args, 'backlog', 100_000);
  const samples = arg(args, 'samples', 100);
  const dir = mkdtempSync(join(tmpdir(), 'fg-fleet-bench-'));
  // PostgreSQL with fsync on, as deployed (the tests run it off).
  const [nats, pg] = await Promise.all([NatsServer.start(), Postgres.start({ fsync: true })]);
  const pgSection = { host: '127.0.0.1', port: pg.port, database: pg.database, user: pg.user, password: pg.password };
  const natsSection = { servers: [nats.url], user: nats.user.user, password: nats.user.pass };
  const hubYaml = join(dir, 'hub.yaml');
  writeFileSync(hubYaml, stringify({ server: { bind: '127.0.0.1', port: 0 }, auth: { enabled: false }, logging: { level: 'warn' }, fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection, hub: { postgres: pgSection, retryMs: 200 } } }));
  const hub = spawnNode(['bin/facegate.js', 'hub', '--config', hubYaml]);
  const store = new HubStore({ ...pgSection, poolSize: 2 }, logger);
  const children: ChildProcess[] = [hub.child];
  const pgPid = () => Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const rows: string[] = [];
  const print = (line: string) => process.stdout.write(`${line}\n`);
  try {
    await until('the fleet bench', () => hub.lines.some((l) => l.includes('"hub":"ready"')), 60_000);
    await until('the fleet bench', async () => (await store.eventCount().catch(() => -1)) >= 0, 30_000, 200);
    print(`fleet bench: nats-server ${nats.url}, PostgreSQL :${pg.port}, hub pid ${hub.child.pid}; ${perEdge} events per edge, backlog ${backlog}, ${identities} identities`);

    const edgeFleet = (node: string) => JSON.stringify(parseConfig({ fleet: { nodeId: node, site: 'bench', nats: natsSection } }).fleet);
    const count = async (nodes: readonly string[]) => (await Promise.all(nodes.map((n) => store.eventCount(n)))).reduce((a, b) => a + b, 0);

    // 1. Sustained edge -> hub with 1 and 4 edges.
    for (const n of [1, 4]) {
      const nodes = Array.from({ length: n }, (_, i) => `e${n}-${i + 1}`);
      const edges = nodes.map((node) => spawnNode(['--import', 'tsx', 'bench/fleet-edge.ts'], { EVENTS_DB: join(dir, node, 'events.sqlite'), FLEET_JSON: edgeFleet(node), APPEND: String(perEdge), BATCH: '50' }));
      children.push(...edges.map((e) => e.child));
      const meter = new Meter(() => ({ hub: hub.child.pid, edges: edges[0].child.pid, nats: nats.pid, postgres: pgPid() }));
      await until('the fleet bench', () => edges.every((e) => e.lines.some((l) => l.includes('startedMs'))), 60_000, 10);
      meter.begin();
      // From the first append of any edge to the last event in PostgreSQL.
      const t0 = Math.min(...edges.map((e) => (JSON.parse(e.lines.find((l) => l.includes('startedMs')) ?? '{}') as { startedMs: number }).startedMs));
      await until('the fleet bench', async () => (await count(nodes)) >= n * perEdge, 600_000, 50);
      const s = (Date.now() - t0) / 1000;
      const use = meter.end();
      const appendS = edges.map((e) => (e.lines.filter((l) => l.includes('appended')).findIndex((l) => l.includes('"done"')) + 1) * 0.25).reduce((a, b) => Math.max(a, b), 0);
      const row = { bench: 'sustained', edges: n, events: n * perEdge, seconds: s, eventsPerS: (n * perEdge) / s, edgeAppendS: appendS, ...Object.fromEntries(Object.entries(use).map(([k, v]) => [k, v])) };
      print(JSON.stringify(row));
      rows.push(`| sustained, ${n} edge${n > 1 ? 's' : ''} | ${n * perEdge} | ${((n * perEdge) / s).toFixed(0)} events/s | hub ${use.hub.cpuPct.toFixed(0)}% / ${use.hub.rssMB.toFixed(0)} MB | edge ${use.edges.cpuPct.toFixed(0)}% / ${use.edges.rssMB.toFixed(0)} MB | nats ${use.nats.cpuPct.toFixed(0)}% / ${use.nats.rssMB.toFixed(0)} MB | PG ${use.postgres.cpuPct.toFixed(0)}% / ${use.postgres.rssMB.toFixed(0)} MB |`);
      for (const e of edges) e.child.kill('SIGTERM');
      await Promise.all(edges.map((e) => exited(e.child)));
    }

    // 2. Backlog drain after a partition: 100k events queued offline, then forwarded.
    {
      const node = 'backlog-1';
      const db = join(dir, node, 'events.sqlite');
      const t0 = performance.now();
      const offline = spawnNode(['--import', 'tsx', 'bench/fleet-edge.ts'], { EVENTS_DB: db, FLEET_JSON: edgeFleet(node), APPEND: String(backlog), BATCH: '1000', FORWARD: '0' });
      children.push(offline.child);
      await exited(offline.child);
      const queueS = (performance.now() - t0) / 1000;
      const edge = spawnNode(['--import', 'tsx', 'bench/fleet-edge.ts'], { EVENTS_DB: db, FLEET_JSON: edgeFleet(node), APPEND: '0' });
      children.push(edge.child);
      await until('the fleet bench', () => edge.lines.some((l) => l.includes('startedMs')), 60_000, 10);
      const meter = new Meter(() => ({ hub: hub.child.pid, edges: edge.child.pid, nats: nats.pid, postgres: pgPid() }));
      const t1 = performance.now();
      meter.begin();
      await until('the fleet bench', async () => (await count([node])) >= backlog, 900_000, 200);
      const s = (performance.now() - t1) / 1000;
      const use = meter.end();
      print(JSON.stringify({ bench: 'backlog', events: backlog, queuedInS: queueS, drainS: s, eventsPerS: backlog / s, ...use }));
      rows.push(`| backlog drain after a partition | ${backlog} | ${(backlog / s).toFixed(0)} events/s (${s.toFixed(1)} s) | hub ${use.hub.cpuPct.toFixed(0)}% / ${use.hub.rssMB.toFixed(0)} MB | edge ${use.edges.cpuPct.toFixed(0)}% / ${use.edges.rssMB.toFixed(0)} MB | nats ${use.nats.cpuPct.toFixed(0)}% / ${use.nats.rssMB.toFixed(0)} MB | PG ${use.postgres.cpuPct.toFixed(0)}% / ${use.postgres.rssMB.toFixed(0)} MB |`);
      edge.child.kill('SIGTERM');
      await exited(edge.child);
    }

    // 3. Gallery at 10k identities: load the hub, bootstrap a new edge, then propagation.
    {
      const t0 = performance.now();
      for (let i = 0; i < identities; i++) await store.putIdentity(identity(i));
      const loadS = (performance.now() - t0) / 1000;
      const gdir = join(dir, 'gallery-edge');
      const gallery = openGallery(join(gdir, 'gallery.sqlite'));
      const state = new CursorStore(join(gdir, 'fleet.sqlite'));
      const fleet = parseConfig({ fleet: { nodeId: 'gallery-edge', site: 'bench', nats: natsSection } }).fleet!;
      // Wait for the hub to have published everything, then a new edge joins.
      await until('the fleet bench', async () => (await store.pendingGallery(1)).length === 0, 600_000, 250);
      const published = (performance.now() - t0) / 1000;
      const tb = performance.now();
      const follower = startGalleryFollower({ fleet, gallery, state, logger });
      await follower.synced(600_000);
      const bootS = (performance.now() - tb) / 1000;
      const n = gallery.identityIds().length;
      const lat: number[] = [];
      for (let i = 0; i < samples; i++) {
        const p = identity(identities + i);
        await store.putIdentity(p);
        const committed = performance.now();
        const probe = p.templates[0].embedding;
        await until('the fleet bench', () => gallery.search(probe, { modelId: 'w600k_mbf_dq', k: 1 })[0]?.identityId === p.id, 30_000, 1);
        lat.push(performance.now() - committed);
      }
      await follower.close();
      state.close();
      gallery.close();
      const g = { bench: 'gallery', identities, hubLoadS: loadS, hubPublishedS: published, edgeBootstrapS: bootS, edgeIdentities: n, propagationP50Ms: pct(lat, 50), propagationP99Ms: pct(lat, 99), samples };
      print(JSON.stringify(g));
      rows.push(`| gallery at ${identities} identities | ${samples} enrollments | propagation p50 ${g.propagationP50Ms.toFixed(0)} ms / p99 ${g.propagationP99Ms.toFixed(0)} ms | new edge bootstrap ${bootS.toFixed(1)} s (${n} identities) | hub load ${loadS.toFixed(0)} s (PostgreSQL), published ${published.toFixed(0)} s | | |`);
    }
    print('');
    print('| run | events | rate | hub CPU / RSS | edge CPU / RSS | nats-server | PostgreSQL |');
    print('|---|---:|---|---|---|---|---|');
    for (const r of rows) print(r);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await store.close();
    await nats.stop();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
