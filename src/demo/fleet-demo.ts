/**
 * `facegate demo --fleet`: the fleet on one machine, from real parts. A local nats-server
 * (JetStream, password auth) and PostgreSQL (temp dirs, free ports), the hub, and two edge
 * services (door-1 at site hq, door-2 at site lab) watching the same door camera (the demo clip on
 * a loopback RTSP server). The demo cast is enrolled AT THE HUB while the edges already run with
 * empty galleries; the camera starts once both edges have them. The events are printed as the
 * hub's WebSocket delivers them (with node ids), then a summary:
 *   fleet demo done: nodes 2, events at hub N, duplicates 0, missing 0, gallery propagation p ms
 * With --json the summary is one JSON object { nodes, eventsAtHub, duplicates, missing,
 * galleryPropagationMs, ... } and nothing else goes to stdout.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../api/auth.ts';
import { startService, type Service } from '../app/service.ts';
import { formatEvent } from '../client/format.ts';
import { watchEvents } from '../client/watch.ts';
import { loadConfig, parseConfig, type Config } from '../config/index.ts';
import { DEMO_CAST, DEMO_CLIP, DEMO_CONFIG, DEMO_VIEWER_TOKEN, demoDataDir, prepareDoorClip } from './demo.ts';
import { RtspTestServer } from '../dev/rtsp-server.ts';
import { createDetector } from '../detect/index.ts';
import type { Logger } from '../log.ts';
import { createEmbedder } from '../recognize/index.ts';
import Database from 'better-sqlite3';
import { enrollAtHub } from '../hub/enroll.ts';
import { startHub, type Hub } from '../hub/hub.ts';
import { freePort, NatsServer, Postgres } from '../dev/local-servers.ts';
import { sleep, until } from '../lib/time.ts';

export interface FleetDemoOptions {
  readonly logger: Logger;
  readonly json?: boolean;
  /** Print track events too. */
  readonly all?: boolean;
  /** Hub API port (default any free port). */
  readonly port?: number;
  readonly print?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface FleetDemoSummary {
  readonly nodes: number;
  readonly eventsAtHub: number;
  /** (node, event id) pairs the hub's WebSocket delivered more than once, plus extra rows at the hub. */
  readonly duplicates: number;
  /** Events in the edges' logs that the hub does not hold. */
  readonly missing: number;
  /** Hub enrollment (PostgreSQL commit) to searchable at every edge: the slowest identity. */
  readonly galleryPropagationMs: number;
  readonly galleryPropagationMsEach: readonly number[];
  readonly perNode: Readonly<Record<string, { readonly events: number; readonly atHub: number; readonly granted: number; readonly denied: number }>>;
  readonly hubWebSocketEvents: number;
}

const NODES = [
  { id: 'door-1', site: 'hq' },
  { id: 'door-2', site: 'lab' },
] as const;

/** The demo goes on after a wait that timed out (its summary shows what is missing). */
const waitFor = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> =>
  until(what, cond, timeoutMs, stepMs).then(
    () => true,
    () => false,
  );

