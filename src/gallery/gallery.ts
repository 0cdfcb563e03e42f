import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.ts';
import { stableUnknownId, updateCentroid } from './cluster.ts';
import { EmbeddingIndex, DEFAULT_SEARCH_TUNING, searchIndexes, type SearchTuning } from './embedding-index.ts';
import { cropCoverage, cropFromRow, cropImage, insertCrops, prepareCropStatements, type CropStatements } from './crops.ts';
import { GalleryError } from './errors.ts';
import { assertGalleryFileUsable } from './file-check.ts';
import { assertGalleryOwner, migrate } from './schema.ts';
import type { CropCoverage, EnrollInput, FaceCropInput, GalleryStats, Identity, Match, Metadata, RebuiltCrop, ReembedNeed, ReplaceOutcome, SearchOptions, StoredCrop, Template, TemplateCount, TemplateInput, Unknown, UnknownSighting } from './types.ts';
import type { RgbImage } from '../types.ts';
import { cleanCrops, cleanEmbedding, cleanGroups, cleanK, cleanMetadata, cleanModelId, cleanName, cleanTemplates, cleanThreshold, cleanTime, type CleanTemplate } from './validate.ts';

export type WriteOperation = 'enroll' | 'addTemplates' | 'reembed' | 'dropOtherModels' | 'removeTemplate' | 'rename' | 'setGroups' | 'setMetadata' | 'remove' | 'upsertUnknown' | 'promoteUnknown' | 'removeUnknown' | 'mergeUnknowns' | 'pruneUnknowns';

export interface GalleryOptions {
  /** Create the file (and its folder) when it does not exist (default true). */
  readonly create?: boolean;
  /**
   * SQLite `synchronous` for identity and template changes. 'full' (default): every commit is
   * fsynced, so an enrollment the operator saw succeed survives a power cut. 'normal': commits
   * survive a crash of the process but the last ones may be lost on power loss. Unknown sightings
   * are always written at 'normal' (see upsertUnknown).
   */
  readonly synchronous?: 'full' | 'normal';
  /** Clock for created/updated times (ms since the epoch). */
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Test seam: called inside every write transaction after its rows are written, before COMMIT. */
  readonly beforeCommit?: (operation: WriteOperation) => void;
  /** Search internals, for tests and benchmarks. */
  readonly search?: Partial<SearchTuning> & { readonly useSimd?: boolean };
  /** Old-centroid weight cap when an unknown is seen again (default 50 sightings). */
  readonly unknownCentroidWeight?: number;
}

interface IdentityRow {
  id: string;
  name: string;
  groups: string;
  metadata: string;
  created_at: number;
  updated_at: number;
}

interface TemplateRow {
  id: string;
  identity_id: string;
  model_id: string;
  masked: number;
  dim: number;
  source_photo_sha256: string | null;
  quality: number | null;
  created_at: number;
}

interface UnknownRow {
  id: string;
  model_id: string;
  dim: number;
  centroid: Buffer;
  count: number;
  first_seen: number;
  last_seen: number;
}

/** What search needs of an identity without touching the database. */
interface IdentityEntry {
  readonly ordinal: number;
  readonly id: string;
  name: string;
  groups: readonly string[];
  /** Its indexed templates, so a change made elsewhere can replace exactly these. */
  readonly templateIds: Set<string>;
}

interface UnknownEntry {
  centroid: Float32Array;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** Change-log entries kept for other connections to catch up from. */
const KEEP_CHANGES = 10_000;

const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;
const indexKey = (modelId: string, masked: boolean): string => `${modelId}\u0000${masked ? 'masked' : 'plain'}`;

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function fromBlob(b: Buffer, dim: number, what: string): Float32Array {
  if (b.byteLength !== dim * 4) throw new GalleryError('GALLERY_CORRUPT', `${what}: ${b.byteLength} bytes for ${dim} dimensions`, { hint: 'restore the gallery from a backup' });
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, dim);
  const copy = new Float32Array(dim);
  new Uint8Array(copy.buffer).set(b);
  return copy;
}

