import type Database from 'better-sqlite3';
import type { DataKeys } from '../privacy/index.ts';
import type { RgbImage } from '../types.ts';
import * as anchors from './anchors.ts';
import { GalleryError } from './errors.ts';
import * as erasure from './erasure.ts';
import * as identities from './identities.ts';
import { loadContext, syncWithFile, type GalleryContext } from './memory.ts';
import * as reembed from './reembed.ts';
import * as replica from './replica.ts';
import { DEFAULT_NEGATIVE_MARGIN } from './negative-anchors.ts';
import { cleanSearchQuery } from './search-index.ts';
import { GalleryStore, openGalleryFile, type GalleryOptions } from './store.ts';
import type { Consent, CropCoverage, EnrollInput, FaceCropInput, GalleryStats, Identity, Match, Metadata, RebuiltCrop, ReembedNeed, ReplaceOutcome, SearchOptions, StoredCrop, Template, TemplateInput, Unknown, UnknownSighting } from './types.ts';
import * as unknowns from './unknowns.ts';

export type { GalleryOptions, WriteOperation } from './store.ts';
export type { ReplicaIdentity } from './replica.ts';
export type { ErasureRow } from './erasure.ts';
export type { NegativeAnchor, NegativeAnchorInput } from './anchors.ts';

/**
 * Identities and their face templates in SQLite, with an in-memory exact cosine index per
 * (model id, masked) for search.
 *
 * The database is the truth; memory follows it. Every change is one transaction and memory is
 * updated only after its COMMIT, so a failure or a kill leaves either both or neither. Another
 * process may change the same file (the CLI while the server runs): SQLite's data_version tells
 * this connection, and the next search or write reloads the index first.
 *
 * The facade over one shared handle (GalleryContext); each concern is its own module: store.ts
 * (file, transactions, change log), memory.ts (catching up with other writers), identities.ts,
 * reembed.ts (crops and rebuilt templates), search-index.ts, unknowns.ts, replica.ts (fleet).
 */
export class Gallery {
  readonly path: string;
  private readonly ctx: GalleryContext;
  private negativeMargin: number;

  constructor(db: Database.Database, path: string, opts: GalleryOptions, keys?: DataKeys) {
    this.path = path;
    this.ctx = loadContext(new GalleryStore(db, path, opts, keys));
    this.negativeMargin = opts.negativeMargin ?? DEFAULT_NEGATIVE_MARGIN;
  }

  /** Change the 'not this person' margin (a config reload). */
  setNegativeMargin(margin: number): void {
    if (!Number.isFinite(margin)) throw new GalleryError('GALLERY_BAD_ARGUMENT', `the negative-anchor margin must be a finite number, got ${margin}`);
    this.negativeMargin = margin;
  }

  /** True when templates, centroids and crops are stored encrypted (privacy.encryption). */
  get encrypted(): boolean {
    return this.ctx.store.encrypted;
  }

  // --- identities (identities.ts) ------------------------------------------------------------

  /** Add a person with their templates, all in one transaction. */
  enroll(input: EnrollInput): Identity {
    return this.enrollMany([input])[0];
  }

  /** Add many people in ONE transaction: all of them or, on any bad input or failure, none. */
  enrollMany(inputs: readonly EnrollInput[]): Identity[] {
    return identities.enrollMany(this.ctx, inputs);
  }

  /** Add templates (and their photos' aligned crops) to an existing identity, in one transaction. */
  addTemplates(identityId: string, templates: readonly TemplateInput[], crops?: readonly FaceCropInput[]): Identity {
    return identities.addTemplates(this.ctx, identityId, templates, crops);
  }

  removeTemplate(templateId: string): void {
    identities.removeTemplate(this.ctx, templateId);
  }

  getIdentity(id: string): Identity | undefined {
    return identities.getIdentity(this.ctx, id);
  }

  requireIdentity(id: string): Identity {
    return identities.requireIdentity(this.ctx, id);
  }

  /** Every identity, by name then id. */
  listIdentities(): Identity[] {
    return identities.listIdentities(this.ctx);
  }

  /** Identities with exactly this (trimmed) name, oldest first. */
  findByName(name: string): Identity[] {
    return identities.findByName(this.ctx, name);
  }

  /** The identity an operator means by an id, an exact name, or a name differing only in ASCII case. */
  resolve(idOrName: string): Identity {
    return identities.resolve(this.ctx, idOrName);
  }

  /** Templates of an identity (without embeddings), oldest first. */
  listTemplates(identityId: string): Template[] {
    return identities.listTemplates(this.ctx, identityId);
  }

  /** The stored (unit-length) embedding of a template. */
  templateEmbedding(templateId: string): Float32Array {
    return identities.templateEmbedding(this.ctx, templateId);
  }

  rename(id: string, newName: string): Identity {
    return identities.rename(this.ctx, id, newName);
  }

  setGroups(id: string, groups: readonly string[]): Identity {
    return identities.setGroups(this.ctx, id, groups);
  }

