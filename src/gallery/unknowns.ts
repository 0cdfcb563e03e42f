import { stableUnknownId, updateCentroid } from './cluster.ts';
import { GalleryError } from './errors.ts';
import { insertTemplates, requireIdentity } from './identities.ts';
import { dimOf, syncWithFile, type GalleryContext, type UnknownEntry } from './memory.ts';
import { newId } from './store.ts';
import type { Consent, Identity, Metadata, Unknown, UnknownSighting } from './types.ts';
import { cleanConsent, cleanEmbedding, cleanGroups, cleanMetadata, cleanModelId, cleanName, cleanThreshold, cleanTime, type CleanTemplate } from './validate.ts';

/**
 * Clusters of recurring unknown faces (the pure clustering is in cluster.ts): sightings, and the
 * operator's promote, merge, remove and prune. One transaction each; memory follows after COMMIT.
 */

/**
 * Record a sighting of an unrecognised face: it joins the most similar unknown of the same model
 * when that centroid is >= threshold similar (the centroid moves towards it), else it starts a
 * new `unk_<n>` (n never reused). Written with synchronous=NORMAL: sightings are frequent
 * statistics, and an fsync per sighting would stall the pipeline on SD-card storage; a power
 * cut may lose the last few.
 */
export function upsertUnknown(ctx: GalleryContext, embedding: Float32Array, modelId: string, timeMs: number, threshold: number): UnknownSighting {
  const { store } = ctx;
  store.assertOpen();
  const unit = cleanEmbedding(embedding, "the unknown's embedding");
  const model = cleanModelId(modelId);
  const time = cleanTime(timeMs);
  const thr = cleanThreshold(threshold, 'unknown threshold');
  syncWithFile(ctx);
  const dim = dimOf(ctx, model);
  if (dim !== undefined && dim !== unit.length) {
    throw new GalleryError('GALLERY_DIM_MISMATCH', `unknown's embedding has ${unit.length} dimensions; "${model}" makes ${dim}`, { context: { modelId: model, expected: dim, got: unit.length } });
  }
  const pool = ctx.unknowns.pool(model);
  const existing = [...pool].map(([id, u]) => ({ id, centroid: u.centroid }));
  const { match, entry } = store.withRelaxedSync(() =>
    store.write('upsertUnknown', () => {
      const next = (store.stmt.unknownSeq.get() ?? 0) + 1;
      const match = stableUnknownId(unit, existing, thr, `unk_${next}`);
      const old = pool.get(match.id);
      const entry: UnknownEntry = old
        ? { centroid: updateCentroid(old.centroid, old.count, unit, store.opts.unknownCentroidWeight), count: old.count + 1, firstSeen: Math.min(old.firstSeen, time), lastSeen: Math.max(old.lastSeen, time) }
        : { centroid: unit, count: 1, firstSeen: time, lastSeen: time };
      if (old) store.stmt.updateUnknown.run(store.sealCentroid(match.id, entry.centroid), entry.count, entry.firstSeen, entry.lastSeen, match.id);
      else store.stmt.insertUnknown.run(match.id, model, unit.length, store.sealCentroid(match.id, entry.centroid), 1, time, time);
      store.changed('unknown', match.id);
      return { match, entry };
    }),
  );
  pool.set(match.id, entry);
  return { id: match.id, isNew: match.isNew, count: entry.count, score: match.score };
}

export function listUnknowns(ctx: GalleryContext, opts: { modelId?: string } = {}): Unknown[] {
  ctx.store.assertOpen();
  return ctx.store.stmt.allUnknowns
    .all()
    .filter((u) => opts.modelId === undefined || u.model_id === opts.modelId)
    .map((u) => ({ id: u.id, modelId: u.model_id, dim: u.dim, centroid: ctx.store.centroid(u.id, u.centroid, u.dim).slice(), count: u.count, firstSeen: u.first_seen, lastSeen: u.last_seen }));
}

/**
 * The operator names an unknown: it becomes an identity whose one plain template is the
 * unknown's centroid (no source photo), and the unknown is gone. One transaction.
 */
