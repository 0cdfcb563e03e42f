/**
 * The fleet hub (`facegate hub --config FILE`): one durable JetStream consumer on the events
 * stream into PostgreSQL, node status, the gallery as the fleet's source of truth (PostgreSQL +
 * the KV bucket the edges follow), and the same HTTP API and WebSocket protocol v1 as a box,
 * across all nodes (src/api, fed by HubFeed).
 *
 * Delivery: a batch is inserted in one transaction (duplicates dropped by the primary key
 * (node_id, event_id)) and acknowledged to JetStream only after the commit. A hub killed between
 * the two gets the batch again and drops it. PostgreSQL down: the batch is held and retried with
 * backoff (JetStream keeps the rest); NATS down: the client reconnects; neither stops the API.
 * A message PostgreSQL refuses for its content (a NUL or a lone surrogate that jsonb cannot hold)
 * is poison, not an outage: it is quarantined in the dead_letters table with the reason and its
 * raw bytes, logged as an error, counted in status / metrics, and the rest of the batch goes on.
 */
import type { ApiServer } from '../api/server.ts';
import { createMetrics, type Metrics } from '../api/metrics.ts';
import type { IdentityApi } from '../api/types.ts';
import type { Config } from '../config/index.ts';
import { hubSchema, type HubFleetConfig } from '../config/fleet.ts';
import { DEFAULT_BACKOFF } from '../lib/backoff.ts';
import { Lifetime } from '../lib/lifetime.ts';
import { sleep } from '../lib/time.ts';
import type { Logger } from '../log.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import { openGalleryBucket, type StoredIdentity } from '../fleet/gallery-kv.ts';
import { startNatsLink, type NatsLink } from '../fleet/nats.ts';
import { openPassageBucket } from '../fleet/passages-kv.ts';
import { deleteSnapshotObjects, mirrorSnapshots } from '../fleet/snapshots.ts';
import { ensureEventsStream } from '../fleet/stream.ts';
import { createBatchStore, type HubDeadLetterSummary } from './batches.ts';
import { createHubConsumer } from './consumer.ts';
import { eraseAtHub, resumeHubErasures, type HubErasureDeps, type HubErasureReceipt } from './erasure.ts';
import { toHubEvent, type HubFeed } from './feed.ts';
import { startGalleryPublisher } from './gallery-publisher.ts';
import { startHubApi } from './hub-api.ts';
import { registerHubMetrics } from './hub-metrics.ts';
import { createHubPostgres, hubFeedOf } from './hub-postgres.ts';
import { createHubPassages } from './passages.ts';
import { HubStore } from './store.ts';

export type { HubDeadLetterSummary } from './batches.ts';

export interface HubOptions {
  readonly logger: Logger;
  /** Override server.port (tests: 0). */
  readonly port?: number;
  readonly metrics?: Metrics;
  /** Events kept in memory for the API's replay (default 100 000). */
  readonly windowSize?: number;
  /** Messages per fetch / PostgreSQL transaction (default 500). */
  readonly batchSize?: number;
  /** How often the gallery bucket is checked against PostgreSQL (and repaired); default 60 000 ms, and at every (re)connection. */
  readonly galleryCheckMs?: number;
  /** Identity management over the API; default: the hub's own (src/fleet/hub-identities.ts, models loaded at the first enrollment). */
  readonly identities?: IdentityApi;
}

export interface HubStatus {
  readonly nats: { readonly connected: boolean; readonly lastError: string | undefined };
  readonly postgres: { readonly ready: boolean; readonly lastError: string | undefined };
  readonly received: number;
  readonly inserted: number;
  /** Messages whose (node, event id) was already stored. */
  readonly duplicates: number;
  readonly galleryPending: number;
  /** Gallery bucket entries put back or removed since start because the bucket did not match PostgreSQL (non-zero: it was purged or written by someone else). */
  readonly galleryRepaired: number;
  /** Snapshot files mirrored from the object store since start. */
  readonly snapshotsMirrored: number;
  /**
   * Messages quarantined in PostgreSQL's dead_letters table because their content cannot be stored
   * (the table's count; any at all deserves a look), and the newest this process quarantined.
   */
  readonly deadLetters: { readonly count: number; readonly last: HubDeadLetterSummary | undefined };
  /** The durable consumer: how often it disappeared and was recreated since start (non-zero: someone deleted it). */
  readonly consumer: { readonly name: string; readonly recreated: number; readonly lastRecreatedMs: number | undefined };
}

export interface Hub {
  readonly api: ApiServer;
  readonly store: HubStore;
  readonly feed: HubFeed;
  readonly link: NatsLink;
  status(): HubStatus;
  /** Store an identity (PostgreSQL, the source of truth) and publish it to the edges. */
  putIdentity(identity: StoredIdentity): Promise<void>;
  removeIdentity(id: string): Promise<boolean>;
  /**
   * Erase a person at the hub and, through the gallery bucket, on every edge (docs/privacy.md);
   * undefined when there is no such identity and no erasure of it.
   */
  eraseIdentity(id: string, actor: string): Promise<HubErasureReceipt | undefined>;
  /** Publish what the gallery outbox holds now (resolves when the bucket has it, or NATS is down). */
  flushGallery(): Promise<void>;
  close(): Promise<void>;
}