export async function runFleetDemo(opts: FleetDemoOptions): Promise<FleetDemoSummary> {
  const out = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const print = (line: string): void => {
    if (!opts.json) out(line);
  };
  const log = opts.logger;
  const data = demoDataDir();
  const dir = mkdtempSync(join(tmpdir(), 'facegate-fleet-demo-'));
  let nats: NatsServer | undefined;
  let pg: Postgres | undefined;
  let hub: Hub | undefined;
  let rtsp: RtspTestServer | undefined;
  const edges: Service[] = [];
  let watcher: { close(): void } | undefined;
  try {
    print('facegate demo --fleet: starting a local nats-server (JetStream) and PostgreSQL in temp dirs...');
    [nats, pg] = await Promise.all([NatsServer.start(), Postgres.start()]);
    print(`NATS: ${nats.url} (JetStream, password auth); PostgreSQL: 127.0.0.1:${pg.port}/${pg.database}`);
    const clip = await prepareDoorClip(join(dir, 'clip'), data);
    const base = loadConfig(DEMO_CONFIG);
    const tokens = [...base.auth.tokens, { id: 'fleet-admin', role: 'admin' as const, sha256: sha256Hex('demo-admin-token') }];
    const natsSection = { servers: [nats.url], user: nats.user.user, password: nats.user.pass };

    const hubConfig: Config = parseConfig({
      server: { bind: '127.0.0.1', port: opts.port ?? 0 },
      auth: { tokens: tokens.map((t) => ({ ...t })) },
      events: { db: join(dir, 'hub', 'unused-events.sqlite'), snapshots: { dir: join(dir, 'hub', 'snapshots') } },
      fleet: { nodeId: 'hub', site: 'hq', role: 'hub', nats: natsSection, hub: { postgres: { host: '127.0.0.1', port: pg.port, database: pg.database, user: pg.user, password: pg.password }, retryMs: 500 } },
    });
    hub = await startHub(hubConfig, { logger: log });
    print(`hub: ${hub.api.url} (WebSocket ${hub.api.url.replace('http', 'ws')}/v1/events, viewer token "${DEMO_VIEWER_TOKEN}")`);

    // The door camera's port is reserved now; the server starts once the galleries are in place.
    const rtspPort = await freePort();
    const rtspUrl = `rtsp://127.0.0.1:${rtspPort}/clip`;
    for (const n of NODES) {
      const stateDir = join(dir, n.id);
      mkdirSync(stateDir, { recursive: true });
      const fleet = parseConfig({ fleet: { nodeId: n.id, site: n.site, nats: natsSection } }).fleet;
      const config: Config = {
        ...base,
        auth: { ...base.auth, tokens },
        cameras: base.cameras.map((c) => ({ ...c, source: { kind: 'rtsp' as const, url: rtspUrl, transport: 'tcp' as const, latencyMs: 0, codec: 'h264' as const } })),
        gallery: { ...base.gallery, db: join(stateDir, 'gallery.sqlite') },
        events: { ...base.events, db: join(stateDir, 'events.sqlite'), snapshots: { ...base.events.snapshots, dir: join(stateDir, 'snapshots') } },
        fleet,
      };
      edges.push(await startService(config, { logger: log, port: 0 }));
      print(`edge ${n.id} (site ${n.site}): ${edges[edges.length - 1].api.url}, empty gallery, gate front-door admits group staff`);
    }

    // The hub's WebSocket, as an operator of the whole fleet sees it.
    const seen = new Map<string, number>();
    let wsEvents = 0;
    watcher = watchEvents({
      url: hub.api.url,
      token: DEMO_VIEWER_TOKEN,
      since: 0,
      onEvent: (e) => {
        wsEvents++;
        const key = `${String(e.nodeId)}:${String(e.nodeEventId)}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (opts.all || !e.type.startsWith('track.')) print(`  [${String(e.nodeId)}] ${formatEvent(e)}`);
      },
    });

    // Enrollment at the hub; propagation = commit at the hub -> applied at the last edge.
    print('enrolling at the hub (PostgreSQL -> JetStream KV -> every edge):');
    const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
    const embedder = await createEmbedder(base.models.embedder);
    const applied = new Map<string, number[]>();
    for (const e of edges) e.fleet?.follower.onApplied((c) => c.put.forEach((id) => applied.set(id, [...(applied.get(id) ?? []), c.atMs])));
    const propagation: number[] = [];
    try {
      for (const p of DEMO_CAST.enrolled) {
        const t0 = Date.now();
        const r = await enrollAtHub(hub.store, { name: p.name, groups: [...p.groups], photos: [join(data, p.photo)] }, { detector, embedder });
        const id = r.identity?.id;
        if (!id) throw new Error(`demo enrollment of ${p.name} at the hub failed: ${r.rejected[0]?.message ?? ''}`);
        const committed = Date.now();
        await waitFor('the fleet demo', () => (applied.get(id)?.length ?? 0) >= edges.length && edges.every((s) => s.gallery.getIdentity(id) !== undefined), 30_000, 5);
        const ms = Math.max(...(applied.get(id) ?? [Infinity])) - committed;
        propagation.push(ms);
        print(`  ${p.name} [${p.groups.join(',')}]: at both edges ${ms} ms after the hub's commit (photo to templates ${committed - t0} ms)`);
      }
    } finally {
      await detector.close();
      await embedder.close();
    }

    // The door camera: the clip once (shared by both edges), then EOS.
    rtsp = await RtspTestServer.start({ port: rtspPort, clip: clip.path, width: DEMO_CLIP.width, height: DEMO_CLIP.height, fps: DEMO_CLIP.fps });
    print(`camera: ${rtspUrl} (${(clip.durationMs / 1000).toFixed(1)} s clip); walking up: ${DEMO_CAST.visitors.map((v) => v.who).join(', ')}`);
    print('events as the hub\'s WebSocket delivers them:');
    const passDone = (s: Service): boolean => {
      const rows = s.log.query({ types: ['camera.up', 'camera.down'], limit: 100 });
      const up = rows.findIndex((e) => e.type === 'camera.up');
      return up >= 0 && rows.slice(up).some((e) => e.type === 'camera.down');
    };
    const aborted = () => opts.signal?.aborted === true;
    await waitFor('the fleet demo', () => aborted() || edges.every(passDone), clip.durationMs + 90_000, 250);
    await sleep(1000);

    // Drain: every edge's forwarder caught up, the hub holds what the edges logged.
    const lastIds = edges.map((s) => s.log.lastId());
    await waitFor('the fleet demo', async () => {
      for (const [i, n] of NODES.entries()) if ((await hub!.store.eventIds(n.id)).filter((x) => x <= lastIds[i]).length < lastIds[i]) return false;
      return true;
    }, 60_000, 250);
    await waitFor('the fleet demo', () => seen.size >= lastIds.reduce((n, x) => n + x, 0), 10_000, 100);

    const perNode: Record<string, { events: number; atHub: number; granted: number; denied: number }> = {};
    let missing = 0;
    let extra = 0;
    for (const [i, n] of NODES.entries()) {
      const db = new Database(edges[i].log.path, { readonly: true });
      const ids = (db.prepare('SELECT id FROM events WHERE id <= ? ORDER BY id').all(lastIds[i]) as { id: number }[]).map((r) => r.id);
      const granted = (db.prepare("SELECT count(*) AS c FROM events WHERE type = 'gate.granted'").get() as { c: number }).c;
      const denied = (db.prepare("SELECT count(*) AS c FROM events WHERE type = 'gate.denied'").get() as { c: number }).c;
      db.close();
      const atHub = (await hub.store.eventIds(n.id)).filter((x) => x <= lastIds[i]);
      const have = new Set(atHub);
      missing += ids.filter((x) => !have.has(x)).length;
      extra += atHub.length - new Set(atHub).size;
      perNode[n.id] = { events: ids.length, atHub: atHub.length, granted, denied };
    }
    const wsDuplicates = [...seen.values()].filter((c) => c > 1).length;
    const eventsAtHub = Object.values(perNode).reduce((n, p) => n + p.atHub, 0);
    const summary: FleetDemoSummary = {
      nodes: NODES.length,
      eventsAtHub,
      duplicates: wsDuplicates + extra,
      missing,
      galleryPropagationMs: Math.max(...propagation),
      galleryPropagationMsEach: propagation,
      perNode,
      hubWebSocketEvents: wsEvents,
    };
    if (opts.json) out(JSON.stringify(summary));
    else
      out(
        `fleet demo done: nodes ${summary.nodes}, events at hub ${eventsAtHub} (${NODES.map((n) => `${n.id}: ${perNode[n.id].atHub}/${perNode[n.id].events}, ${perNode[n.id].granted} granted, ${perNode[n.id].denied} denied`).join('; ')}), duplicates ${summary.duplicates}, missing ${missing}, gallery propagation ${summary.galleryPropagationMs} ms (max of ${propagation.join(', ')})`,
      );
    return summary;
  } finally {
    watcher?.close();
    for (const e of edges) await e.close().catch(() => undefined);
    await rtsp?.stop().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