  setMetadata(id: string, metadata: Metadata): Identity {
    return identities.setMetadata(this.ctx, id, metadata);
  }

  /** Record (or replace, or with null remove) an identity's consent to biometric identification. */
  setConsent(id: string, consent: Consent | null): Identity {
    return identities.setConsent(this.ctx, id, consent);
  }

  /**
   * 'Not this person': embeddings of faces wrongly matched to the identity. From then on a probe
   * matches it only when its best template score leads its best anchor score by the margin
   * (GalleryOptions.negativeMargin). Returns the identity's anchors (without embeddings).
   */
  addNegativeAnchors(identityId: string, inputs: readonly anchors.NegativeAnchorInput[]): anchors.NegativeAnchor[] {
    return anchors.addNegativeAnchors(this.ctx, identityId, inputs);
  }

  listNegativeAnchors(identityId: string): anchors.NegativeAnchor[] {
    return anchors.listNegativeAnchors(this.ctx, identityId);
  }

  /** Delete an identity and (by cascade) all its templates. */
  remove(id: string): void {
    identities.remove(this.ctx, id);
  }

  // --- crops and re-embedding (reembed.ts) ---------------------------------------------------

  /** Stored enrollment crops (without pixels): of one identity, or all of them by identity. */
  listCrops(identityId?: string): StoredCrop[] {
    return reembed.listCrops(this.ctx, identityId);
  }

  /** Crops whose photo has no template of `modelId` yet: what a switch to that model must embed. */
  cropsLackingModel(modelId: string): StoredCrop[] {
    return reembed.cropsLackingModel(this.ctx, modelId);
  }

  /** The pixels of a stored crop (a copy). */
  cropImage(cropId: string): RgbImage {
    return reembed.cropImage(this.ctx, cropId);
  }

  cropCoverage(): CropCoverage {
    return reembed.cropCoverage(this.ctx);
  }

  /** How many enrollment crops are stored, of how many identities. */
  cropCounts(): { crops: number; identities: number } {
    return reembed.cropCounts(this.ctx);
  }

  /** Delete every stored enrollment crop (template-only mode for existing data); templates stay. */
  dropCrops(): { crops: number; identities: number } {
    return reembed.dropCrops(this.ctx);
  }

  /** Identities with no stored crop and no template of `modelId`: only enrolling them again helps. */
  strandedFor(modelId: string): { identityId: string; name: string }[] {
    return reembed.strandedFor(this.ctx, modelId);
  }

  /** Write templates of one model rebuilt from stored crops, in ONE transaction (all or nothing). */
  replaceTemplatesFromCrops(modelId: string, rebuilt: readonly RebuiltCrop[]): ReplaceOutcome {
    return reembed.replaceTemplatesFromCrops(this.ctx, modelId, rebuilt);
  }

  /** After a switch to `modelId`: remove other models' templates where `modelId` has some. */
  dropOtherModels(modelId: string): { identities: number; removed: number; kept: { identityId: string; name: string }[] } {
    return reembed.dropOtherModels(this.ctx, modelId);
  }

  /** Identities with templates of other models but none of `currentModelId`. */
  modelsNeedingReembed(currentModelId: string): ReembedNeed[] {
    return reembed.modelsNeedingReembed(this.ctx, currentModelId);
  }

  // --- search (search-index.ts) --------------------------------------------------------------

  /**
   * The k identities most similar to the probe (cosine; each identity scored by its best
   * template), best first. Only templates of `modelId` are searched: embeddings of different
   * models live in different spaces. `masked: 'plain'` (default) searches plain templates only,
   * 'plain+masked' adds the synthetic-mask templates (for probes the mask classifier calls masked).
   * An identity with 'not this person' anchors is left out when the probe does not lead its
   * anchors by the margin (the next identities move up; k is filled from a deeper search).
   */
  search(probe: Float32Array, opts: SearchOptions): Match[] {
    this.ctx.store.assertOpen();
    const query = cleanSearchQuery(probe, opts);
    syncWithFile(this.ctx);
    const pool = this.ctx.anchors;
    if (pool.identities === 0) return this.ctx.index.search(query);
    const deeper = this.ctx.index.search({ ...query, k: query.k + Math.min(pool.identities, 32) });
    return pool.filter(deeper, query.unit, query.modelId, this.negativeMargin).slice(0, query.k);
  }

  // --- unknowns (unknowns.ts) ----------------------------------------------------------------

  /** Record a sighting of an unrecognised face (joins the nearest unknown or starts a new one). */
  upsertUnknown(embedding: Float32Array, modelId: string, timeMs: number, threshold: number): UnknownSighting {
    return unknowns.upsertUnknown(this.ctx, embedding, modelId, timeMs, threshold);
  }

  listUnknowns(opts: { modelId?: string } = {}): Unknown[] {
    return unknowns.listUnknowns(this.ctx, opts);
  }