function fleetOf(config: Config): HubFleetConfig {
  const f = config.fleet;
  if (!f) throw new FleetError('FLEET_CONFIG_INVALID', 'the config has no fleet: section', { hint: 'add fleet: { nodeId, site, nats, hub: { postgres } } (see config/default.yaml)' });
  return { ...f, hub: f.hub ?? hubSchema.parse({}) };
}

/** How often the snapshot folder drops what is past its retention. */
const PRUNE_EVERY_MS = 3_600_000;

/**
 * Start the hub: the API first (a busy port fails before anything touches the network), then
 * PostgreSQL and NATS in the background. Every part registers its teardown on one Lifetime as it
 * starts: close() ends them newest first, and a start that fails half-way ends what had started
 * (no half-started hub holding NATS or PostgreSQL connections).
 */
export async function startHub(config: Config, opts: HubOptions): Promise<Hub> {
  const f = fleetOf(config);
  const log = opts.logger.child({ fleet: 'hub' });
  const lifetime = new Lifetime();
  try {
    return await startParts(config, f, opts, log, lifetime);
  } catch (e) {
    for (const x of await lifetime.close()) log.debug({ part: x.name, err: messageOf(x.error) }, 'fleet hub: stopping a part after a failed start failed');
    throw e instanceof FleetError ? e : new FleetError('FLEET_HUB_START', `the hub could not start: ${messageOf(e)}`, { hint: 'nothing was left running; fix the cause and start the hub again', cause: e });
  }
}

