/**
 * The hub's gallery to the edges: the outbox rows (PostgreSQL, the source of truth) published to
 * the KV bucket oldest first, with the manifest after them; erasure records (`_erasure.<id>`) before
 * any outbox row, so an edge replays an erasure while its replica still holds the person; and a safety net that checks the
 * bucket against PostgreSQL (at every (re)connection and every galleryCheckMs) and repairs it.
 * A failure is a warning and the next round (every 5 s, or a NOTIFY) tries again.
 */
import type { KV } from '@nats-io/kv';
import type { FleetConfig } from '../config/fleet.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { messageOf } from '../fleet/errors.ts';
import { erasureKey, GALLERY_MANIFEST_KEY, recordOf, type ErasureRecord, type GalleryManifest } from '../fleet/gallery-kv.ts';
import type { HubErasureRow, HubStore } from './store.ts';

const erasureRecordOf = (r: HubErasureRow): ErasureRecord => ({ v: 1, erasureId: r.id, identityId: r.identityId, actor: r.actor, reason: r.reason, timeMs: r.startedMs });

/** How often the outbox is looked at without a NOTIFY (one written while the listener was down). */
const FLUSH_EVERY_MS = 5000;

export interface GalleryPublisher {
  /** Use this bucket handle (the hub opens it on each (re)connection). */
  setBucket(kv: KV): void;
  /** Publish what the outbox holds now (resolves when the bucket has it, or it cannot be reached). */
  flush(): Promise<void>;
  /** Check the bucket against PostgreSQL on the next round, and start that round. */
  check(): void;
  /** Outbox rows not yet published (last count). */
  pending(): number;
  /** Bucket entries put back or removed since start because the bucket did not match PostgreSQL. */
  repaired(): number;
}

export function startGalleryPublisher(p: {
  readonly fleet: FleetConfig;
  readonly store: HubStore;
  /** The NATS link is ready (its buckets opened). */
  readonly linkUp: () => boolean;
  readonly log: Logger;
  /** PostgreSQL migrated (before, there is nothing to read). */
  readonly pgStarted: () => boolean;
  readonly galleryCheckMs: number;
  readonly lifetime: Lifetime;
}): GalleryPublisher {
  const { fleet: f, store, log, lifetime } = p;
  let kv: KV | undefined;
  let pending = 0;
  let repaired = 0;
  const usable = (): KV | undefined => (kv && p.linkUp() && p.pgStarted() ? kv : undefined);

  const putManifest = async (bucket: KV): Promise<void> => {
    const manifest: GalleryManifest = { v: 1, hub: f.nodeId, identities: (await store.identityIds()).length, timeMs: Date.now() };
    await bucket.put(GALLERY_MANIFEST_KEY, JSON.stringify(manifest));
  };
  const flushOnce = async (): Promise<void> => {
    let published = false;
    for (;;) {
      const bucket = usable();
      if (!bucket) return;
      // Erasures first: the identity's delete (an outbox row) must reach an edge after them.
      for (const e of await store.unpublishedErasures()) {
        await bucket.put(erasureKey(e.identityId), JSON.stringify(erasureRecordOf(e)));
        await store.erasurePublished(e.id);
      }
      const rows = await store.pendingGallery(200);
      pending = rows.length;
      if (rows.length === 0) {
        if (published) await putManifest(bucket);
        return;
      }
      published = true;
      const puts = [...new Set(rows.filter((r) => r.op === 'put').map((r) => r.identityId))];
      const current = new Map((await store.identities(puts)).map((i) => [i.id, i]));
      for (const r of rows) {
        const now = current.get(r.identityId);
        // The newest state wins: a put of a since-removed identity becomes a delete.
        if (r.op === 'put' && now) await bucket.put(r.identityId, JSON.stringify(recordOf(now)));
        else await bucket.delete(r.identityId);
      }
      await store.galleryPublished(rows[rows.length - 1].seq);
      pending = 0;
    }
  };
  /**
   * The bucket against PostgreSQL (the source of truth): identities missing from it (a purged
   * bucket, a purged key) are put again, keys PostgreSQL does not have are deleted, and the
   * manifest is renewed. A repair is an error line (someone emptied the bucket) and a count.
   */
  const reconcileOnce = async (): Promise<void> => {
    const bucket = usable();
    if (!bucket) return;
    const want = new Set(await store.identityIds());
    const have = new Set<string>();
    const erasureKeys = new Set<string>();
    for await (const k of await bucket.keys()) {
      if (k.startsWith('_')) erasureKeys.add(k);
      else have.add(k);
    }
    // Erasure records lost from the bucket are put back (an edge that was offline still needs them).
    for (const e of await store.allErasures()) {
      if (e.publishedMs !== null && !erasureKeys.has(erasureKey(e.identityId))) {
        await bucket.put(erasureKey(e.identityId), JSON.stringify(erasureRecordOf(e)));
        repaired++;
      }
    }
    const missing = [...want].filter((id) => !have.has(id));
    const extra = [...have].filter((id) => !want.has(id));
    if (missing.length > 0 || extra.length > 0) {
      for (const i of await store.identities(missing)) await bucket.put(i.id, JSON.stringify(recordOf(i)));
      for (const id of extra) await bucket.delete(id);
      repaired += missing.length + extra.length;
      log.error({ bucket: f.names.galleryBucket, missing: missing.length, extra: extra.length, identities: want.size }, `fleet hub: the gallery bucket lacked ${missing.length} of the ${want.size} identities PostgreSQL has${extra.length ? ` and held ${extra.length} it does not` : ''} (purged or written by someone else?); republished from PostgreSQL`);
    }
    await putManifest(bucket);
  };

  let flushing: Promise<void> | undefined;
  let checkDue = true;
  // Coalesced: a call during a flush makes it go round once more (and waits for that round).
  let again = false;
  const flush = (): Promise<void> => {
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      do {
        again = false;
        await flushOnce().catch((e: unknown) => log.warn({ detail: messageOf(e) }, 'fleet hub: gallery not published yet; retrying'));
        if (checkDue && !lifetime.closed && usable()) {
          checkDue = false;
          await reconcileOnce().catch((e: unknown) => {
            checkDue = true;
            log.warn({ detail: messageOf(e) }, 'fleet hub: gallery bucket not checked yet; retrying');
          });
        }
      } while (again && !lifetime.closed);
    })().finally(() => (flushing = undefined));
    return flushing;
  };
  const check = (): void => {
    checkDue = true;
    void flush();
  };

  const flushTimer = setInterval(() => void flush(), FLUSH_EVERY_MS);
  flushTimer.unref();
  lifetime.add('gallery flush timer', () => clearInterval(flushTimer));
  const checkTimer = setInterval(check, p.galleryCheckMs);
  checkTimer.unref();
  lifetime.add('gallery check timer', () => clearInterval(checkTimer));

  return {
    setBucket: (b) => {
      kv = b;
    },
    flush,
    check,
    pending: () => pending,
    repaired: () => repaired,
  };
}