  /** The operator names an unknown: it becomes an identity, in one transaction. */
  promoteUnknown(unknownId: string, name: string, opts: { groups?: readonly string[]; metadata?: Metadata; consent?: Consent } = {}): Identity {
    return unknowns.promoteUnknown(this.ctx, unknownId, name, opts);
  }

  removeUnknown(unknownId: string): void {
    unknowns.removeUnknown(this.ctx, unknownId);
  }

  /** The operator says two unknowns are one person: `fromId` joins `intoId`. One transaction. */
  mergeUnknowns(fromId: string, intoId: string): Unknown {
    return unknowns.mergeUnknowns(this.ctx, fromId, intoId);
  }

  /** Forget unknowns last seen before `beforeMs`; returns how many. */
  pruneUnknowns(beforeMs: number): number {
    return unknowns.pruneUnknowns(this.ctx, beforeMs);
  }

  // --- retention and erasure (erasure.ts; orchestrated by src/app/erasure.ts) ---------------

  /** Set (or with null clear) when the retention run erases this identity (ms since the epoch). */
  setValidUntil(id: string, validUntil: number | null): Identity {
    return identities.setValidUntil(this.ctx, id, validUntil);
  }

  /** Identities whose validUntil has passed at `nowMs`. */
  expiredIdentities(nowMs: number): { id: string; validUntil: number }[] {
    return erasure.expiredIdentities(this.ctx, nowMs);
  }

  /** The pending erasure of an identity, or a new journal row for it (with `erasureId`: the hub's, replayed on an edge). */
  beginErasure(identityId: string, o: { actor: string; reason: string; erasureId?: string }): erasure.ErasureRow {
    return erasure.beginErasure(this.ctx, identityId, o);
  }

  saveErasurePlan(erasureId: string, plan: unknown): void {
    erasure.savePlan(this.ctx, erasureId, plan);
  }

  finishErasure(erasureId: string, receipt: unknown): void {
    erasure.finishErasure(this.ctx, erasureId, receipt);
  }

  pendingErasures(): erasure.ErasureRow[] {
    return erasure.pendingErasures(this.ctx);
  }

  /** Every erasure in the journal, oldest first (finished ones without a name). */
  listErasures(): erasure.ErasureRow[] {
    return erasure.listErasures(this.ctx);
  }

  /** Delete an identity's rows (templates, crops, consent); idempotent. */
  eraseIdentityRows(identityId: string): { templates: number; crops: number; identities: number } {
    return erasure.eraseIdentityRows(this.ctx, identityId);
  }

  /** WAL checkpoint(TRUNCATE), and whether secure_delete is on. */
  checkpointTruncate(): { secureDelete: boolean; busy: boolean } {
    return erasure.checkpointTruncate(this.ctx);
  }

  // --- housekeeping --------------------------------------------------------------------------

  stats(): GalleryStats {
    const { store, index } = this.ctx;
    store.assertOpen();
    const c = store.stmt.counts.get() ?? { identities: 0, templates: 0, unknowns: 0 };
    return { identities: c.identities, templates: c.templates, unknowns: c.unknowns, indexes: index.stats(), sync: { fullLoads: store.fullLoads, incrementalSyncs: store.incrementalSyncs } };
  }

  /** Value of a PRAGMA (journal_mode, synchronous, foreign_keys...), for checks and diagnostics. */
  pragma(name: 'journal_mode' | 'synchronous' | 'foreign_keys' | 'user_version' | 'integrity_check'): unknown {
    this.ctx.store.assertOpen();
    return this.ctx.store.db.pragma(name, { simple: true });
  }

  close(): void {
    this.ctx.store.close();
  }

  // --- fleet replication (replica.ts, for src/fleet/gallery-follower.ts) -----------------------

  /** Apply identities replicated from the fleet hub, and remove the ones it removed: ONE transaction. */
  applyReplica(changes: { readonly put: readonly replica.ReplicaIdentity[]; readonly remove: readonly string[] }): { put: number; removed: number } {
    return replica.applyReplica(this.ctx, changes);
  }

  /** Every identity id (for a replica's full bootstrap: the ones the hub no longer has go). */
  identityIds(): string[] {
    return replica.identityIds(this.ctx);
  }
}

/**
 * Open (or create) a gallery file: WAL, synchronous FULL by default, foreign keys on, migrated
 * (see store.ts), then loaded into memory. A file that is not a gallery is refused.
 */
export function openGallery(path: string, opts: GalleryOptions = {}): Gallery {
  return openGalleryFile(path, opts, (db, keys) => new Gallery(db, path, opts, keys));
}

/**
 * The gallery file's connection alone (checked, migrated, its keys unlocked: a wrong key fails
 * here), without loading it into memory: for key rotation (encryption.ts), which works on rows.
 * Closed when `fn` returns or throws.
 */
export function withGalleryDb<T>(path: string, opts: GalleryOptions, fn: (db: Database.Database) => T): T {
  return openGalleryFile(path, { ...opts, create: false }, (db) => {
    try {
      return fn(db);
    } finally {
      db.close();
    }
  });
}
