/** Configs and in-process edge boxes for the fleet tests (real servers, real logs). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../src/api/auth.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import type { FleetConfig } from '../../src/config/fleet.ts';
import { EventBus, EventLog } from '../../src/events/index.ts';
import { createFleetForwarder, type FleetForwarder } from '../../src/fleet/forwarder.ts';
import type { Logger } from '../../src/log.ts';
import { CursorStore, runSinks, type SinkRunner } from '../../src/outputs/index.ts';
import { NatsServer } from './nats.ts';
import { Postgres } from './postgres.ts';

export const OPERATOR_TOKEN = 'fleet-test-operator-token';

/** A real nats-server and PostgreSQL for one test, both stopped at its teardown. */
export async function startFleetServers(t: { teardown(fn: () => Promise<void>): void }): Promise<[NatsServer, Postgres]> {
  const [s, p] = await Promise.all([NatsServer.start(), Postgres.start()]);
  t.teardown(async () => {
    await s.stop();
    await p.stop();
  });
  return [s, p];
}

export function natsSection(s: NatsServer): Record<string, unknown> {
  return { servers: [s.url], user: s.user.user, password: s.user.pass, connectTimeoutMs: 1000 };
}

let snapshotDir: string | undefined;
/** One temp snapshot folder per test process for in-process hubs, removed when the process exits. */
function hubSnapshotDir(): string {
  if (!snapshotDir) {
    const dir = mkdtempSync(join(tmpdir(), 'fg-hub-snapshots-'));
    snapshotDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return snapshotDir;
}

export function hubConfig(s: NatsServer, p: Postgres, extra: { duplicateWindowMs?: number; ackWaitMs?: number } = {}): Config {
  return parseConfig({
    server: { bind: '127.0.0.1', port: 0 },
    auth: { tokens: [{ id: 'ops', role: 'admin', sha256: sha256Hex(OPERATOR_TOKEN) }] },
    logging: { level: 'warn' },
    // The hub's snapshot folder (mirrored from the object store): a temp dir per hub.
    events: { snapshots: { dir: hubSnapshotDir() } },
    fleet: {
      nodeId: 'hub',
      site: 'hq',
      role: 'hub',
      nats: natsSection(s),
      ...(extra.duplicateWindowMs ? { stream: { duplicateWindowMs: extra.duplicateWindowMs } } : {}),
      hub: { postgres: { host: '127.0.0.1', port: p.port, database: p.database, user: p.user, password: p.password }, retryMs: 100, ...(extra.ackWaitMs ? { ackWaitMs: extra.ackWaitMs } : {}) },
    },
  });
}

export function edgeFleet(s: NatsServer, node: string, site: string, extra: { duplicateWindowMs?: number } = {}): FleetConfig {
  const c = parseConfig({ fleet: { nodeId: node, site, nats: natsSection(s), forward: { ackTimeoutMs: 2000 }, ...(extra.duplicateWindowMs ? { stream: { duplicateWindowMs: extra.duplicateWindowMs } } : {}) } });
  if (!c.fleet) throw new Error('no fleet');
  return c.fleet;
}

export interface TestEdge {
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly cursors: CursorStore;
  forwarder: FleetForwarder;
  runner: SinkRunner;
  restartForwarder(): Promise<void>;
  close(): Promise<void>;
}

/** An edge's outbox side only: event log + bus + cursor store + the forwarder sink. */
export function testEdge(fleet: FleetConfig, logger: Logger): TestEdge {
  const dir = mkdtempSync(join(tmpdir(), `fg-edge-${fleet.nodeId}-`));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  const backoff = { baseMs: 50, maxMs: 500, factor: 2, jitter: 0 };
  const start = () => {
    const forwarder = createFleetForwarder({ fleet, logger });
    return { forwarder, runner: runSinks([forwarder], { bus, cursors, logger, pageSize: 100, backoff }) };
  };
  const e: TestEdge = {
    log,
    bus,
    cursors,
    ...start(),
    restartForwarder: async () => {
      await e.runner.stop();
      Object.assign(e, start());
    },
    close: async () => {
      await e.runner.stop();
      cursors.close();
      log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return e;
}

export const healthEvent = (n: number) => ({ type: 'system.health' as const, timeMs: Date.now(), data: { status: 'ok' as const, details: { n } } });
