import { NegativeAnchorPool, type AnchorEntry } from './negative-anchors.ts';
import { SearchIndex, type IdentityEntry } from './search-index.ts';
import type { AnchorRow, UnknownRow } from './statements.ts';
import { KEEP_CHANGES, parseJson, type GalleryStore } from './store.ts';

/**
 * What one connection holds in memory (the search index, the unknowns' centroids) and how it
 * follows the database: a full load at open, then catching up with commits made by other
 * connections through the change log. The database is the truth; memory is only ever updated
 * from it or after a COMMIT.
 */

export interface UnknownEntry {
  centroid: Float32Array;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

export function unknownEntryOf(store: GalleryStore, u: UnknownRow): UnknownEntry {
  return { centroid: store.centroid(u.id, u.centroid, u.dim).slice(), count: u.count, firstSeen: u.first_seen, lastSeen: u.last_seen };
}

/** The unknowns' centroids, per model id. */
export class UnknownPools {
  private pools = new Map<string, Map<string, UnknownEntry>>();

  reset(): void {
    this.pools = new Map();
  }

  /** The pool of a model, created when it has none yet. */
  pool(modelId: string): Map<string, UnknownEntry> {
    let pool = this.pools.get(modelId);
    if (!pool) {
      pool = new Map();
      this.pools.set(modelId, pool);
    }
    return pool;
  }

  /** The pool of a model if it has one (never creates it). */
  existing(modelId: string): Map<string, UnknownEntry> | undefined {
    return this.pools.get(modelId);
  }

  all(): Iterable<Map<string, UnknownEntry>> {
    return this.pools.values();
  }
}

/** The shared handle the gallery's concerns work on: the file and this connection's memory of it. */
export interface GalleryContext {
  readonly store: GalleryStore;
  readonly index: SearchIndex;
  readonly unknowns: UnknownPools;
  /** 'Not this person' anchors per identity (negative-anchors.ts). */
  readonly anchors: NegativeAnchorPool;
}

export function anchorEntryOf(store: GalleryStore, r: AnchorRow): AnchorEntry {
  return { id: r.id, modelId: r.model_id, embedding: store.anchor(r.id, r.embedding, r.dim).slice() };
}

/** The memory of a freshly opened store, loaded from the file. */
export function loadContext(store: GalleryStore): GalleryContext {
  const ctx: GalleryContext = { store, index: new SearchIndex(store.opts.search), unknowns: new UnknownPools(), anchors: new NegativeAnchorPool() };
  // (Re)build every in-memory structure from one read snapshot.
  store.db.transaction(() => loadAll(ctx)).deferred();
  return ctx;
}

function loadAll(ctx: GalleryContext): void {
  const { store, index } = ctx;
  const t0 = performance.now();
  store.fullLoads++;
  index.reset();
  ctx.unknowns.reset();
  for (const r of store.stmt.allIdentityEntries.iterate()) index.addEntry(r.id, r.name, parseJson<string[]>(r.groups, `groups of ${r.id}`));
  // Size each index once up front: no regrowth copies while loading.
  for (const sp of store.stmt.templateSpaces.iterate()) index.indexFor(sp.model_id, sp.masked === 1, sp.dim, sp.n);
  for (const [id, identityId, modelId, masked, dim, embedding] of store.stmt.allTemplates.iterate()) {
    const entry = index.entry(identityId);
    if (!entry) continue; // impossible with foreign keys on; never index an orphan
    index.indexTemplate(id, entry, modelId, masked === 1, store.template(id, embedding, dim));
  }
  for (const u of store.stmt.allUnknowns.iterate()) ctx.unknowns.pool(u.model_id).set(u.id, unknownEntryOf(store, u));
  ctx.anchors.reset();
  for (const a of store.stmt.allAnchors.iterate()) ctx.anchors.add(a.identity_id, anchorEntryOf(store, a));
  store.dataVersion = store.stmt.dataVersion.get() ?? 0;
  store.changeSeq = store.stmt.newestChange.get() ?? 0;
  store.opts.logger?.info({ path: store.path, identities: index.identityCount, templates: index.templateCount, ms: Math.round(performance.now() - t0) }, 'gallery loaded');
}

/**
 * Catch up with commits made by other connections since we last looked (SQLite's data_version
 * says whether there were any): refresh the identities and unknowns named in the change log, or
 * reload everything when the log no longer reaches back to where we were.
 */
export function syncWithFile(ctx: GalleryContext): void {
  const { store } = ctx;
  const v = store.stmt.dataVersion.get() ?? 0;
  if (v === store.dataVersion) return;
  store.db
    .transaction(() => {
      store.dataVersion = v;
      const oldest = store.stmt.oldestChange.get() ?? null;
      const changes = store.stmt.changesSince.all(store.changeSeq);
      if (changes.length === 0) return;
      if (oldest === null || oldest > store.changeSeq + 1 || changes.length > KEEP_CHANGES / 2) {
        store.opts.logger?.info({ path: store.path }, 'gallery changed by another process: reloading');
        loadAll(ctx);
        store.dataVersion = v;
        return;
      }
      const identities = new Set<string>();
      const unknowns = new Set<string>();
      for (const c of changes) (c.kind === 'identity' ? identities : unknowns).add(c.ref);
      for (const id of identities) refreshIdentity(ctx, id);
      for (const id of unknowns) refreshUnknown(ctx, id);
      store.changeSeq = changes[changes.length - 1].seq;
      store.incrementalSyncs++;
      store.opts.logger?.debug({ path: store.path, identities: identities.size, unknowns: unknowns.size }, 'gallery: applied changes from another process');
    })
    .deferred();
}

/** Make memory match the database for one identity: its entry and all its templates. */
export function refreshIdentity(ctx: GalleryContext, id: string): void {
  const { store, index } = ctx;
  const row = store.stmt.identityEntry.get(id);
  if (!row) {
    index.dropEntry(id);
    ctx.anchors.drop(id);
    return;
  }
  const groups = parseJson<string[]>(row.groups, `groups of ${id}`);
  let entry: IdentityEntry | undefined = index.entry(id);
  if (entry) {
    for (const t of [...entry.templateIds]) index.unindexTemplate(t, entry);
    entry.name = row.name;
    entry.groups = groups;
  } else {
    entry = index.addEntry(id, row.name, groups);
  }
  for (const t of store.stmt.templateRowsOf.iterate(id)) index.indexTemplate(t.id, entry, t.model_id, t.masked === 1, ctx.store.template(t.id, t.embedding, t.dim));
  ctx.anchors.set(id, store.stmt.anchorRowsOf.all(id).map((a) => anchorEntryOf(store, a)));
}

function refreshUnknown(ctx: GalleryContext, id: string): void {
  for (const pool of ctx.unknowns.all()) pool.delete(id);
  const u = ctx.store.stmt.unknown.get(id);
  if (u) ctx.unknowns.pool(u.model_id).set(u.id, unknownEntryOf(ctx.store, u));
}

/** The embedding size the gallery already holds for a model (templates or unknowns), if any. */
export function dimOf(ctx: GalleryContext, modelId: string): number | undefined {
  const dim = ctx.index.dimOf(modelId);
  if (dim !== undefined) return dim;
  const pool = ctx.unknowns.existing(modelId);
  if (pool) for (const u of pool.values()) return u.centroid.length;
  return undefined;
}
