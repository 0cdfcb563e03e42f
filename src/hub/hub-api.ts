/**
 * The hub's HTTP API and WebSocket (src/api, the same protocol v1 as a box, across all nodes):
 * started first, so a second hub on a busy port fails before it touches NATS or PostgreSQL; the
 * fleet's people through the hub (models loaded at the first enrollment only), the nodes' cameras
 * from node status, and the snapshots mirrored into the hub's own folder.
 */
import { startApiServer, type ApiServer } from '../api/server.ts';
import type { Metrics } from '../api/metrics.ts';
import type { IdentityApi } from '../api/types.ts';
import { apiServerOptions } from '../app/api-options.ts';
import { createUploadEnrollment, type UploadEnrollment } from '../app/identities.ts';
import type { Config } from '../config/index.ts';
import type { FleetConfig } from '../config/fleet.ts';
import { isEventsError, SnapshotStore } from '../events/index.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { createEmbedder, type Embedder } from '../recognize/index.ts';
import type { HubFeed } from './feed.ts';
import { createHubIdentityApi, type HubIdentityApi } from './identities.ts';
import type { HubStore, NodeStatus } from './store.ts';

/** How often node status (the API's cameras, the last-seen metric) is read again from PostgreSQL. */
const NODES_EVERY_MS = 2000;

/** The hub's snapshot folder (mirrored from the object store, served by the API), made if missing. */
export function openSnapshotFolder(config: Config): SnapshotStore {
  try {
    return new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * 86_400_000, maxFiles: 1_000_000 });
  } catch (e) {
    throw new FleetError('FLEET_HUB_START', `the hub cannot use its snapshot folder ${config.events.snapshots.dir}: ${messageOf(e)}`, { context: { path: config.events.snapshots.dir }, hint: 'set events.snapshots.dir to a folder the service user can write', cause: e });
  }
}

/** The API could not listen: name the address and the likely cause (another hub on the port). */
export function hubStartError(e: unknown, config: Config, portOverride: number | undefined): FleetError {
  if (e instanceof FleetError) return e;
  const code = (e as { code?: string })?.code;
  const where = `${config.server.bind}:${portOverride ?? config.server.port}`;
  if (code === 'EADDRINUSE') return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: port ${portOverride ?? config.server.port} is already in use (another facegate hub or service?)`, { context: { address: where }, hint: 'stop the other process, or give this hub a free port (server.port, or --port)', cause: e });
  if (code === 'EACCES') return new FleetError('FLEET_HUB_START', `the hub's API may not listen on ${where} (permission denied)`, { context: { address: where }, hint: 'use a port above 1023, or give the service the capability to bind low ports', cause: e });
  if (code === 'EADDRNOTAVAIL') return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: no such address on this machine`, { context: { address: where }, hint: 'set server.bind to an address of this machine (e.g. 0.0.0.0 or 127.0.0.1)', cause: e });
  return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: ${messageOf(e)}`, { context: { address: where }, hint: 'check server.bind and server.port', cause: e });
}

export interface HubApi {
  readonly api: ApiServer;
  readonly snapshots: SnapshotStore;
  /** The hub's own identity API (undefined when the caller gave one). */
  readonly identities: HubIdentityApi | undefined;
  /** Node status as last read (the API reads it synchronously). */
  nodes(): readonly NodeStatus[];
}

export async function startHubApi(p: {
  readonly config: Config;
  readonly fleet: FleetConfig;
  readonly store: HubStore;
  readonly feed: HubFeed;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly port: number | undefined;
  readonly identities: IdentityApi | undefined;
  /** Erase a person fleet-wide (src/hub/erasure.ts): the hub's identity API offers it to admins. */
  readonly erase?: (id: string, actor: string) => Promise<unknown>;
  /** PostgreSQL migrated (node status can be read). */
  readonly pgStarted: () => boolean;
  /** PostgreSQL up and NATS connected. */
  readonly ready: () => boolean;
  readonly lifetime: Lifetime;
}): Promise<HubApi> {
  const { config, store, log, lifetime } = p;
  const snapshots = openSnapshotFolder(config);
  // Identities over the API: models loaded at the first enrollment only.
  let models: Promise<{ embedder: Embedder; upload: UploadEnrollment }> | undefined;
  lifetime.add('enrollment models', async () => {
    const m = await models?.catch(() => undefined);
    await m?.upload.close();
    await m?.embedder.close();
  });
  const enrollPhoto = async (photo: Buffer) => {
    models ??= createEmbedder(config.models.embedder).then((embedder) => ({ embedder, upload: createUploadEnrollment({ detectorOptions: {}, embedder }) }));
    return (await models).upload.enroll(photo);
  };
  const hubIdentities: HubIdentityApi | undefined = p.identities ? undefined : createHubIdentityApi({ store, enroll: enrollPhoto, logger: log, origin: { nodeId: p.fleet.nodeId, site: p.fleet.site }, ...(p.erase ? { erase: p.erase } : {}) });
  let nodesCache: readonly NodeStatus[] = [];
  let api: ApiServer;
  try {
    api = await startApiServer(
      {
        events: p.feed,
        tokens: () => config.auth.tokens,
        metrics: p.metrics,
        identities: p.identities ?? hubIdentities,
        gates: { list: () => [], get: () => undefined, manual: async () => ({ ok: false, error: 'gates are local to each node' }) },
        cameras: () => nodesCache.flatMap((n) => (n.cameras as { id?: string }[]).map((c) => ({ ...c, id: `${n.nodeId}/${c.id ?? ''}`, nodeId: n.nodeId, site: n.site }))),
        snapshotBytes: (id, kind) => snapshots.read(id, kind).catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e))),
        ready: p.ready,
        logger: log,
      },
      apiServerOptions(config, p.port),
    );
  } catch (e) {
    throw hubStartError(e, config, p.port);
  }
  lifetime.add('api', () => api.close());
  // Node list for /v1/cameras, refreshed in the background (the API reads synchronously).
  const nodesTimer = setInterval(() => {
    if (p.pgStarted()) store.nodes().then((n) => (nodesCache = n), () => undefined);
  }, NODES_EVERY_MS);
  nodesTimer.unref();
  lifetime.add('nodes timer', () => clearInterval(nodesTimer));
  return { api, snapshots, identities: hubIdentities, nodes: () => nodesCache };
}
