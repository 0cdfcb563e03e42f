import { EmbeddingIndex, DEFAULT_SEARCH_TUNING, searchIndexes, type SearchTuning } from './embedding-index.ts';
import { GalleryError } from './errors.ts';
import type { GalleryStats, Match, MaskRouting, SearchOptions } from './types.ts';
import { cleanEmbedding, cleanK, cleanModelId } from './validate.ts';

/** What search needs of an identity without touching the database. */
export interface IdentityEntry {
  readonly ordinal: number;
  readonly id: string;
  name: string;
  groups: readonly string[];
  /** Its indexed templates, so a change made elsewhere can replace exactly these. */
  readonly templateIds: Set<string>;
}

export const indexKey = (modelId: string, masked: boolean): string => `${modelId}\u0000${masked ? 'masked' : 'plain'}`;

/** A search request once its arguments are checked. */
export interface SearchQuery {
  readonly modelId: string;
  readonly k: number;
  readonly routing: MaskRouting;
  readonly unit: Float32Array;
}

export function cleanSearchQuery(probe: Float32Array, opts: SearchOptions): SearchQuery {
  if (typeof opts !== 'object' || opts === null) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'search needs { modelId, k?, masked? }');
  const modelId = cleanModelId(opts.modelId);
  const k = cleanK(opts.k);
  const routing = opts.masked ?? 'plain';
  if (routing !== 'plain' && routing !== 'plain+masked') throw new GalleryError('GALLERY_BAD_ARGUMENT', `masked must be "plain" or "plain+masked", got ${JSON.stringify(routing)}`);
  const unit = cleanEmbedding(probe, 'probe');
  return { modelId, k, routing, unit };
}

/**
 * The identities and their templates in memory: an exact cosine index per (model id, masked),
 * each row grouped by its identity's ordinal. Memory only; the callers keep it in step with the
 * database (after each COMMIT, and when another connection changed the file).
 */
export class SearchIndex {
  private readonly tuning: SearchTuning;
  private readonly useSimd: boolean | undefined;
  private entries = new Map<string, IdentityEntry>();
  private byOrdinal: (IdentityEntry | undefined)[] = [];
  private indexes = new Map<string, EmbeddingIndex>();
  private indexOfTemplate = new Map<string, EmbeddingIndex>();
  private lastIndex: EmbeddingIndex | undefined;

  constructor(search: (Partial<SearchTuning> & { readonly useSimd?: boolean }) | undefined) {
    this.tuning = { ...DEFAULT_SEARCH_TUNING, ...search };
    this.useSimd = search?.useSimd;
  }

  /** Forget everything (before a full load). */
  reset(): void {
    this.entries = new Map();
    this.byOrdinal = [];
    this.indexes = new Map();
    this.indexOfTemplate = new Map();
    this.lastIndex = undefined;
  }

  get identityCount(): number {
    return this.entries.size;
  }

  get templateCount(): number {
    return this.indexOfTemplate.size;
  }

  entry(id: string): IdentityEntry | undefined {
    return this.entries.get(id);
  }

  identityIds(): string[] {
    return [...this.entries.keys()];
  }

  addEntry(id: string, name: string, groups: readonly string[]): IdentityEntry {
    const entry: IdentityEntry = { ordinal: this.byOrdinal.length, id, name, groups, templateIds: new Set() };
    this.entries.set(id, entry);
    this.byOrdinal.push(entry);
    return entry;
  }

  dropEntry(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    for (const t of entry.templateIds) this.unindexTemplate(t, entry);
    this.entries.delete(id);
    this.byOrdinal[entry.ordinal] = undefined;
  }

  indexTemplate(templateId: string, entry: IdentityEntry, modelId: string, masked: boolean, embedding: Float32Array): void {
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

  unindexTemplate(templateId: string, entry: IdentityEntry | undefined): void {
    this.indexOfTemplate.get(templateId)?.remove(templateId);
    this.indexOfTemplate.delete(templateId);
    entry?.templateIds.delete(templateId);
  }

  /** The index of one space, created with room for `capacity` rows when new. */
  indexFor(modelId: string, masked: boolean, dim: number, capacity: number): EmbeddingIndex {
    const key = indexKey(modelId, masked);
    let index = this.indexes.get(key);
    if (!index) {
      index = new EmbeddingIndex(modelId, masked, dim, { useSimd: this.useSimd, initialCapacity: capacity });
      this.indexes.set(key, index);
    }
    return index;
  }

  /** The embedding size of a model's indexed templates, if it has any. */
  dimOf(modelId: string): number | undefined {
    for (const masked of [false, true]) {
      const ix = this.indexes.get(indexKey(modelId, masked));
      if (ix && ix.size > 0) return ix.dim;
    }
    return undefined;
  }

  /**
   * The k identities most similar to the probe (each scored by its best template), best first.
   * Only templates of the query's model are searched: embeddings of different models live in
   * different spaces.
   */
  search(q: SearchQuery): Match[] {
    const searched: EmbeddingIndex[] = [];
    const plain = this.indexes.get(indexKey(q.modelId, false));
    if (plain) searched.push(plain);
    if (q.routing === 'plain+masked') {
      const masked = this.indexes.get(indexKey(q.modelId, true));
      if (masked) searched.push(masked);
    }
    const dim = searched.find((ix) => ix.size > 0)?.dim;
    if (dim === undefined) return [];
    if (dim !== q.unit.length) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `probe has ${q.unit.length} dimensions; templates of "${q.modelId}" have ${dim}`, {
        context: { modelId: q.modelId, expected: dim, got: q.unit.length },
        hint: 'search with the model id of the embedder that made the probe',
      });
    }
    return searchIndexes(searched, q.unit, q.k, this.tuning).map((h) => {
      const entry = this.byOrdinal[h.group] as IdentityEntry;
      return { identityId: entry.id, name: entry.name, groups: entry.groups, score: h.score, templateId: h.index.templateIdAt(h.row), masked: h.index.masked };
    });
  }

  /** The non-empty indexes, by model id, plain first. */
  stats(): GalleryStats['indexes'] {
    return [...this.indexes.values()]
      .filter((ix) => ix.size > 0)
      .map((ix) => ({ modelId: ix.modelId, masked: ix.masked, dim: ix.dim, rows: ix.size }))
      .sort((a, b) => a.modelId.localeCompare(b.modelId) || Number(a.masked) - Number(b.masked));
  }
}