export function promoteUnknown(ctx: GalleryContext, unknownId: string, name: string, opts: { groups?: readonly string[]; metadata?: Metadata; consent?: Consent } = {}): Identity {
  const { store } = ctx;
  store.assertOpen();
  const cleanedName = cleanName(name);
  const groups = cleanGroups(opts.groups);
  const metadata = cleanMetadata(opts.metadata);
  const consent = cleanConsent(opts.consent);
  syncWithFile(ctx);
  const id = newId('id');
  const now = store.now();
  const promoted = store.write('promoteUnknown', () => {
    const u = typeof unknownId === 'string' ? store.stmt.unknown.get(unknownId) : undefined;
    if (!u) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(unknownId)}`, { hint: 'unknown ids look like unk_12; they disappear once promoted or pruned' });
    const template: CleanTemplate = { embedding: store.centroid(u.id, u.centroid, u.dim).slice(), modelId: u.model_id, masked: false, sourcePhotoSha256: null, quality: null };
    const dim = dimOf(ctx, u.model_id);
    if (dim !== undefined && dim !== u.dim) throw new GalleryError('GALLERY_DIM_MISMATCH', `unknown ${u.id} is ${u.dim}-d; "${u.model_id}" templates are ${dim}-d`);
    store.stmt.insertIdentity.run(id, cleanedName, JSON.stringify(groups), JSON.stringify(metadata), now, now, consent === undefined ? null : JSON.stringify(consent));
    const [templateId] = insertTemplates(store, id, [template], now);
    store.stmt.removeUnknown.run(u.id);
    store.changed('unknown', u.id);
    store.changed('identity', id);
    return { template, templateId, modelId: u.model_id };
  });
  ctx.unknowns.existing(promoted.modelId)?.delete(unknownId);
  const entry = ctx.index.addEntry(id, cleanedName, groups);
  ctx.index.indexTemplate(promoted.templateId, entry, promoted.modelId, false, promoted.template.embedding);
  return requireIdentity(ctx, id);
}

export function removeUnknown(ctx: GalleryContext, unknownId: string): void {
  const { store } = ctx;
  store.assertOpen();
  const u = typeof unknownId === 'string' ? store.stmt.unknown.get(unknownId) : undefined;
  if (!u) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(unknownId)}`);
  store.write('removeUnknown', () => {
    store.stmt.removeUnknown.run(u.id);
    store.changed('unknown', u.id);
  });
  ctx.unknowns.existing(u.model_id)?.delete(u.id);
}

/**
 * The operator says two unknowns are one person: `fromId` joins `intoId` (centroids weighted by
 * their sighting counts, counts added, first/last seen widened) and `fromId` is gone. One
 * transaction; both must be of the same model.
 */
export function mergeUnknowns(ctx: GalleryContext, fromId: string, intoId: string): Unknown {
  const { store } = ctx;
  store.assertOpen();
  syncWithFile(ctx);
  const merged = store.write('mergeUnknowns', () => {
    const a = typeof fromId === 'string' ? store.stmt.unknown.get(fromId) : undefined;
    const b = typeof intoId === 'string' ? store.stmt.unknown.get(intoId) : undefined;
    if (!a || !b) throw new GalleryError('GALLERY_UNKNOWN_NOT_FOUND', `no unknown with id ${JSON.stringify(a ? intoId : fromId)}`, { hint: 'unknown ids look like unk_12; they disappear once promoted, merged or pruned' });
    if (a.id === b.id) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'an unknown cannot be merged into itself');
    if (a.model_id !== b.model_id || a.dim !== b.dim) throw new GalleryError('GALLERY_DIM_MISMATCH', `unknowns ${a.id} (${a.model_id}) and ${b.id} (${b.model_id}) come from different models`);
    const ca = store.centroid(a.id, a.centroid, a.dim);
    const cb = store.centroid(b.id, b.centroid, b.dim);
    const sum = new Float32Array(a.dim);
    let norm = 0;
    for (let i = 0; i < sum.length; i++) {
      sum[i] = ca[i] * a.count + cb[i] * b.count;
      norm += sum[i] * sum[i];
    }
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < sum.length; i++) sum[i] /= norm;
    const entry: UnknownEntry = { centroid: sum, count: a.count + b.count, firstSeen: Math.min(a.first_seen, b.first_seen), lastSeen: Math.max(a.last_seen, b.last_seen) };
    store.stmt.updateUnknown.run(store.sealCentroid(b.id, entry.centroid), entry.count, entry.firstSeen, entry.lastSeen, b.id);
    store.stmt.removeUnknown.run(a.id);
    store.changed('unknown', a.id);
    store.changed('unknown', b.id);
    return { entry, modelId: a.model_id, dim: a.dim, from: a.id, into: b.id };
  });
  const pool = ctx.unknowns.pool(merged.modelId);
  pool.delete(merged.from);
  pool.set(merged.into, merged.entry);
  return { id: merged.into, modelId: merged.modelId, dim: merged.dim, centroid: merged.entry.centroid.slice(), count: merged.entry.count, firstSeen: merged.entry.firstSeen, lastSeen: merged.entry.lastSeen };
}

/** Forget unknowns last seen before `beforeMs`; returns how many. */
export function pruneUnknowns(ctx: GalleryContext, beforeMs: number): number {
  const { store } = ctx;
  store.assertOpen();
  const before = cleanTime(beforeMs);
  const ids = store.write('pruneUnknowns', () => {
    const stale = store.stmt.staleUnknowns.all(before);
    for (const id of stale) {
      store.stmt.removeUnknown.run(id);
      store.changed('unknown', id);
    }
    return stale;
  });
  for (const pool of ctx.unknowns.all()) for (const id of ids) pool.delete(id);
  return ids.length;
}
