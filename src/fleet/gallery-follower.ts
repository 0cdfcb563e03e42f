/**
 * The edge side of gallery replication: watch the hub's KV bucket and apply every change to the
 * local SQLite gallery, several changes per transaction (Gallery.applyReplica), so the box keeps
 * recognising people offline with the last gallery it had.
 *
 * - Bootstrap (no revision stored): every identity in the bucket, then the local identities the
 *   hub does not have are removed (in fleet mode the edge gallery is a replica of the hub's).
 * - Catch-up: from the last applied revision + 1 (the KV bucket keeps the newest entry per
 *   identity, tombstones included), so an edge that was offline gets what changed meanwhile.
 * - The revision is persisted after each applied batch; applying is idempotent, so a crash
 *   between the two re-applies a batch harmlessly.
 * - A bad record (not v1, an embedding that is not float32) is skipped with a warning; the rest
 *   of the batch applies.
 * - An erasure record (`_erasure.<id>`, the hub's erasure of a person) is replayed on this box
 *   (`onErasure`: the box's own erasure under the hub's erasure id) in bucket order, after the
 *   changes before it and before the ones after it; the revision moves past it only once it is
 *   done, so a failed or killed erasure is replayed at the next round (it is idempotent).
 */
import type { KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FleetConfig } from '../config/fleet.ts';
import type { Gallery, ReplicaIdentity } from '../gallery/index.ts';
import { Listeners } from '../lib/listeners.ts';
import type { Logger } from '../log.ts';
import type { CursorStore } from '../outputs/index.ts';
import { FleetError, messageOf } from './errors.ts';
import { decodeEmbedding, GALLERY_ERASURE_PREFIX, GALLERY_MANIFEST_KEY, openGalleryBucket, parseErasure, parseManifest, parseRecord, type ErasureRecord, type GalleryManifest } from './gallery-kv.ts';
import { followWhileConnected } from './follow-loop.ts';
import { startNatsLink, type NatsLink } from './nats.ts';
import { edgeInboxPrefix } from './subjects.ts';

export const GALLERY_STATE = 'fleet-gallery';
const BATCH = 1000;

export interface GalleryFollowerStatus {
  /** The last bucket revision applied to the local gallery. */
  readonly revision: number;
  /** Caught up with the bucket as it was when the watch (re)started. */
  readonly synced: boolean;
  readonly applied: number;
  readonly skipped: number;
  /** Erasure records from the hub replayed on this box since start. */
  readonly erased: number;
  readonly lastError: string | undefined;
  /** How many identities the hub says it has (its manifest in the bucket); undefined: no manifest seen. */
  readonly hubIdentities: number | undefined;
  /**
   * Why this box's gallery may not be the hub's although it is in sync with the bucket (an empty
   * bucket without a hub manifest; fewer identities than the manifest says); undefined when it is.
   */
  readonly warning: string | undefined;
}