async function startParts(config: Config, f: ReturnType<typeof fleetOf>, opts: HubOptions, log: Logger, lifetime: Lifetime): Promise<Hub> {
  const metrics = opts.metrics ?? createMetrics();
  const backoff = { ...DEFAULT_BACKOFF, baseMs: f.hub.retryMs };
  const isClosed = (): boolean => lifetime.closed;
  const store = new HubStore(f.hub.postgres, log);
  lifetime.add('postgres', () => store.close());
  const feed = hubFeedOf(store, opts.windowSize ?? 100_000);
  lifetime.add('feed', () => feed.close());
  const batches = createBatchStore(store, log);
  const pg = createHubPostgres({ store, feed, log, backoff, isClosed, onDeadLetterCount: (n) => batches.setDeadLetterCount(n) });
  // Anti-passback areas: the last passage per area + person, from the grants the consumer takes.
  const passages = createHubPassages({ fleet: f, logger: log });
  let link: NatsLink | undefined;
  // Bound once the parts it needs exist (the API starts first).
  let erase: ((id: string, actor: string) => Promise<HubErasureReceipt | undefined>) | undefined;
  const { api, snapshots, identities, nodes } = await startHubApi({
    config,
    fleet: f,
    store,
    feed,
    metrics,
    log,
    port: opts.port,
    identities: opts.identities,
    erase: (id, actor) => (erase ? erase(id, actor) : Promise.reject(new FleetError('FLEET_HUB_START', 'the hub is still starting', { hint: 'try again in a moment' }))),
    pgStarted: () => pg.health.started(),
    // The link starts after the API: not ready until it exists and is connected.
    ready: () => pg.health.started() && link?.status().connected === true,
    lifetime,
  });

  const pgStarted = pg.start();
  void pgStarted.then(() => identities?.changed(undefined));
  const consumer = createHubConsumer({ fleet: f, batches, passages, pg: pg.health, log, backoff, batchSize: opts.batchSize ?? 500, isClosed });
  const gallery = startGalleryPublisher({ fleet: f, store, log, linkUp: () => link?.current() !== undefined, pgStarted: () => pg.health.started(), galleryCheckMs: opts.galleryCheckMs ?? 60_000, lifetime });
  const natsLink = startNatsLink({
    config: f.nats,
    name: `facegate-hub-${f.nodeId}`,
    logger: log,
    onConnect: async (nc) => {
      await ensureEventsStream(nc, f);
      await consumer.ensure(nc);
      gallery.setBucket(await openGalleryBucket(nc, f.names.galleryBucket, true));
      passages.setBucket(await openPassageBucket(nc, f.names.passagesBucket, { ttlMs: f.passages.ttlHours * 3_600_000 }));
    },
  });
  link = natsLink;
  lifetime.add('nats', () => natsLink.close());
  const consume = consumer.run(natsLink, pgStarted);
  lifetime.add('consumer', () => Promise.race([consume, sleep(3000, { unref: true })]));
  natsLink.onReady((nc) => {
    gallery.check();
    passages.follow(nc);
  });

  // Snapshots: the object store mirrored into the hub's snapshot folder (served by the API).
  const mirror = mirrorSnapshots({ fleet: f, link: natsLink, store: snapshots, logger: log });
  lifetime.add('snapshot mirror', () => mirror.close());
  const pruneTimer = setInterval(() => void snapshots.prune(Date.now()).catch(() => undefined), PRUNE_EVERY_MS);
  pruneTimer.unref();
  lifetime.add('snapshot prune', () => clearInterval(pruneTimer));

  // A gallery change by any process (its NOTIFY): publish it, tell the API's identity cache, and
  // bring that process's audit events into the feed.
  const stopListen = store.listenGallery(
    (identityId) => {
      void gallery.flush();
      // An erasure finished (here or by the CLI): the API window loses the person too.
      if (identityId?.startsWith('erased:') && pg.health.started()) {
        void store.tombstonedRows(identityId).then(
          (rows) => feed.replace(rows.map((r) => toHubEvent(r.hubId, r.nodeId, r.site, r.body))),
          (e: unknown) => log.warn({ detail: messageOf(e) }, 'fleet hub: the API window was not rewritten after an erasure; a restart reloads it'),
        );
      }
      if (pg.health.started()) {
        identities?.changed(identityId);
        pg.catchUp();
      }
    },
    f.hub.retryMs,
    log,
  );
  lifetime.add('gallery listen', () => stopListen());
  void pgStarted.then(() => gallery.flush());

  // Erasure: one at a time (two requests for the same person must not race two plans).
  const erasureDeps: HubErasureDeps = {
    store,
    snapshots,
    feed,
    publish: () => gallery.flush(),
    deleteObjects: async (names) => {
      if (names.length === 0) return 0;
      const nc = natsLink.current();
      if (!nc) throw new FleetError('FLEET_NATS_UNAVAILABLE', 'not connected to NATS: the snapshots in the object store cannot be deleted yet', { hint: 'the erasure stays pending; run it again (or restart the hub) once NATS is back' });
      return deleteSnapshotObjects(nc, f, names);
    },
    origin: { nodeId: f.nodeId, site: f.site },
    log,
  };
  let erasures: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = erasures.then(fn);
    erasures = run.catch(() => undefined);
    return run;
  };
  erase = (id, actor) => serial(() => eraseAtHub(erasureDeps, id, { actor }));
  // Erasures a kill left pending are completed at each connection (they need PostgreSQL and NATS).
  natsLink.onReady(() => {
    void pgStarted
      .then(() => serial(() => resumeHubErasures(erasureDeps)))
      .then((done) => done.length && log.info({ erasures: done.length }, 'fleet hub: pending erasures completed'))
      .catch((e: unknown) => log.warn({ detail: messageOf(e) }, 'fleet hub: a pending erasure did not complete yet; retried at the next connection or request'));
  });

  registerHubMetrics(metrics.registry, {
    received: () => consumer.stats().received,
    inserted: () => consumer.stats().inserted,
    duplicates: () => consumer.stats().duplicates,
    natsConnected: () => natsLink.status().connected,
    postgresReady: () => pg.health.healthy(),
    consumerRecreated: () => consumer.stats().recreated,
    deadLetters: () => batches.deadLetters().count,
    passagesWritten: () => passages.written(),
    galleryRepaired: () => gallery.repaired(),
    galleryPending: () => gallery.pending(),
    windowEvents: () => feed.size(),
    nodes,
  });
  log.info({ url: api.url }, 'fleet hub running');

  return {
    api,
    store,
    feed,
    link: natsLink,
    status: () => {
      const c = consumer.stats();
      const n = natsLink.status();
      return {
        nats: { connected: n.connected, lastError: n.lastError },
        postgres: { ready: pg.health.healthy(), lastError: pg.health.lastError()?.describe() },
        received: c.received,
        inserted: c.inserted,
        duplicates: c.duplicates,
        galleryPending: gallery.pending(),
        galleryRepaired: gallery.repaired(),
        snapshotsMirrored: mirror.mirrored(),
        deadLetters: batches.deadLetters(),
        consumer: { name: f.names.hubConsumer, recreated: c.recreated, lastRecreatedMs: c.lastRecreatedMs },
      };
    },
    putIdentity: async (identity) => {
      await store.putIdentity(identity);
      await gallery.flush();
    },
    removeIdentity: async (id) => {
      const removed = await store.removeIdentity(id);
      if (removed) await gallery.flush();
      return removed;
    },
    eraseIdentity: (id, actor) => erase?.(id, actor) ?? Promise.resolve(undefined),
    flushGallery: () => gallery.flush(),
    close: async () => {
      for (const x of await lifetime.close()) log.warn({ part: x.name, err: messageOf(x.error) }, 'fleet hub: a part failed to stop');
    },
  };
}
