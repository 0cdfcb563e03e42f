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
import { AckPolicy, DeliverPolicy, jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { startApiServer, type ApiServer } from '../api/server.ts';
import { Gauge } from 'prom-client';
import { createMetrics, type Metrics } from '../api/metrics.ts';
import type { IdentityApi } from '../api/types.ts';
import type { Config } from '../config/index.ts';
import type { FleetConfig } from '../config/fleet.ts';
import { backoffDelay, DEFAULT_BACKOFF } from '../lib/backoff.ts';
import type { Logger } from '../log.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import { GALLERY_MANIFEST_KEY, openGalleryBucket, recordOf, type GalleryManifest } from '../fleet/gallery-kv.ts';
import { createHubPassages } from './passages.ts';
import { openPassageBucket } from '../fleet/passages-kv.ts';
import { HubFeed, toHubEvent, type HubEvent } from './feed.ts';
import { HubStore, isContentError, type DeadLetter, type HubEventRow, type InsertedEvent } from './store.ts';
import type { StoredIdentity } from '../fleet/gallery-kv.ts';
import { findBadText } from '../lib/text.ts';
import { startNatsLink, type NatsLink } from '../fleet/nats.ts';
import { mirrorSnapshots } from '../fleet/snapshots.ts';
import { createHubIdentityApi, type HubIdentityApi } from './identities.ts';
import { createUploadEnrollment, type UploadEnrollment } from '../app/identities.ts';
import { createEmbedder, type Embedder } from '../recognize/index.ts';
import { SnapshotStore } from '../events/index.ts';
import { ensureEventsStream, isNotFound, manager } from '../fleet/stream.ts';
import { HEADER_VERSION, NS_PER_MS, parseEventSubject, parseMessageId } from '../fleet/subjects.ts';
import { apiServerOptions } from '../app/api-options.ts';
import { sleep } from '../lib/time.ts';

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

export interface HubDeadLetterSummary {
  readonly subject: string;
  readonly nodeId: string | undefined;
  readonly eventId: number | undefined;
  readonly reason: string;
  readonly atMs: number;
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
  /** Publish what the gallery outbox holds now (resolves when the bucket has it, or NATS is down). */
  flushGallery(): Promise<void>;
  close(): Promise<void>;
}

function fleetOf(config: Config): FleetConfig & { hub: NonNullable<FleetConfig['hub']> } {
  const f = config.fleet;
  if (!f) throw new FleetError('FLEET_CONFIG_INVALID', 'the config has no fleet: section', { hint: 'add fleet: { nodeId, site, nats, hub: { postgres } } (see config/default.yaml)' });
  return { ...f, hub: f.hub ?? { postgres: { host: '127.0.0.1', port: 5432, database: 'facegate', user: 'facegate', poolSize: 4 }, retryMs: 2000 } };
}


/** How often the consume loop checks that its durable consumer still exists (one JetStream API call). */
const CONSUMER_CHECK_MS = 2000;

/** The hub's snapshot folder (mirrored from the object store, served by the API), made if missing. */
function openSnapshotFolder(config: Config): SnapshotStore {
  try {
    return new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * 86_400_000, maxFiles: 1_000_000 });
  } catch (e) {
    throw new FleetError('FLEET_HUB_START', `the hub cannot use its snapshot folder ${config.events.snapshots.dir}: ${messageOf(e)}`, { context: { path: config.events.snapshots.dir }, hint: 'set events.snapshots.dir to a folder the service user can write', cause: e });
  }
}

/** The API could not listen: name the address and the likely cause (another hub on the port). */
function hubStartError(e: unknown, config: Config, portOverride: number | undefined): FleetError {
  if (e instanceof FleetError) return e;
  const code = (e as { code?: string })?.code;
  const where = `${config.server.bind}:${portOverride ?? config.server.port}`;
  if (code === 'EADDRINUSE') return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: port ${portOverride ?? config.server.port} is already in use (another facegate hub or service?)`, { context: { address: where }, hint: 'stop the other process, or give this hub a free port (server.port, or --port)', cause: e });
  if (code === 'EACCES') return new FleetError('FLEET_HUB_START', `the hub's API may not listen on ${where} (permission denied)`, { context: { address: where }, hint: 'use a port above 1023, or give the service the capability to bind low ports', cause: e });
  if (code === 'EADDRNOTAVAIL') return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: no such address on this machine`, { context: { address: where }, hint: 'set server.bind to an address of this machine (e.g. 0.0.0.0 or 127.0.0.1)', cause: e });
  return new FleetError('FLEET_HUB_START', `the hub's API cannot listen on ${where}: ${messageOf(e)}`, { context: { address: where }, hint: 'check server.bind and server.port', cause: e });
}