export interface GalleryFollower {
  status(): GalleryFollowerStatus;
  /** Called after each applied batch with the identity ids it put and removed. */
  onApplied(listener: (change: { put: readonly string[]; removed: readonly string[]; atMs: number }) => void): () => void;
  /** Resolves once synced (or rejects after timeoutMs). */
  synced(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface GalleryFollowerOptions {
  readonly fleet: FleetConfig;
  readonly gallery: Gallery;
  /** Where the applied revision is kept (the outputs cursor store beside events.db). */
  readonly state: CursorStore;
  readonly logger: Logger;
  readonly link?: NatsLink;
  /**
   * Replay the hub's erasure of a person on this box (idempotent); a rejection stops the round,
   * and the record is replayed at the next one. None: erasure records only move the revision.
   */
  readonly onErasure?: (erasure: ErasureRecord) => Promise<void>;
}

function toReplica(e: KvEntry): ReplicaIdentity {
  const r = parseRecord(e.key, e.value);
  return { id: r.id, name: r.name, groups: r.groups, metadata: r.metadata, templates: r.templates.map((t) => ({ id: t.id, modelId: t.modelId, masked: t.masked, embedding: decodeEmbedding(t.embedding), quality: t.quality })) };
}

export function startGalleryFollower(opts: GalleryFollowerOptions): GalleryFollower {
  const f = opts.fleet;
  const log = opts.logger.child({ fleet: 'gallery' });
  const ownLink = opts.link === undefined;
  const link = opts.link ?? startNatsLink({ config: f.nats, name: `facegate-gallery-${f.nodeId}`, logger: log, inboxPrefix: edgeInboxPrefix(f.nodeId) });
  let revision = Number(opts.state.getState(GALLERY_STATE, 'revision') ?? 0) || 0;
  let synced = false;
  let applied = 0;
  let skipped = 0;
  let erased = 0;
  let lastError: string | undefined;
  let manifest: GalleryManifest | undefined;
  let warning: string | undefined;
  let closed = false;
  let stopWatch: (() => void) | undefined;
  const appliedListeners = new Listeners<[{ put: readonly string[]; removed: readonly string[]; atMs: number }]>((err) => log.error({ err }, 'fleet gallery: an applied listener threw'));
  const syncedListeners = new Listeners();

  /**
   * In sync with the bucket is not in sync with the hub when the bucket lost entries: compare with
   * the hub's manifest (or its absence) and say so once per state, loudly; "in sync" only when
   * nothing is off.
   */
  const checkAgainstHub = (): void => {
    const local = opts.gallery.identityIds().length;
    const now =
      manifest === undefined
        ? local === 0
          ? `the gallery bucket ${f.names.galleryBucket} is empty and carries no hub manifest: this box recognises nobody. Either no hub has published yet, or the bucket was purged (a running hub republishes it from PostgreSQL within its check interval)`
          : undefined
        : local < manifest.identities
          ? `this box has ${local} identities but the hub has ${manifest.identities}: the gallery bucket lost entries (purged?); a running hub republishes them from PostgreSQL`
          : undefined;
    if (now === warning) return;
    if (now !== undefined) log.error({ bucket: f.names.galleryBucket, identities: local, hubIdentities: manifest?.identities }, `fleet gallery: ${now}`);
    else if (warning !== undefined) log.info({ identities: local, hubIdentities: manifest?.identities }, 'fleet gallery: this box has the hub\'s gallery again');
    warning = now;
  };

  const markSynced = (): void => {
    if (synced) return;
    synced = true;
    checkAgainstHub();
    if (warning === undefined) log.info({ revision, identities: opts.gallery.identityIds().length, hubIdentities: manifest?.identities }, 'fleet gallery in sync with the hub');
    syncedListeners.emit();
  };

  /** Apply puts + removes in one transaction; a bad record is isolated and skipped. */
  const apply = (puts: Map<string, KvEntry>, removes: Set<string>, upTo: number): void => {
    if (puts.size === 0 && removes.size === 0) {
      // Only the manifest moved the revision: remember it, there is no change to announce.
      revision = Math.max(revision, upTo);
      opts.state.setState(GALLERY_STATE, 'revision', String(revision));
      return;
    }
    const good: ReplicaIdentity[] = [];
    for (const e of puts.values()) {
      try {
        good.push(toReplica(e));
      } catch (err) {
        skipped++;
        log.warn({ key: e.key, revision: e.revision, detail: messageOf(err) }, 'fleet gallery: a record was skipped');
      }
    }
    const remove = [...removes];
    try {
      opts.gallery.applyReplica({ put: good, remove });
    } catch {
      // One bad identity must not hold the others back: apply them one by one.
      for (const g of good) {
        try {
          opts.gallery.applyReplica({ put: [g], remove: [] });
        } catch (err) {
          skipped++;
          log.warn({ key: g.id, detail: messageOf(err) }, 'fleet gallery: an identity was skipped');
        }
      }
      opts.gallery.applyReplica({ put: [], remove });
    }
    applied += good.length + remove.length;
    revision = Math.max(revision, upTo);
    opts.state.setState(GALLERY_STATE, 'revision', String(revision));
    const change = { put: good.map((g) => g.id), removed: remove, atMs: Date.now() };
    appliedListeners.emit(change);
  };

  const replayErasure = async (e: KvEntry): Promise<void> => {
    let r: ErasureRecord;
    try {
      r = parseErasure(e.key, e.value);
    } catch (err) {
      skipped++;
      log.warn({ key: e.key, revision: e.revision, detail: messageOf(err) }, 'fleet gallery: an erasure record was skipped');
      return;
    }
    if (!opts.onErasure) return;
    try {
      await opts.onErasure(r);
    } catch (err) {
      log.error({ erasureId: r.erasureId, identityId: r.identityId, detail: messageOf(err) }, 'fleet gallery: the hub\'s erasure did not complete on this box; it is replayed at the next round');
      throw err;
    }
    erased++;
    appliedListeners.emit({ put: [], removed: [r.identityId], atMs: Date.now() });
  };

  const follow = async (nc: NatsConnection): Promise<void> => {
    const kv = await openGalleryBucket(nc, f.names.galleryBucket, false);
    const status = await kv.status();
    const target = status.streamInfo.state.last_seq;
    const bootstrap = revision === 0;
    const seen = new Set<string>();
    const iter = await kv.watch(bootstrap ? {} : { resumeFromRevision: revision + 1 });
    stopWatch = () => iter.stop();
    // Closed while the watch was being made: stop it here, or it outlives the close.
    if (closed) return iter.stop();
    lastError = undefined;
    log.info({ bucket: f.names.galleryBucket, from: revision, target, bootstrap }, 'fleet gallery: following the hub');
    const finishBootstrap = (): void => {
      if (!bootstrap) return;
      const gone = opts.gallery.identityIds().filter((id) => !seen.has(id));
      if (gone.length) {
        log.warn({ removed: gone.length }, 'fleet gallery: local identities the hub does not have were removed (the hub is the source of truth)');
        apply(new Map(), new Set(gone), revision);
      }
    };
    if (target <= revision || (bootstrap && status.values === 0)) {
      finishBootstrap();
      if (bootstrap && target > revision) {
        revision = target;
        opts.state.setState(GALLERY_STATE, 'revision', String(revision));
      }
      markSynced();
    }
    let puts = new Map<string, KvEntry>();
    let removes = new Set<string>();
    let upTo = revision;
    for await (const e of iter) {
      if (closed) break;
      const before = upTo;
      upTo = Math.max(upTo, e.revision);
      if (e.key.startsWith(GALLERY_ERASURE_PREFIX)) {
        // In bucket order: what came before it applies first, and the revision passes it only
        // once the box's erasure is done.
        if (puts.size + removes.size > 0) {
          apply(puts, removes, before);
          puts = new Map();
          removes = new Set();
        }
        if (e.operation === 'PUT') await replayErasure(e);
        revision = Math.max(revision, e.revision);
        opts.state.setState(GALLERY_STATE, 'revision', String(revision));
      } else if (e.key === GALLERY_MANIFEST_KEY) {
        // The hub's count, put after the identities it counts: apply those first, then compare.
        manifest = e.operation === 'PUT' ? (parseManifest(e.value) ?? manifest) : undefined;
        if (puts.size + removes.size > 0) {
          apply(puts, removes, upTo);
          puts = new Map();
          removes = new Set();
        }
        if (synced) checkAgainstHub();
      } else {
        if (bootstrap) seen.add(e.key);
        if (e.operation === 'PUT') {
          puts.set(e.key, e);
          removes.delete(e.key);
        } else {
          puts.delete(e.key);
          removes.add(e.key);
        }
      }
      const caughtUp = e.revision >= target;
      const drained = (e.delta ?? 0) === 0;
      if (puts.size + removes.size >= BATCH || (synced ? drained : caughtUp || drained)) {
        apply(puts, removes, upTo);
        puts = new Map();
        removes = new Set();
      }
      if (!synced && caughtUp) {
        finishBootstrap();
        markSynced();
      }
    }
  };

  const offLost = link.onLost(() => stopWatch?.());
  const loop = followWhileConnected(link, 'gallery', follow, (err) => {
    if (lastError !== err.describe()) log.warn({ detail: err.describe() }, 'fleet gallery: not following the hub; retrying (the local gallery stays in use)');
    lastError = err.describe();
  });

  return {
    status: () => ({ revision, synced, applied, skipped, erased, lastError: lastError ?? link.status().lastError, hubIdentities: manifest?.identities, warning }),
    onApplied: (l) => appliedListeners.add(l),
    synced: async (timeoutMs = 30_000) => {
      if (synced) return;
      if ((await syncedListeners.next(timeoutMs)) === undefined) throw new FleetError('FLEET_NATS_UNAVAILABLE', `the gallery did not sync with the hub within ${timeoutMs} ms`, { hint: lastError });
    },
    close: async () => {
      closed = true;
      offLost();
      stopWatch?.();
      await loop.stop();
      if (ownLink) await link.close();
    },
  };
}