/** Templates per (model id, masked), sorted like the database's GROUP BY: model id, plain first. */
function countTemplates(templates: readonly CleanTemplate[]): TemplateCount[] {
  const counts = new Map<string, TemplateCount>();
  for (const t of templates) {
    const key = indexKey(t.modelId, t.masked);
    const c = counts.get(key);
    counts.set(key, { modelId: t.modelId, masked: t.masked, count: (c?.count ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => (a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : Number(a.masked) - Number(b.masked)));
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new GalleryError('GALLERY_CORRUPT', `${what} is not valid JSON`, { cause: e });
  }
}

/**
 * Identities and their face templates in SQLite, with an in-memory exact cosine index per
 * (model id, masked) for search.
 *
 * The database is the truth; memory follows it. Every change is one transaction and memory is
 * updated only after its COMMIT, so a failure or a kill leaves either both or neither. Another
 * process may change the same file (the CLI while the server runs): SQLite's data_version tells
 * this connection, and the next search or write reloads the index first.
 */
export class Gallery {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly opts: GalleryOptions;
  private readonly now: () => number;
  private readonly tuning: SearchTuning;
  private readonly stmt: ReturnType<Gallery['prepare']>;
  private readonly cropStmt: CropStatements;
  private closed = false;
  private dataVersion = 0;
  /** The newest change-log entry this connection's memory reflects. */
  private changeSeq = 0;
  private fullLoads = 0;
  private incrementalSyncs = 0;

  private entries = new Map<string, IdentityEntry>();
  private byOrdinal: (IdentityEntry | undefined)[] = [];
  private indexes = new Map<string, EmbeddingIndex>();
  private indexOfTemplate = new Map<string, EmbeddingIndex>();
  private lastIndex: EmbeddingIndex | undefined;
  private unknowns = new Map<string, Map<string, UnknownEntry>>();

  constructor(db: Database.Database, path: string, opts: GalleryOptions) {
    this.db = db;
    this.path = path;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.tuning = { ...DEFAULT_SEARCH_TUNING, ...opts.search };
    this.stmt = this.prepare();
    this.cropStmt = prepareCropStatements(db);
    this.load();
  }

  private prepare() {
    const db = this.db;
    return {
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
      insertIdentity: db.prepare('INSERT INTO identities (id, name, groups, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      insertTemplate: db.prepare('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, source_photo_sha256, quality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      identity: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at FROM identities WHERE id = ?'),
      identities: db.prepare<[], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at FROM identities ORDER BY name, id'),
      byName: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at FROM identities WHERE name = ? ORDER BY created_at, rowid'),
      byNameNoCase: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at FROM identities WHERE name = ? COLLATE NOCASE ORDER BY created_at, rowid'),
      countsOf: db.prepare<[string], { model_id: string; masked: number; n: number }>('SELECT model_id, masked, count(*) AS n FROM templates WHERE identity_id = ? GROUP BY model_id, masked ORDER BY model_id, masked'),
      allCounts: db.prepare<[], { identity_id: string; model_id: string; masked: number; n: number }>('SELECT identity_id, model_id, masked, count(*) AS n FROM templates GROUP BY identity_id, model_id, masked ORDER BY model_id, masked'),
      templatesOf: db.prepare<[string], TemplateRow>('SELECT id, identity_id, model_id, masked, dim, source_photo_sha256, quality, created_at FROM templates WHERE identity_id = ? ORDER BY created_at, rowid'),
      template: db.prepare<[string], TemplateRow & { embedding: Buffer }>('SELECT id, identity_id, model_id, masked, dim, embedding, source_photo_sha256, quality, created_at FROM templates WHERE id = ?'),
      templateIdsOf: db.prepare<[string], string>('SELECT id FROM templates WHERE identity_id = ?').pluck(),
      allTemplates: db.prepare<[], [id: string, identityId: string, modelId: string, masked: number, dim: number, embedding: Buffer]>('SELECT id, identity_id, model_id, masked, dim, embedding FROM templates ORDER BY rowid').raw(),
      templateSpaces: db.prepare<[], { model_id: string; masked: number; dim: number; n: number }>('SELECT model_id, masked, max(dim) AS dim, count(*) AS n FROM templates GROUP BY model_id, masked'),
      allIdentityEntries: db.prepare<[], { id: string; name: string; groups: string }>('SELECT id, name, groups FROM identities ORDER BY rowid'),
      rename: db.prepare('UPDATE identities SET name = ?, updated_at = ? WHERE id = ?'),
      setGroups: db.prepare('UPDATE identities SET groups = ?, updated_at = ? WHERE id = ?'),
      setMetadata: db.prepare('UPDATE identities SET metadata = ?, updated_at = ? WHERE id = ?'),
      touch: db.prepare('UPDATE identities SET updated_at = ? WHERE id = ?'),
      removeIdentity: db.prepare('DELETE FROM identities WHERE id = ?'),
      removeTemplate: db.prepare('DELETE FROM templates WHERE id = ?'),
      reembed: db.prepare<[string], { id: string; name: string; models: string }>(
        `SELECT i.id AS id, i.name AS name, json_group_array(DISTINCT t.model_id) AS models
           FROM identities i JOIN templates t ON t.identity_id = i.id
          GROUP BY i.id HAVING sum(t.model_id = ?) = 0 ORDER BY i.name, i.id`,
      ),
      newestChange: db.prepare<[], number | null>('SELECT max(seq) FROM changes').pluck(),
      oldestChange: db.prepare<[], number | null>('SELECT min(seq) FROM changes').pluck(),
      changesSince: db.prepare<[number], { seq: number; kind: 'identity' | 'unknown'; ref: string }>('SELECT seq, kind, ref FROM changes WHERE seq > ? ORDER BY seq'),
      insertChange: db.prepare<[string, string]>('INSERT INTO changes (kind, ref) VALUES (?, ?)'),
      trimChanges: db.prepare<[number]>('DELETE FROM changes WHERE seq <= ?'),
      identityEntry: db.prepare<[string], { id: string; name: string; groups: string }>('SELECT id, name, groups FROM identities WHERE id = ?'),
      templateRowsOf: db.prepare<[string], { id: string; model_id: string; masked: number; dim: number; embedding: Buffer }>('SELECT id, model_id, masked, dim, embedding FROM templates WHERE identity_id = ? ORDER BY rowid'),
      unknownSeq: db.prepare<[], number>("SELECT seq FROM sqlite_sequence WHERE name = 'unknowns'").pluck(),
      insertUnknown: db.prepare('INSERT INTO unknowns (id, model_id, dim, centroid, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      updateUnknown: db.prepare('UPDATE unknowns SET centroid = ?, count = ?, first_seen = ?, last_seen = ? WHERE id = ?'),
      unknown: db.prepare<[string], UnknownRow>('SELECT id, model_id, dim, centroid, count, first_seen, last_seen FROM unknowns WHERE id = ?'),
      allUnknowns: db.prepare<[], UnknownRow>('SELECT id, model_id, dim, centroid, count, first_seen, last_seen FROM unknowns ORDER BY seq'),
      removeUnknown: db.prepare('DELETE FROM unknowns WHERE id = ?'),
      staleUnknowns: db.prepare<[number], string>('SELECT id FROM unknowns WHERE last_seen < ?').pluck(),
      counts: db.prepare<[], { identities: number; templates: number; unknowns: number }>(
        'SELECT (SELECT count(*) FROM identities) AS identities, (SELECT count(*) FROM templates) AS templates, (SELECT count(*) FROM unknowns) AS unknowns',
      ),
    };
  }

  // --- memory <-> database -------------------------------------------------------------------

  /** (Re)build every in-memory structure from the database, from one read snapshot. */
  private load(): void {
    this.db.transaction(() => this.loadAll()).deferred();
  }

  private loadAll(): void {
    const t0 = performance.now();
    this.fullLoads++;
    this.entries = new Map();
    this.byOrdinal = [];
    this.indexes = new Map();
    this.indexOfTemplate = new Map();
    this.lastIndex = undefined;
    this.unknowns = new Map();
    for (const r of this.stmt.allIdentityEntries.iterate()) this.addEntry(r.id, r.name, parseJson<string[]>(r.groups, `groups of ${r.id}`));
    // Size each index once up front: no regrowth copies while loading.
    for (const sp of this.stmt.templateSpaces.iterate()) this.indexFor(sp.model_id, sp.masked === 1, sp.dim, sp.n);
    for (const [id, identityId, modelId, masked, dim, embedding] of this.stmt.allTemplates.iterate()) {
      const entry = this.entries.get(identityId);
      if (!entry) continue; // impossible with foreign keys on; never index an orphan
      this.indexTemplate(id, entry, modelId, masked === 1, fromBlob(embedding, dim, `template ${id}`));
    }
    for (const u of this.stmt.allUnknowns.iterate()) {
      this.unknownPool(u.model_id).set(u.id, { centroid: fromBlob(u.centroid, u.dim, `unknown ${u.id}`).slice(), count: u.count, firstSeen: u.first_seen, lastSeen: u.last_seen });
    }
    this.dataVersion = this.stmt.dataVersion.get() ?? 0;
    this.changeSeq = this.stmt.newestChange.get() ?? 0;
    this.opts.logger?.info({ path: this.path, identities: this.entries.size, templates: this.indexOfTemplate.size, ms: Math.round(performance.now() - t0) }, 'gallery loaded');
  }

  /**
   * Catch up with commits made by other connections since we last looked (SQLite's data_version
   * says whether there were any): refresh the identities and unknowns named in the change log, or
   * reload everything when the log no longer reaches back to where we were.
   */
  private syncWithFile(): void {
    const v = this.stmt.dataVersion.get() ?? 0;
    if (v === this.dataVersion) return;
    this.db
      .transaction(() => {
        this.dataVersion = v;
        const oldest = this.stmt.oldestChange.get() ?? null;
        const changes = this.stmt.changesSince.all(this.changeSeq);
        if (changes.length === 0) return;
        if (oldest === null || oldest > this.changeSeq + 1 || changes.length > KEEP_CHANGES / 2) {
          this.opts.logger?.info({ path: this.path }, 'gallery changed by another process: reloading');
          this.loadAll();
          this.dataVersion = v;
          return;
        }
        const identities = new Set<string>();
        const unknowns = new Set<string>();
        for (const c of changes) (c.kind === 'identity' ? identities : unknowns).add(c.ref);
        for (const id of identities) this.refreshIdentity(id);
        for (const id of unknowns) this.refreshUnknown(id);
        this.changeSeq = changes[changes.length - 1].seq;
        this.incrementalSyncs++;
        this.opts.logger?.debug({ path: this.path, identities: identities.size, unknowns: unknowns.size }, 'gallery: applied changes from another process');
      })
      .deferred();
  }

  /** Make memory match the database for one identity: its entry and all its templates. */
  private refreshIdentity(id: string): void {
    const row = this.stmt.identityEntry.get(id);
    if (!row) {
      this.dropEntry(id);
      return;
    }
    const groups = parseJson<string[]>(row.groups, `groups of ${id}`);
    let entry = this.entries.get(id);
    if (entry) {
      for (const t of [...entry.templateIds]) this.unindexTemplate(t, entry);
      entry.name = row.name;
      entry.groups = groups;
    } else {
      entry = this.addEntry(id, row.name, groups);
    }
    for (const t of this.stmt.templateRowsOf.iterate(id)) this.indexTemplate(t.id, entry, t.model_id, t.masked === 1, fromBlob(t.embedding, t.dim, `template ${t.id}`));
  }

  private refreshUnknown(id: string): void {
    for (const pool of this.unknowns.values()) pool.delete(id);
    const u = this.stmt.unknown.get(id);
    if (u) this.unknownPool(u.model_id).set(u.id, { centroid: fromBlob(u.centroid, u.dim, `unknown ${u.id}`).slice(), count: u.count, firstSeen: u.first_seen, lastSeen: u.last_seen });
  }

  /** Log that a write touched an identity or unknown (inside the write's transaction). */
  private changed(kind: 'identity' | 'unknown', ref: string): void {
    const seq = Number(this.stmt.insertChange.run(kind, ref).lastInsertRowid);
    if (seq % 1000 === 0) this.stmt.trimChanges.run(seq - KEEP_CHANGES);
  }

  private addEntry(id: string, name: string, groups: readonly string[]): IdentityEntry {
    const entry: IdentityEntry = { ordinal: this.byOrdinal.length, id, name, groups, templateIds: new Set() };
    this.entries.set(id, entry);
    this.byOrdinal.push(entry);
    return entry;
  }

  private dropEntry(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    for (const t of entry.templateIds) this.unindexTemplate(t, entry);
    this.entries.delete(id);
    this.byOrdinal[entry.ordinal] = undefined;
  }

  private indexTemplate(templateId: string, entry: IdentityEntry, modelId: string, masked: boolean, embedding: Float32Array): void {
    // Templates arrive in runs of one model and kind (a load, a batch): skip the key lookup then.
    let index = this.lastIndex;
    if (!index || index.modelId !== modelId || index.masked !== masked) {
      index = this.indexFor(modelId, masked, embedding.length, 0);
      this.lastIndex = index;
    }
    index.add(templateId, entry.ordinal, embedding);
    this.indexOfTemplate.set(templateId, index);
    entry.templateIds.add(templateId);
  }

  private unindexTemplate(templateId: string, entry: IdentityEntry | undefined): void {
    this.indexOfTemplate.get(templateId)?.remove(templateId);
    this.indexOfTemplate.delete(templateId);
    entry?.templateIds.delete(templateId);
  }

  private indexFor(modelId: string, masked: boolean, dim: number, capacity: number): EmbeddingIndex {
    const key = indexKey(modelId, masked);
    let index = this.indexes.get(key);
    if (!index) {
      index = new EmbeddingIndex(modelId, masked, dim, { useSimd: this.opts.search?.useSimd, initialCapacity: capacity });
      this.indexes.set(key, index);
    }
    return index;
  }

  private unknownPool(modelId: string): Map<string, UnknownEntry> {
    let pool = this.unknowns.get(modelId);
    if (!pool) {
      pool = new Map();
      this.unknowns.set(modelId, pool);
    }
    return pool;
  }

  /** The embedding size the gallery already holds for a model, if any. */
  private dimOf(modelId: string): number | undefined {
    for (const masked of [false, true]) {
      const ix = this.indexes.get(indexKey(modelId, masked));
      if (ix && ix.size > 0) return ix.dim;
    }
    const pool = this.unknowns.get(modelId);
    if (pool) for (const u of pool.values()) return u.centroid.length;
    return undefined;
  }

  private assertOpen(): void {
    if (this.closed) throw new GalleryError('GALLERY_CLOSED', `gallery ${this.path} is closed`, { hint: 'open it again with openGallery()' });
  }

  /**
   * Run `fn` in one IMMEDIATE transaction (the write lock up front: no upgrade deadlocks). When
   * nobody else wrote since our last sync, our own change-log entries count as seen.
   */
  private write<T>(op: WriteOperation, fn: () => T): T {
    let seenUpTo: number | undefined;
    const result = this.db
      .transaction(() => {
        const inSync = (this.stmt.newestChange.get() ?? 0) === this.changeSeq;
        const r = fn();
        this.opts.beforeCommit?.(op);
        if (inSync) seenUpTo = this.stmt.newestChange.get() ?? 0;
        return r;
      })
      .immediate();
    if (seenUpTo !== undefined) this.changeSeq = seenUpTo;
    return result;
  }

  private insertTemplates(identityId: string, templates: readonly CleanTemplate[], createdAt: number): string[] {
    return templates.map((t) => {
      const id = newId('tpl');
      this.stmt.insertTemplate.run(id, identityId, t.modelId, t.masked ? 1 : 0, t.embedding.length, toBlob(t.embedding), t.sourcePhotoSha256, t.quality, createdAt);
      return id;
    });
  }

  private identityFromRow(row: IdentityRow, counts: readonly TemplateCount[]): Identity {
    return {
      id: row.id,
      name: row.name,
      groups: parseJson<string[]>(row.groups, `groups of ${row.id}`),
      metadata: parseJson<Metadata>(row.metadata, `metadata of ${row.id}`),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      templateCounts: counts,
      templateTotal: counts.reduce((n, c) => n + c.count, 0),
    };
  }

  private notFound(id: string): GalleryError {
    return new GalleryError('GALLERY_NOT_FOUND', `no identity with id "${id}"`, { context: { id }, hint: 'list identities with `facegate identities list`' });
  }

  private identityId(id: unknown): string {
    if (typeof id !== 'string' || id.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', `identity id must be a non-empty string, got ${JSON.stringify(id)}`);
    return id;
  }

  // --- identities ----------------------------------------------------------------------------

  /** Add a person with their templates, all in one transaction. */
  enroll(input: EnrollInput): Identity {
    return this.enrollMany([input])[0];
  }

  /**
   * Add many people in ONE transaction (imports, re-enrollment after a model change): all of
   * them or, on any bad input or failure, none. One fsync for the batch instead of one each.
   */
  enrollMany(inputs: readonly EnrollInput[]): Identity[] {
    this.assertOpen();
    if (!Array.isArray(inputs)) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'enrollMany needs an array of { name, templates, groups?, metadata? }');
    this.syncWithFile();
    const batchDims = new Map<string, number>();
    const knownDim = (modelId: string): number | undefined => batchDims.get(modelId) ?? this.dimOf(modelId);
    const now = this.now();
    const prepared = inputs.map((input, i) => {
      try {
        if (typeof input !== 'object' || input === null) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'enroll needs { name, templates, groups?, metadata? }');
        const name = cleanName(input.name);
        const groups = cleanGroups(input.groups);
        const metadata = cleanMetadata(input.metadata);
        const templates = cleanTemplates(input.templates, knownDim);
        const crops = cleanCrops(input.crops, templates);
        for (const t of templates) batchDims.set(t.modelId, t.embedding.length);
        return { id: newId('id'), name, groups, metadata, templates, crops, templateIds: [] as string[] };
      } catch (e) {
        // Say which one of a batch was bad; a single enroll keeps the plain message.
        if (inputs.length === 1 || !(e instanceof GalleryError)) throw e;
        throw new GalleryError(e.code, `enrollment ${i}: ${e.message}`, { context: { ...e.context, index: i }, hint: e.hint, cause: e });
      }
    });
    this.write('enroll', () => {
      for (const p of prepared) {
        this.stmt.insertIdentity.run(p.id, p.name, JSON.stringify(p.groups), JSON.stringify(p.metadata), now, now);
        p.templateIds = this.insertTemplates(p.id, p.templates, now);
        insertCrops(this.cropStmt, p.id, p.crops, now, () => newId('crop'));
        this.changed('identity', p.id);
      }
    });
    return prepared.map((p) => {
      const entry = this.addEntry(p.id, p.name, p.groups);
      p.templates.forEach((t, i) => this.indexTemplate(p.templateIds[i], entry, t.modelId, t.masked, t.embedding));
      return { id: p.id, name: p.name, groups: p.groups, metadata: p.metadata, createdAt: now, updatedAt: now, templateCounts: countTemplates(p.templates), templateTotal: p.templates.length };
    });
  }

  /**
   * Add templates (a new photo, a new model) to an existing identity, in one transaction, with
   * the photos' aligned crops when given (kept for re-embedding).
   */
  addTemplates(identityId: string, templates: readonly TemplateInput[], crops?: readonly FaceCropInput[]): Identity {
    this.assertOpen();
    const id = this.identityId(identityId);
    this.syncWithFile();
    const entry = this.entries.get(id);
    if (!entry) throw this.notFound(id);
    const cleaned = cleanTemplates(templates, (m) => this.dimOf(m));
    const cleanedCrops = cleanCrops(crops, cleaned);
    const now = this.now();
    const templateIds = this.write('addTemplates', () => {
      const ids = this.insertTemplates(id, cleaned, now);
      insertCrops(this.cropStmt, id, cleanedCrops, now, () => newId('crop'));
      this.stmt.touch.run(now, id);
      this.changed('identity', id);
      return ids;
    });
    cleaned.forEach((t, i) => this.indexTemplate(templateIds[i], entry, t.modelId, t.masked, t.embedding));
    return this.requireIdentity(id);
  }

  removeTemplate(templateId: string): void {
    this.assertOpen();
    this.syncWithFile();
    const row = typeof templateId === 'string' ? this.stmt.template.get(templateId) : undefined;
    if (!row) throw new GalleryError('GALLERY_TEMPLATE_NOT_FOUND', `no template with id ${JSON.stringify(templateId)}`, { hint: 'see the template ids with `facegate identities show ID`' });
    this.write('removeTemplate', () => {
      this.stmt.removeTemplate.run(templateId);
      this.stmt.touch.run(this.now(), row.identity_id);
      this.changed('identity', row.identity_id);
    });
    this.unindexTemplate(templateId, this.entries.get(row.identity_id));
  }

  getIdentity(id: string): Identity | undefined {
    this.assertOpen();
    const row = typeof id === 'string' ? this.stmt.identity.get(id) : undefined;
    if (!row) return undefined;
    const counts = this.stmt.countsOf.all(id).map((c) => ({ modelId: c.model_id, masked: c.masked === 1, count: c.n }));
    return this.identityFromRow(row, counts);
  }

  requireIdentity(id: string): Identity {
    const identity = this.getIdentity(this.identityId(id));
    if (!identity) throw this.notFound(id);
    return identity;
  }

  /** Every identity, by name then id. */
  listIdentities(): Identity[] {
    this.assertOpen();
    const counts = new Map<string, TemplateCount[]>();
    for (const c of this.stmt.allCounts.iterate()) {
      let list = counts.get(c.identity_id);
      if (!list) counts.set(c.identity_id, (list = []));
      list.push({ modelId: c.model_id, masked: c.masked === 1, count: c.n });
    }
    return this.stmt.identities.all().map((r) => this.identityFromRow(r, counts.get(r.id) ?? []));
  }

  /** Identities with exactly this (trimmed) name, oldest first. */
  findByName(name: string): Identity[] {
    this.assertOpen();
    if (typeof name !== 'string') return [];
    return this.stmt.byName.all(name.trim()).map((r) => this.requireIdentity(r.id));
  }

  /**
   * The identity an operator means by an id or a name: an id, else an exact name, else a name
   * that differs only in ASCII case. Throws when none matches or a name is ambiguous.
   */
  resolve(idOrName: string): Identity {
    this.assertOpen();
    if (typeof idOrName !== 'string' || idOrName.trim().length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'give an identity id or name');
    const byId = this.getIdentity(idOrName.trim());
    if (byId) return byId;
    let rows = this.stmt.byName.all(idOrName.trim());
    if (rows.length === 0) rows = this.stmt.byNameNoCase.all(idOrName.trim());
    if (rows.length === 1) return this.requireIdentity(rows[0].id);
    if (rows.length === 0) {
      throw new GalleryError('GALLERY_NOT_FOUND', `no identity with id or name "${idOrName.trim()}"`, { context: { query: idOrName }, hint: 'list identities with `facegate identities list`' });
    }
    throw new GalleryError('GALLERY_AMBIGUOUS_NAME', `${rows.length} identities are named "${rows[0].name}": ${rows.map((r) => r.id).join(', ')}`, {
      context: { name: rows[0].name, ids: rows.map((r) => r.id).join(',') },
      hint: `name one by its id, e.g. ${rows[0].id}`,
    });
  }

  /** Templates of an identity (without embeddings), oldest first. */
  listTemplates(identityId: string): Template[] {
    const identity = this.requireIdentity(identityId);
    return this.stmt.templatesOf.all(identity.id).map((t) => ({
      id: t.id,
      identityId: t.identity_id,
      modelId: t.model_id,
      masked: t.masked === 1,
      dim: t.dim,
      sourcePhotoSha256: t.source_photo_sha256,
      quality: t.quality,
      createdAt: t.created_at,
    }));
  }

  /** The stored (unit-length) embedding of a template. */
  templateEmbedding(templateId: string): Float32Array {
    this.assertOpen();
    const row = typeof templateId === 'string' ? this.stmt.template.get(templateId) : undefined;
    if (!row) throw new GalleryError('GALLERY_TEMPLATE_NOT_FOUND', `no template with id ${JSON.stringify(templateId)}`);
    return fromBlob(row.embedding, row.dim, `template ${row.id}`).slice();
  }

  rename(id: string, newName: string): Identity {
    this.assertOpen();
    const identityId = this.identityId(id);
    const name = cleanName(newName, 'new name');
    this.syncWithFile();
    const changed = this.write('rename', () => {
      this.changed('identity', identityId);
      return this.stmt.rename.run(name, this.now(), identityId).changes;
    });
    if (changed === 0) throw this.notFound(identityId);
    const entry = this.entries.get(identityId);
    if (entry) entry.name = name;
    return this.requireIdentity(identityId);
  }

  setGroups(id: string, groups: readonly string[]): Identity {
    this.assertOpen();
    const identityId = this.identityId(id);
    const cleaned = cleanGroups(groups);
    this.syncWithFile();
    const changed = this.write('setGroups', () => {
      this.changed('identity', identityId);
      return this.stmt.setGroups.run(JSON.stringify(cleaned), this.now(), identityId).changes;
    });
    if (changed === 0) throw this.notFound(identityId);
    const entry = this.entries.get(identityId);
    if (entry) entry.groups = cleaned;
    return this.requireIdentity(identityId);
  }

  setMetadata(id: string, metadata: Metadata): Identity {
    this.assertOpen();
    const identityId = this.identityId(id);
    const cleaned = cleanMetadata(metadata);
    const changed = this.write('setMetadata', () => this.stmt.setMetadata.run(JSON.stringify(cleaned), this.now(), identityId).changes);
    if (changed === 0) throw this.notFound(identityId);
    return this.requireIdentity(identityId);
  }

  /** Delete an identity and (by cascade) all its templates. */
  remove(id: string): void {
    this.assertOpen();
    const identityId = this.identityId(id);
    this.syncWithFile();
    const templateIds = this.write('remove', () => {
      const ids = this.stmt.templateIdsOf.all(identityId);
      if (this.stmt.removeIdentity.run(identityId).changes === 0) throw this.notFound(identityId);
      this.changed('identity', identityId);
      return ids;
    });
    for (const t of templateIds) this.unindexTemplate(t, this.entries.get(identityId));
    this.dropEntry(identityId);
  }

  // --- crops and re-embedding ----------------------------------------------------------------

  /** Stored enrollment crops (without pixels): of one identity, or all of them by identity. */
  listCrops(identityId?: string): StoredCrop[] {
    this.assertOpen();
    const rows = identityId === undefined ? this.cropStmt.all.all() : this.cropStmt.ofIdentity.all(this.identityId(identityId));
    return rows.map(cropFromRow);
  }

  /** Crops whose photo has no template of `modelId` yet: what a switch to that model must embed. */
  cropsLackingModel(modelId: string): StoredCrop[] {
    this.assertOpen();
    return this.cropStmt.lackingModel.all(cleanModelId(modelId)).map(cropFromRow);
  }

  /** The pixels of a stored crop (a copy). */
  cropImage(cropId: string): RgbImage {
    this.assertOpen();
    return cropImage(this.cropStmt, cropId);
  }

  cropCoverage(): CropCoverage {
    this.assertOpen();
    return cropCoverage(this.cropStmt);
  }

  /** Identities with no stored crop and no template of `modelId`: only enrolling them again helps. */
  strandedFor(modelId: string): { identityId: string; name: string }[] {
    this.assertOpen();
    return this.cropStmt.strandedFor.all(cleanModelId(modelId)).map((r) => ({ identityId: r.id, name: r.name }));
  }

  /**
   * Write templates of one model rebuilt from stored crops, for every identity concerned, in ONE
   * transaction (all or nothing): for each crop, the identity's templates of that model from the
   * same photo are replaced by the rebuilt ones; templates of other models are untouched (two
   * models coexist during a switch). Nothing is written when the file holds crops that still lack
   * templates of the model and are not in the batch (enrolled meanwhile by another process with
   * another model): their ids come back so the caller embeds them too and retries. Crops whose
   * identity was removed meanwhile are skipped.
   */
  replaceTemplatesFromCrops(modelId: string, rebuilt: readonly RebuiltCrop[]): ReplaceOutcome {
    this.assertOpen();
    const model = cleanModelId(modelId);
    if (!Array.isArray(rebuilt)) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'replaceTemplatesFromCrops needs an array of { cropId, templates }');
    this.syncWithFile();
    const cleaned = rebuilt.map((r, i) => {
      if (typeof r !== 'object' || r === null || typeof r.cropId !== 'string') throw new GalleryError('GALLERY_BAD_ARGUMENT', `rebuilt crop ${i} must be { cropId, templates }`);
      const templates = cleanTemplates(r.templates, (m) => this.dimOf(m));
      const other = templates.find((t) => t.modelId !== model);
      if (other) throw new GalleryError('GALLERY_BAD_ARGUMENT', `rebuilt crop ${i} has a template of "${other.modelId}", not of "${model}"`);
      return { cropId: r.cropId, templates };
    });
    const dims = new Set(cleaned.flatMap((c) => c.templates.map((t) => t.embedding.length)));
    if (dims.size > 1) throw new GalleryError('GALLERY_DIM_MISMATCH', `rebuilt templates of "${model}" have ${[...dims].join(' and ')} dimensions`, { hint: 'one embedder makes one embedding size' });
    const inBatch = new Set(cleaned.map((c) => c.cropId));
    const now = this.now();
    const outcome = this.write('reembed', (): ReplaceOutcome & { touched?: string[] } => {
      const newCropIds = this.cropStmt.lackingModel.all(model).filter((c) => !inBatch.has(c.id)).map((c) => c.id);
      if (newCropIds.length) return { written: false, newCropIds };
      const touched = new Set<string>();
      const gone = new Set<string>();
      let templates = 0;
      let replaced = 0;
      for (const c of cleaned) {
        const crop = this.cropStmt.byId.get(c.cropId);
        if (!crop) {
          gone.add(c.cropId);
          continue;
        }
        replaced += this.cropStmt.removeModelTemplatesOfPhoto.run(crop.identity_id, model, crop.source_photo_sha256).changes;
        const withSource = c.templates.map((t) => ({ ...t, sourcePhotoSha256: crop.source_photo_sha256, quality: crop.quality }));
        this.insertTemplates(crop.identity_id, withSource, now);
        templates += withSource.length;
        touched.add(crop.identity_id);
      }
      for (const id of touched) {
        this.stmt.touch.run(now, id);
        this.changed('identity', id);
      }
      return { written: true, identities: touched.size, templates, replaced, goneIdentities: [...gone], touched: [...touched] };
    });
    if (!outcome.written) return outcome;
    // Memory follows the database only after COMMIT.
    for (const id of outcome.touched ?? []) this.refreshIdentity(id);
    return { written: true, identities: outcome.identities, templates: outcome.templates, replaced: outcome.replaced, goneIdentities: outcome.goneIdentities };
  }

  /**
   * After a switch to `modelId`: remove the templates of every other model from the identities
   * that have templates of `modelId`, in one transaction. Identities without any (no crops to
   * rebuild from) keep theirs, so nothing is lost that could not be rebuilt; they are returned.
   */
  dropOtherModels(modelId: string): { identities: number; removed: number; kept: { identityId: string; name: string }[] } {
    this.assertOpen();
    const model = cleanModelId(modelId);
    this.syncWithFile();
    const result = this.write('dropOtherModels', () => {
      const touched: string[] = [];
      let removed = 0;
      for (const id of this.cropStmt.identitiesWithModel.all(model)) {
        const ids = this.cropStmt.otherModelTemplatesOf.all(id, model);
        if (ids.length === 0) continue;
        for (const t of ids) this.stmt.removeTemplate.run(t);
        removed += ids.length;
        this.stmt.touch.run(this.now(), id);
        this.changed('identity', id);
        touched.push(id);
      }
      const kept = this.cropStmt.identitiesLackingModel.all(model).map((r) => ({ identityId: r.id, name: r.name }));
      return { touched, removed, kept };
    });
    for (const id of result.touched) this.refreshIdentity(id);
    return { identities: result.touched.length, removed: result.removed, kept: result.kept };
  }

  // --- search --------------------------------------------------------------------------------

  /**
   * The k identities most similar to the probe (cosine; each identity scored by its best
   * template), best first. Only templates of `modelId` are searched: embeddings of different
   * models live in different spaces. `masked: 'plain'` (default) searches plain templates only,
   * 'plain+masked' adds the synthetic-mask templates (for probes the mask classifier calls masked).
   */
  search(probe: Float32Array, opts: SearchOptions): Match[] {
    this.assertOpen();
    if (typeof opts !== 'object' || opts === null) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'search needs { modelId, k?, masked? }');
    const modelId = cleanModelId(opts.modelId);
    const k = cleanK(opts.k);
    const routing = opts.masked ?? 'plain';
    if (routing !== 'plain' && routing !== 'plain+masked') throw new GalleryError('GALLERY_BAD_ARGUMENT', `masked must be "plain" or "plain+masked", got ${JSON.stringify(routing)}`);
    const unit = cleanEmbedding(probe, 'probe');
    this.syncWithFile();
    const searched: EmbeddingIndex[] = [];
    const plain = this.indexes.get(indexKey(modelId, false));
    if (plain) searched.push(plain);
    if (routing === 'plain+masked') {
      const masked = this.indexes.get(indexKey(modelId, true));
      if (masked) searched.push(masked);
    }
    const dim = searched.find((ix) => ix.size > 0)?.dim;
    if (dim === undefined) return [];
    if (dim !== unit.length) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `probe has ${unit.length} dimensions; templates of "${modelId}" have ${dim}`, {
        context: { modelId, expected: dim, got: unit.length },
        hint: 'search with the model id of the embedder that made the probe',
      });
    }
    return searchIndexes(searched, unit, k, this.tuning).map((h) => {
      const entry = this.byOrdinal[h.group] as IdentityEntry;
      return { identityId: entry.id, name: entry.name, groups: entry.groups, score: h.score, templateId: h.index.templateIdAt(h.row), masked: h.index.masked };
    });
  }

  /**
   * Identities that have templates of other models but none of `currentModelId`: after the
   * embedder changes they cannot be recognised until re-enrolled (never compared across models).
   */
  modelsNeedingReembed(currentModelId: string): ReembedNeed[] {
    this.assertOpen();
    const modelId = cleanModelId(currentModelId, 'currentModelId');
    return this.stmt.reembed.all(modelId).map((r) => ({ identityId: r.id, name: r.name, modelIds: (parseJson<string[]>(r.models, 'model ids')).sort() }));
  }

  // --- unknowns ------------------------------------------------------------------------------

  /**
   * Record a sighting of an unrecognised face: it joins the most similar unknown of the same model
   * when that centroid is >= threshold similar (the centroid moves towards it), else it starts a
   * new `unk_<n>` (n never reused). Written with synchronous=NORMAL: sightings are frequent
   * statistics, and an fsync per sighting would stall the pipeline on SD-card storage; a power
   * cut may lose the last few.
   */
  upsertUnknown(embedding: Float32Array, modelId: string, timeMs: number, threshold: number): UnknownSighting {
    this.assertOpen();
    const unit = cleanEmbedding(embedding, "the unknown's embedding");
    const model = cleanModelId(modelId);
    const time = cleanTime(timeMs);
    const thr = cleanThreshold(threshold, 'unknown threshold');
    this.syncWithFile();
    const dim = this.dimOf(model);
    if (dim !== undefined && dim !== unit.length) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `unknown's embedding has ${unit.length} dimensions; "${model}" makes ${dim}`, { context: { modelId: model, expected: dim, got: unit.length } });
    }
    const pool = this.unknownPool(model);
    const existing = [...pool].map(([id, u]) => ({ id, centroid: u.centroid }));
    const { match, entry } = this.withRelaxedSync(() =>
      this.write('upsertUnknown', () => {
        const next = (this.stmt.unknownSeq.get() ?? 0) + 1;
        const match = stableUnknownId(unit, existing, thr, `unk_${next}`);
        const old = pool.get(match.id);
        const entry: UnknownEntry = old
          ? { centroid: updateCentroid(old.centroid, old.count, unit, this.opts.unknownCentroidWeight), count: old.count + 1, firstSeen: Math.min(old.firstSeen, time), lastSeen: Math.max(old.lastSeen, time) }
          : { centroid: unit, count: 1, firstSeen: time, lastSeen: time };
        if (old) this.stmt.updateUnknown.run(toBlob(entry.centroid), entry.count, entry.firstSeen, entry.lastSeen, match.id);
        else this.stmt.insertUnknown.run(match.id, model, unit.length, toBlob(entry.centroid), 1, time, time);
        this.changed('unknown', match.id);
        return { match, entry };
      }),
    );
    pool.set(match.id, entry);
    return { id: match.id, isNew: match.isNew, count: entry.count, score: match.score };
  }

  private withRelaxedSync<T>(fn: () => T): T {
    if (this.opts.synchronous === 'normal') return fn();
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  listUnknowns(opts: { modelId?: string } = {}): Unknown[] {
    this.assertOpen();
    return this.stmt.allUnknowns
      .all()
      .filter((u) => opts.modelId === undefined || u.model_id === opts.modelId)
      .map((u) => ({ id: u.id, modelId: u.model_id, dim: u.dim, centroid: fromBlob(u.centroid, u.dim, `unknown ${u.id}`).slice(), count: u.count, firstSeen: u.first_seen, lastSeen: u.last_seen }));
  }

  /**
   * The operator names an unknown: it becomes an identity whose one plain template is the
   * unknown's centroid (no source photo), and the unknown is gone. One transaction.
   */
  promoteUnknown(unknownId: string, name: string, opts: { groups?: readonly string[]; metadata?: Metadata } = {}): Identity {
    this.assertOpen();
    const cleanedName = cleanName(name);
    const groups = cleanGroups(opts.groups);
    const metadata = cleanMetadata(opts.metadata);
    this.syncWithFile();
    const id = newId('id');
    const now = this.now();
    const promoted = this.write('promoteUnknown', () => {
      const u = typeof unknownId === 'string' ? this.stmt.unknown.get(unknownId) : undefined;
      if (!u) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(unknownId)}`, { hint: 'unknown ids look like unk_12; they disappear once promoted or pruned' });
      const template: CleanTemplate = { embedding: fromBlob(u.centroid, u.dim, `unknown ${u.id}`).slice(), modelId: u.model_id, masked: false, sourcePhotoSha256: null, quality: null };
      const dim = this.dimOf(u.model_id);
      if (dim !== undefined && dim !== u.dim) throw new GalleryError('GALLERY_DIM_MISMATCH', `unknown ${u.id} is ${u.dim}-d; "${u.model_id}" templates are ${dim}-d`);
      this.stmt.insertIdentity.run(id, cleanedName, JSON.stringify(groups), JSON.stringify(metadata), now, now);
      const [templateId] = this.insertTemplates(id, [template], now);
      this.stmt.removeUnknown.run(u.id);
      this.changed('unknown', u.id);
      this.changed('identity', id);
      return { template, templateId, modelId: u.model_id };
    });
    this.unknowns.get(promoted.modelId)?.delete(unknownId);
    const entry = this.addEntry(id, cleanedName, groups);
    this.indexTemplate(promoted.templateId, entry, promoted.modelId, false, promoted.template.embedding);
    return this.requireIdentity(id);
  }

  removeUnknown(unknownId: string): void {
    this.assertOpen();
    const u = typeof unknownId === 'string' ? this.stmt.unknown.get(unknownId) : undefined;
    if (!u) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(unknownId)}`);
    this.write('removeUnknown', () => {
      this.stmt.removeUnknown.run(u.id);
      this.changed('unknown', u.id);
    });
    this.unknowns.get(u.model_id)?.delete(u.id);
  }

  /**
   * The operator says two unknowns are one person: `fromId` joins `intoId` (centroids weighted by
   * their sighting counts, counts added, first/last seen widened) and `fromId` is gone. One
   * transaction; both must be of the same model.
   */
  mergeUnknowns(fromId: string, intoId: string): Unknown {
    this.assertOpen();
    this.syncWithFile();
    const merged = this.write('mergeUnknowns', () => {
      const a = typeof fromId === 'string' ? this.stmt.unknown.get(fromId) : undefined;
      const b = typeof intoId === 'string' ? this.stmt.unknown.get(intoId) : undefined;
      if (!a || !b) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(a ? intoId : fromId)}`, { hint: 'unknown ids look like unk_12; they disappear once promoted, merged or pruned' });
      if (a.id === b.id) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'an unknown cannot be merged into itself');
      if (a.model_id !== b.model_id || a.dim !== b.dim) throw new GalleryError('GALLERY_DIM_MISMATCH', `unknowns ${a.id} (${a.model_id}) and ${b.id} (${b.model_id}) come from different models`);
      const ca = fromBlob(a.centroid, a.dim, `unknown ${a.id}`);
      const cb = fromBlob(b.centroid, b.dim, `unknown ${b.id}`);
      const sum = new Float32Array(a.dim);
      let norm = 0;
      for (let i = 0; i < sum.length; i++) {
        sum[i] = ca[i] * a.count + cb[i] * b.count;
        norm += sum[i] * sum[i];
      }
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < sum.length; i++) sum[i] /= norm;
      const entry: UnknownEntry = { centroid: sum, count: a.count + b.count, firstSeen: Math.min(a.first_seen, b.first_seen), lastSeen: Math.max(a.last_seen, b.last_seen) };
      this.stmt.updateUnknown.run(toBlob(entry.centroid), entry.count, entry.firstSeen, entry.lastSeen, b.id);
      this.stmt.removeUnknown.run(a.id);
      this.changed('unknown', a.id);
      this.changed('unknown', b.id);
      return { entry, modelId: a.model_id, dim: a.dim, from: a.id, into: b.id };
    });
    const pool = this.unknownPool(merged.modelId);
    pool.delete(merged.from);
    pool.set(merged.into, merged.entry);
    return { id: merged.into, modelId: merged.modelId, dim: merged.dim, centroid: merged.entry.centroid.slice(), count: merged.entry.count, firstSeen: merged.entry.firstSeen, lastSeen: merged.entry.lastSeen };
  }

  /** Forget unknowns last seen before `beforeMs`; returns how many. */
  pruneUnknowns(beforeMs: number): number {
    this.assertOpen();
    const before = cleanTime(beforeMs);
    const ids = this.write('pruneUnknowns', () => {
      const stale = this.stmt.staleUnknowns.all(before);
      for (const id of stale) {
        this.stmt.removeUnknown.run(id);
        this.changed('unknown', id);
      }
      return stale;
    });
    for (const pool of this.unknowns.values()) for (const id of ids) pool.delete(id);
    return ids.length;
  }

  // --- housekeeping --------------------------------------------------------------------------

  stats(): GalleryStats {
    this.assertOpen();
    const c = this.stmt.counts.get() ?? { identities: 0, templates: 0, unknowns: 0 };
    const indexes = [...this.indexes.values()]
      .filter((ix) => ix.size > 0)
      .map((ix) => ({ modelId: ix.modelId, masked: ix.masked, dim: ix.dim, rows: ix.size }))
      .sort((a, b) => a.modelId.localeCompare(b.modelId) || Number(a.masked) - Number(b.masked));
    return { identities: c.identities, templates: c.templates, unknowns: c.unknowns, indexes, sync: { fullLoads: this.fullLoads, incrementalSyncs: this.incrementalSyncs } };
  }

  /** Value of a PRAGMA (journal_mode, synchronous, foreign_keys...), for checks and diagnostics. */
  pragma(name: 'journal_mode' | 'synchronous' | 'foreign_keys' | 'user_version' | 'integrity_check'): unknown {
    this.assertOpen();
    return this.db.pragma(name, { simple: true });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  // --- fleet replication (src/fleet/gallery-follower.ts) ---------------------------------------

  /**
   * Apply identities replicated from the fleet hub, as they are there (same identity and template
   * ids), and remove the ones the hub removed: all in ONE transaction, then memory follows.
   * Idempotent: applying the same state again changes nothing (a replay after a crash is safe).
   * Enrollment crops stay at the hub; templates are what this box searches.
   */
  applyReplica(changes: { readonly put: readonly ReplicaIdentity[]; readonly remove: readonly string[] }): { put: number; removed: number } {
    this.assertOpen();
    this.syncWithFile();
    const now = this.now();
    const puts = changes.put.map((r) => ({
      id: this.identityId(r.id),
      name: cleanName(r.name),
      groups: cleanGroups(r.groups),
      metadata: cleanMetadata(r.metadata as Metadata),
      templates: r.templates.map((t) => {
        if (typeof t.id !== 'string' || t.id.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', `a replicated template of ${r.id} has no id`);
        return { id: t.id, modelId: cleanModelId(t.modelId), masked: t.masked === true, embedding: cleanEmbedding(t.embedding, `template ${t.id} of ${r.id}`), quality: t.quality ?? null };
      }),
    }));
    let removed = 0;
    this.write('enroll', () => {
      for (const p of puts) {
        const exists = this.stmt.identityEntry.get(p.id) !== undefined;
        if (exists) {
          this.stmt.rename.run(p.name, now, p.id);
          this.stmt.setGroups.run(JSON.stringify(p.groups), now, p.id);
          this.stmt.setMetadata.run(JSON.stringify(p.metadata), now, p.id);
          for (const tid of this.stmt.templateIdsOf.all(p.id)) this.stmt.removeTemplate.run(tid);
        } else {
          this.stmt.insertIdentity.run(p.id, p.name, JSON.stringify(p.groups), JSON.stringify(p.metadata), now, now);
        }
        for (const t of p.templates) {
          // A template id seen under another identity (re-enrolled at the hub) moves here.
          this.stmt.removeTemplate.run(t.id);
          this.stmt.insertTemplate.run(t.id, p.id, t.modelId, t.masked ? 1 : 0, t.embedding.length, toBlob(t.embedding), null, t.quality, now);
        }
        this.changed('identity', p.id);
      }
      for (const id of changes.remove) {
        removed += this.stmt.removeIdentity.run(id).changes;
        this.changed('identity', id);
      }
    });
    for (const p of puts) this.refreshIdentity(p.id);
    for (const id of changes.remove) this.dropEntry(id);
    return { put: puts.length, removed };
  }

  /** Every identity id (for a replica's full bootstrap: the ones the hub no longer has go). */
  identityIds(): string[] {
    this.assertOpen();
    this.syncWithFile();
    return [...this.entries.keys()];
  }
}

/** An identity as the fleet hub replicates it (src/fleet/gallery-kv.ts). */
export interface ReplicaIdentity {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly templates: readonly { readonly id: string; readonly modelId: string; readonly masked: boolean; readonly embedding: Float32Array; readonly quality?: number | null }[];
}

/**
 * Open (or create) a gallery file. WAL journal (readers never block the writer, a crash never
 * corrupts), synchronous FULL by default (see GalleryOptions.synchronous), foreign keys on, and a
 * busy timeout so a CLI command and the server can write the same file in turn.
 */
export function openGallery(path: string, opts: GalleryOptions = {}): Gallery {
  if (typeof path !== 'string' || path.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'gallery path must be a file path or ":memory:"');
  if (endianness() !== 'LE') throw new GalleryError('GALLERY_OPEN_FAILED', 'the gallery stores little-endian floats; this machine is big-endian');
  const memory = path === ':memory:';
  const create = opts.create ?? true;
  // An existing file must already be a gallery (an empty or foreign file is refused, never
  // silently turned into an empty gallery); a missing one is created when allowed.
  const existed = memory ? false : assertGalleryFileUsable(path).existed;
  if (!memory && !create && !existed) {
    throw new GalleryError('GALLERY_OPEN_FAILED', `no gallery at ${path}`, { context: { path }, hint: 'enroll someone first, or pass --db with the gallery file the server uses' });
  }
  let db: Database.Database;
  try {
    if (!memory && create) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { fileMustExist: !create });
  } catch (e) {
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot open gallery ${path}: ${e instanceof Error ? e.message : String(e)}`, { context: { path }, hint: 'check the path and its permissions', cause: e });
  }
  try {
    db.pragma('busy_timeout = 5000');
    assertGalleryOwner(db, path, existed);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (!memory && mode !== 'wal') throw new GalleryError('GALLERY_OPEN_FAILED', `gallery ${path} cannot use WAL journaling (got ${String(mode)})`, { hint: 'put the gallery on a local filesystem (WAL needs shared memory; network filesystems lack it)' });
    db.pragma(`synchronous = ${opts.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    return new Gallery(db, path, opts);
  } catch (e) {
    db.close();
    if (e instanceof GalleryError) throw e;
    throw new GalleryError('GALLERY_OPEN_FAILED', `cannot open gallery ${path}: ${e instanceof Error ? e.message : String(e)}`, { context: { path }, hint: 'is it a facegate gallery file? (SQLite)', cause: e });
  }
}