export async function startHub(config: Config, opts: HubOptions): Promise<Hub> {
  const f = fleetOf(config);
  const log = opts.logger.child({ fleet: 'hub' });
  const metrics = opts.metrics ?? createMetrics();
  const batchSize = opts.batchSize ?? 500;
  const backoff = { ...DEFAULT_BACKOFF, baseMs: f.hub.retryMs };
  const store = new HubStore(f.hub.postgres, log);
  // GET /v1/events reads PostgreSQL (the whole history); replay with `since` comes from the window,
  // and from PostgreSQL first when `since` is older than the window.
  const toFeed = (rows: readonly { hubId: number; nodeId: string; site: string; body: Record<string, unknown> }[]) => rows.map((r) => toHubEvent(r.hubId, r.nodeId, r.site, r.body));
  const feed = new HubFeed(
    opts.windowSize ?? 100_000,
    async (q) => toFeed(await store.queryEvents(q)),
    async (after, limit) => toFeed(await store.eventsAfter(after, limit)),
  );
  // Every committed event (the nodes' batches and the hub's own audit events) into the API feed,
  // in hub id order; those committed before the window is loaded wait for it.
  let windowLoaded = false;
  const early: HubEvent[] = [];
  store.onCommitted((added) => {
    const events = added.map((a) => toHubEvent(a.hubId, a.row.nodeId, a.row.site, a.row.body));
    if (windowLoaded) feed.push(events);
    else early.push(...events);
  });
  let closed = false;
  let pgReady = false;
  let pgError: FleetError | undefined;
  let pgLogged: string | undefined;
  let received = 0;
  let inserted = 0;
  let duplicates = 0;
  let galleryPending = 0;
  let deadLetterCount = 0;
  let lastDeadLetter: HubDeadLetterSummary | undefined;
  let kv: KV | undefined;
  let galleryRepaired = 0;
  // Anti-passback areas: the last passage per area + person, from the grants consumed below.
  const passages = createHubPassages({ fleet: f, logger: log });

  const pgFailed = (e: unknown): void => {
    pgError = e instanceof FleetError ? e : new FleetError('FLEET_POSTGRES_UNAVAILABLE', messageOf(e), { cause: e });
    if (pgLogged !== pgError.message) {
      pgLogged = pgError.message;
      log.warn({ code: pgError.code, detail: pgError.describe() }, 'fleet hub: PostgreSQL not available; retrying');
    }
  };
  const pgOk = (): void => {
    if (pgLogged !== undefined) log.info('fleet hub: PostgreSQL available again');
    pgLogged = undefined;
    pgError = undefined;
  };

  /**
   * The durable consumer, made when missing. A consumer deleted behind the hub's back (an operator,
   * a credential with JetStream API rights) makes fetch quietly return nothing, forever: so the
   * consume loop checks it every CONSUMER_CHECK_MS and after a failed fetch, and one that
   * disappeared after this process saw it is recreated from JetStream's last known ack floor (what
   * follows is replayed; PostgreSQL's primary key drops what was already stored), with an error
   * line and a count in status and metrics.
   */
  let consumerSeen = false;
  let consumerRecreated = 0;
  let consumerLostMs: number | undefined;
  let ackFloor = 0;
  let consumerCheckedMs = 0;
  const ensureConsumer = async (nc: NatsConnection): Promise<'exists' | 'created'> => {
    const jsm = await manager(nc);
    const stream = f.names.eventsStream;
    const name = f.names.hubConsumer;
    try {
      const info = await jsm.consumers.info(stream, name);
      ackFloor = info.ack_floor.stream_seq;
      consumerSeen = true;
      return 'exists';
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    await ensureEventsStream(nc, f);
    // The floor belongs to this stream only while the stream still reaches it (not one recreated).
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const from = consumerSeen && ackFloor > 0 && ackFloor <= last ? ackFloor + 1 : undefined;
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ...(from ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }), ack_wait: 30_000 * NS_PER_MS, max_ack_pending: 20_000 });
    if (consumerSeen) {
      consumerRecreated++;
      consumerLostMs = Date.now();
      log.error({ stream, consumer: name, fromSeq: from ?? 1, recreated: consumerRecreated }, `fleet hub: the durable consumer ${name} of ${stream} disappeared (deleted by someone with JetStream API rights?); recreated, replaying from stream sequence ${from ?? 1} (duplicates are dropped by PostgreSQL). Check who may use $JS.API.CONSUMER.DELETE: edges must not (README "Edge permissions")`);
    } else log.info({ stream, consumer: name }, 'fleet hub: durable consumer created');
    consumerSeen = true;
    return 'created';
  };

  // Nothing below touches the network until the API holds its port: a second hub on a busy port
  // fails here, before it connects to NATS (where it would take batches from the shared consumer
  // and die holding them) or PostgreSQL.
  const snapshotStore = openSnapshotFolder(config);
  // Identities over the API: models loaded at the first enrollment only.
  let models: Promise<{ embedder: Embedder; upload: UploadEnrollment }> | undefined;
  const enrollPhoto = async (photo: Buffer) => {
    models ??= createEmbedder(config.models.embedder).then((embedder) => ({ embedder, upload: createUploadEnrollment({ detectorOptions: {}, embedder }) }));
    return (await models).upload.enroll(photo);
  };
  const hubIdentities: HubIdentityApi | undefined = opts.identities ? undefined : createHubIdentityApi({ store, enroll: enrollPhoto, logger: log, origin: { nodeId: f.nodeId, site: f.site } });
  let nodesCache: Awaited<ReturnType<HubStore['nodes']>> = [];
  let link: NatsLink | undefined;
  let api: ApiServer;
  try {
    api = await startApiServer(
      {
        events: feed,
        tokens: () => config.auth.tokens,
        metrics,
        identities: opts.identities ?? hubIdentities,
        gates: { list: () => [], get: () => undefined, manual: async () => ({ ok: false, error: 'gates are local to each node' }) },
        cameras: () => nodesCache.flatMap((n) => (n.cameras as { id?: string }[]).map((c) => ({ ...c, id: `${n.nodeId}/${c.id ?? ''}`, nodeId: n.nodeId, site: n.site }))),
        snapshotPath: (id, kind) => {
          try {
            return snapshotStore.path(id, kind);
          } catch {
            return undefined;
          }
        },
        // The link starts after the API: not ready until it exists and is connected.
        ready: () => pgReady && link?.status().connected === true,
        logger: log,
      },
      apiServerOptions(config, opts.port),
    );
  } catch (e) {
    await store.close();
    throw hubStartError(e, config, opts.port);
  }
  // From here on every part that starts registers how to stop it: a failure before the hub is
  // returned stops them all (no half-started hub holding NATS or PostgreSQL connections).
  const started: (() => unknown)[] = [() => api.close(), () => store.close()];
  try {
    // PostgreSQL: migrate (retried until it works), then load the API's window.
    const pgStart = (async () => {
      for (let attempt = 0; !closed; attempt++) {
        try {
          await store.migrate();
          deadLetterCount = await store.deadLetterCount();
          const recent = await store.recentEvents(feed.capacity);
          feed.push(recent.map((r) => toHubEvent(r.hubId, r.nodeId, r.site, r.body)));
          windowLoaded = true;
          feed.push(early.splice(0));
          pgReady = true;
          pgOk();
          log.info({ events: feed.size(), lastId: feed.lastId() }, 'fleet hub: PostgreSQL ready');
          return;
        } catch (e) {
          pgFailed(e);
          await sleep(backoffDelay(attempt, backoff, Math.random()), { unref: true });
        }
      }
    })();

    void pgStart.then(() => hubIdentities?.changed(undefined));

    const natsLink = startNatsLink({
      config: f.nats,
      name: `facegate-hub-${f.nodeId}`,
      logger: log,
      onConnect: async (nc: NatsConnection) => {
        await ensureEventsStream(nc, f);
        await ensureConsumer(nc);
        kv = await openGalleryBucket(nc, f.names.galleryBucket, true);
        passages.setBucket(await openPassageBucket(nc, f.names.passagesBucket, { ttlMs: f.passages.ttlHours * 3_600_000 }));
      },
    });
    link = natsLink;
    consumerCheckedMs = 0;
    started.push(() => natsLink.close());

    const toRow = (m: JsMsg): HubEventRow | undefined => {
      // Node and site come from the subject (what NATS permissions govern), never from a header.
      const where = parseEventSubject(m.subject, f.names.subjectPrefix);
      const id = parseMessageId(m.headers?.get('Nats-Msg-Id') ?? '');
      let body: Record<string, unknown>;
      try {
        body = m.json<Record<string, unknown>>();
      } catch {
        return undefined;
      }
      if (!where || typeof body !== 'object' || body === null) return undefined;
      // The hub's own origin (its audit events): no edge may speak for it.
      if (where.node === f.nodeId) return undefined;
      const eventId = Number(body.id);
      if (!Number.isSafeInteger(eventId) || eventId <= 0 || (id && (id.node !== where.node || id.eventId !== eventId))) return undefined;
      const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
      return { nodeId: where.node, site: where.site, eventId, type: String(body.type ?? where.type), timeMs: Number(body.timeMs ?? 0), cameraId: str(body.cameraId), gateId: str(body.gateId), identityId: str(body.identityId), body, version: m.headers?.get(HEADER_VERSION) || undefined };
    };

    /** Why PostgreSQL refused a row, for a person: the field with a NUL / lone surrogate, else its own words. */
    const refusal = (r: HubEventRow, e: FleetError): string => {
      let bad: ReturnType<typeof findBadText>;
      try {
        bad = findBadText(r.body) ?? findBadText({ node: r.nodeId, site: r.site, version: r.version });
      } catch {
        // findBadText recurses: a body nested too deeply for it is described by `e` already.
      }
      if (!bad) return e.message;
      return `${bad.path || 'event'}: ${bad.kind === 'nul' ? 'NUL (U+0000)' : 'lone surrogate'} at index ${bad.index} (PostgreSQL text and jsonb cannot hold it)`;
    };
    const deadLetterOf = (m: JsMsg, row: HubEventRow, reason: string): DeadLetter => {
      const headers: Record<string, string> = {};
      for (const k of m.headers?.keys() ?? []) headers[k] = m.headers?.get(k) ?? '';
      return { subject: m.subject, streamSeq: m.seq, nodeId: row.nodeId, site: row.site, eventId: row.eventId, msgId: m.headers?.get('Nats-Msg-Id') || undefined, headers, reason, raw: m.data };
    };
    /**
     * Store a batch in one transaction. When PostgreSQL refuses it for its content (SQLSTATE class
     * 22 / 54, or a body that cannot be serialised), the rows go one by one: those refused are
     * poison and go to dead_letters with the reason and their raw bytes, the others are stored.
     * Poison is rare, so the fast path stays one transaction per batch, and what is quarantined is
     * exactly what PostgreSQL refused (no guessing ahead of it). A content error never counts as an
     * outage; any other error is thrown (the caller holds the batch and retries; the search is
     * redone then, and a redelivered dead letter is not a second row).
     */
    const storeBatch = async (good: readonly { m: JsMsg; row: HubEventRow }[]): Promise<{ added: InsertedEvent[]; refused: number }> => {
      const poison: { m: JsMsg; row: HubEventRow; reason: string }[] = [];
      let added: InsertedEvent[];
      let refused = 0;
      try {
        added = await store.insertEvents(good.map((g) => g.row));
      } catch (e) {
        if (!isContentError(e)) throw e;
        added = [];
        for (const g of good) {
          try {
            added.push(...(await store.insertEvents([g.row])));
          } catch (e1) {
            if (!isContentError(e1)) throw e1;
            refused++;
            poison.push({ ...g, reason: refusal(g.row, e1) });
          }
        }
      }
      if (poison.length > 0) {
        deadLetterCount += await store.quarantine(poison.map((p) => deadLetterOf(p.m, p.row, p.reason)));
        for (const p of poison) {
          lastDeadLetter = { subject: p.m.subject, nodeId: p.row.nodeId, eventId: p.row.eventId, reason: p.reason, atMs: Date.now() };
          log.error({ subject: p.m.subject, seq: p.m.seq, node: p.row.nodeId, site: p.row.site, eventId: p.row.eventId, reason: p.reason, deadLetters: deadLetterCount }, 'fleet hub: an event PostgreSQL cannot store was quarantined in dead_letters (the other events go on); see the table for the raw message');
        }
      }
      return { added, refused };
    };

    // The consumer: fetch a batch, insert it in one transaction, then ack.
    const consume = (async () => {
      await pgStart;
      let idle = 0;
      let consumer: { nc: NatsConnection; c: Consumer } | undefined;
      while (!closed) {
        const nc = natsLink.current();
        if (!nc) {
          await sleep(100, { unref: true });
          continue;
        }
        // The edges' area state is fresh while this loop turns (not while PostgreSQL holds a batch).
        passages.beat();
        let msgs: JsMsg[] = [];
        try {
          // One consumer handle per connection (getting it is a JetStream API round trip).
          if (Date.now() - consumerCheckedMs >= CONSUMER_CHECK_MS) {
            consumerCheckedMs = Date.now();
            if ((await ensureConsumer(nc)) === 'created') consumer = undefined;
          }
          if (!consumer || consumer.nc !== nc) consumer = { nc, c: await jetstream(nc).consumers.get(f.names.eventsStream, f.names.hubConsumer) };
          const batch = await consumer.c.fetch({ max_messages: batchSize, expires: 1000 });
          for await (const m of batch) msgs.push(m);
        } catch (e) {
          consumer = undefined;
          // A fetch that fails may mean the consumer is gone: look at once on the next turn.
          consumerCheckedMs = 0;
          if (!closed) log.debug({ err: messageOf(e) }, 'fleet hub: fetch failed; retrying');
          await sleep(backoffDelay(idle++, { ...backoff, baseMs: 100, maxMs: 2000 }, Math.random()), { unref: true });
          continue;
        }
        idle = 0;
        if (msgs.length === 0) continue;
        received += msgs.length;
        const good: { m: JsMsg; row: HubEventRow }[] = [];
        const bad: JsMsg[] = [];
        for (const m of msgs) {
          const row = toRow(m);
          if (row) good.push({ m, row });
          else bad.push(m);
        }
        const rows = good.map((g) => g.row);
        for (const m of bad) {
          log.warn({ subject: m.subject, seq: m.seq }, `fleet hub: a message that is not a facegate event${parseEventSubject(m.subject, f.names.subjectPrefix)?.node === f.nodeId ? ` (it claims the hub's own node id '${f.nodeId}')` : ''}; dropped`);
          m.term();
        }
        // Area grants to the passages bucket first: they do not wait for PostgreSQL. The link lost
        // meanwhile: no ack (JetStream redelivers the batch; writing a passage again changes nothing).
        if (!(await passages.apply(rows, () => !closed && natsLink.current() === nc)) && natsLink.current() !== nc) continue;
        // Hold the batch until PostgreSQL takes it; JetStream redelivers after ack_wait if we die.
        for (let attempt = 0; !closed; attempt++) {
          try {
            const { added, refused } = await storeBatch(good);
            pgOk();
            inserted += added.length;
            duplicates += rows.length - refused - added.length;
            break;
          } catch (e) {
            pgFailed(e);
            // Keep the messages ours while we wait (no redelivery storm).
            for (const m of msgs) m.working();
            await sleep(backoffDelay(attempt, backoff, Math.random()), { unref: true });
          }
        }
        if (closed) return;
        for (const m of msgs) if (!bad.includes(m)) m.ack();
        await nc.flush().catch(() => undefined);
      }
    })();

    // Gallery publisher: the outbox rows (PostgreSQL) to the KV bucket, oldest first.
    let flushing: Promise<void> | undefined;
    const putManifest = async (bucket: KV): Promise<void> => {
      const manifest: GalleryManifest = { v: 1, hub: f.nodeId, identities: (await store.identityIds()).length, timeMs: Date.now() };
      await bucket.put(GALLERY_MANIFEST_KEY, JSON.stringify(manifest));
    };
    const flushOnce = async (): Promise<void> => {
      let published = false;
      for (;;) {
        const bucket = kv;
        if (!bucket || !natsLink.current() || !pgReady) return;
        const pending = await store.pendingGallery(200);
        galleryPending = pending.length;
        if (pending.length === 0) {
          if (published) await putManifest(bucket);
          return;
        }
        published = true;
        const puts = [...new Set(pending.filter((p) => p.op === 'put').map((p) => p.identityId))];
        const current = new Map((await store.identities(puts)).map((i) => [i.id, i]));
        for (const p of pending) {
          const now = current.get(p.identityId);
          // The newest state wins: a put of a since-removed identity becomes a delete.
          if (p.op === 'put' && now) await bucket.put(p.identityId, JSON.stringify(recordOf(now)));
          else await bucket.delete(p.identityId);
        }
        await store.galleryPublished(pending[pending.length - 1].seq);
        galleryPending = 0;
      }
    };
    /**
     * The bucket against PostgreSQL (the source of truth): identities missing from it (a purged
     * bucket, a purged key) are put again, keys PostgreSQL does not have are deleted, and the
     * manifest is renewed. A repair is an error line (someone emptied the bucket) and a count.
     */
    const reconcileOnce = async (): Promise<void> => {
      const bucket = kv;
      if (!bucket || !natsLink.current() || !pgReady) return;
      const want = new Set(await store.identityIds());
      const have = new Set<string>();
      for await (const k of await bucket.keys()) if (k !== GALLERY_MANIFEST_KEY) have.add(k);
      const missing = [...want].filter((id) => !have.has(id));
      const extra = [...have].filter((id) => !want.has(id));
      if (missing.length > 0 || extra.length > 0) {
        for (const i of await store.identities(missing)) await bucket.put(i.id, JSON.stringify(recordOf(i)));
        for (const id of extra) await bucket.delete(id);
        galleryRepaired += missing.length + extra.length;
        log.error({ bucket: f.names.galleryBucket, missing: missing.length, extra: extra.length, identities: want.size }, `fleet hub: the gallery bucket lacked ${missing.length} of the ${want.size} identities PostgreSQL has${extra.length ? ` and held ${extra.length} it does not` : ''} (purged or written by someone else?); republished from PostgreSQL`);
      }
      await putManifest(bucket);
    };
    let checkDue = true;
    // Coalesced: a call during a flush makes it go round once more (and waits for that round).
    let again = false;
    const flushGallery = (): Promise<void> => {
      if (flushing) {
        again = true;
        return flushing;
      }
      flushing = (async () => {
        do {
          again = false;
          await flushOnce().catch((e: unknown) => log.warn({ detail: messageOf(e) }, 'fleet hub: gallery not published yet; retrying'));
          if (checkDue && !closed && kv && natsLink.current() && pgReady) {
            checkDue = false;
            await reconcileOnce().catch((e: unknown) => {
              checkDue = true;
              log.warn({ detail: messageOf(e) }, 'fleet hub: gallery bucket not checked yet; retrying');
            });
          }
        } while (again && !closed);
      })().finally(() => (flushing = undefined));
      return flushing;
    };
    natsLink.onReady((nc) => {
      checkDue = true;
      void flushGallery();
      passages.follow(nc);
    });
    // Snapshots: the object store mirrored into the hub's snapshot folder (served by the API).
    const snapshotMirror = mirrorSnapshots({ fleet: f, link: natsLink, store: snapshotStore, logger: log });
    started.push(() => snapshotMirror.close());
    const pruneTimer = setInterval(() => void snapshotStore.prune(Date.now()).catch(() => undefined), 3_600_000);
    started.push(() => clearInterval(pruneTimer));
    pruneTimer.unref();
    // Events another process committed (`enroll --hub`, `hub-identities remove`: their audit events)
    // reach the feed, and so the WebSocket, on the gallery NOTIFY that comes with them. Hub ids are
    // assigned in commit order under the events lock, so reading after the feed's last id misses
    // nothing; an event this process pushes as well is ignored by the feed the second time.
    let feedCatchUp: Promise<void> = Promise.resolve();
    const catchUpFeed = (): void => {
      feedCatchUp = feedCatchUp.then(async () => {
        for (;;) {
          const rows = await store.eventsAfter(feed.lastId(), 1000);
          feed.push(toFeed(rows));
          if (rows.length < 1000) return;
        }
      }).catch((e: unknown) => log.debug({ detail: messageOf(e) }, 'fleet hub: feed catch-up failed (next NOTIFY retries)'));
    };
    const stopListen = store.listenGallery(
      (identityId) => {
        void flushGallery();
        if (pgReady) {
          hubIdentities?.changed(identityId);
          catchUpFeed();
        }
      },
      f.hub.retryMs,
      log,
    );
    started.push(() => stopListen());
    const galleryTimer = setInterval(() => void flushGallery(), 5000);
    started.push(() => clearInterval(galleryTimer));
    const galleryCheckTimer = setInterval(() => {
      checkDue = true;
      void flushGallery();
    }, opts.galleryCheckMs ?? 60_000);
    galleryCheckTimer.unref();
    started.push(() => clearInterval(galleryCheckTimer));
    galleryTimer.unref();
    void pgStart.then(() => flushGallery());

    // The hub's own figures on /metrics, read at scrape time.
    const gauge = (name: string, help: string, value: () => number, labelNames: string[] = []): void => {
      new Gauge({ name: `facegate_fleet_hub_${name}`, help, labelNames, registers: [metrics.registry], collect() { this.set(value()); } });
    };
    gauge('messages_received', 'event messages fetched from JetStream since start', () => received);
    gauge('events_inserted', 'events stored in PostgreSQL since start (new ones)', () => inserted);
    gauge('duplicates', 'messages whose (node, event id) was already stored', () => duplicates);
    gauge('nats_connected', '1 when the hub is connected to NATS and its stream/consumer/bucket are ensured', () => (natsLink.status().connected ? 1 : 0));
    gauge('postgres_ready', '1 when PostgreSQL took the last batch', () => (pgReady && pgError === undefined ? 1 : 0));
    gauge('consumer_recreated', 'times the durable consumer disappeared and was recreated since start (non-zero: someone deleted it)', () => consumerRecreated);
    gauge('dead_letters', 'events quarantined in PostgreSQL dead_letters because their content cannot be stored (non-zero: look at the table)', () => deadLetterCount);
    gauge('passages_written', 'anti-passback passages written to the passages bucket since start', () => passages.written());
    gauge('gallery_repaired', 'gallery bucket entries put back or removed since start to match PostgreSQL (non-zero: the bucket was purged or written by someone else)', () => galleryRepaired);
    gauge('gallery_pending', 'gallery changes not yet published to the KV bucket (last count)', () => galleryPending);
    gauge('api_window_events', 'events the API can replay from memory', () => feed.size());
    new Gauge({
      name: 'facegate_fleet_hub_node_last_seen_seconds',
      help: 'seconds since the hub last received an event of each node',
      labelNames: ['node', 'site'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const n of nodesCache) this.set({ node: n.nodeId, site: n.site }, Math.max(0, (Date.now() - n.lastSeenMs) / 1000));
      },
    });
    // Node list for /v1/cameras, refreshed in the background (the API reads synchronously).
    const nodesTimer = setInterval(() => {
      if (pgReady) store.nodes().then((n) => (nodesCache = n), () => undefined);
    }, 2000);
    started.push(() => clearInterval(nodesTimer));
    nodesTimer.unref();
    log.info({ url: api.url }, 'fleet hub running');

    return {
      api,
      store,
      feed,
      link: natsLink,
      status: () => ({ nats: { connected: natsLink.status().connected, lastError: natsLink.status().lastError }, postgres: { ready: pgReady && pgError === undefined, lastError: pgError?.describe() }, received, inserted, duplicates, galleryPending, galleryRepaired, snapshotsMirrored: snapshotMirror.mirrored(), deadLetters: { count: deadLetterCount, last: lastDeadLetter }, consumer: { name: f.names.hubConsumer, recreated: consumerRecreated, lastRecreatedMs: consumerLostMs } }),
      putIdentity: async (identity) => {
        await store.putIdentity(identity);
        await flushGallery();
      },
      removeIdentity: async (id) => {
        const removed = await store.removeIdentity(id);
        if (removed) await flushGallery();
        return removed;
      },
      flushGallery,
      close: async () => {
        if (closed) return;
        closed = true;
        clearInterval(galleryTimer);
        clearInterval(galleryCheckTimer);
        clearInterval(nodesTimer);
        await stopListen();
        clearInterval(pruneTimer);
        snapshotMirror.close();
        await api.close();
        await Promise.race([consume, sleep(3000, { unref: true })]);
        feed.close();
        await natsLink.close();
        await store.close();
        if (models) {
          const m = await models.catch(() => undefined);
          await m?.upload.close();
          await m?.embedder.close();
        }
      },
    };
  } catch (e) {
    // Stop what started, newest first (the loops see `closed`), then report the failure.
    closed = true;
    for (const stop of started.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    throw e instanceof FleetError ? e : new FleetError('FLEET_HUB_START', `the hub could not start: ${messageOf(e)}`, { hint: 'nothing was left running; fix the cause and start the hub again', cause: e });
  }
}
