import type { RgbImage } from '../types.ts';
import { cropCoverage as coverageOf, cropFromRow, cropImage as imageOf } from './crops.ts';
import { GalleryError } from './errors.ts';
import { identityId, insertTemplates } from './identities.ts';
import { dimOf, refreshIdentity, syncWithFile, type GalleryContext } from './memory.ts';
import { parseJson } from './store.ts';
import type { CropCoverage, RebuiltCrop, ReembedNeed, ReplaceOutcome, StoredCrop } from './types.ts';
import { cleanModelId, cleanTemplates } from './validate.ts';

/**
 * The stored enrollment crops and the templates rebuilt from them when the embedder changes
 * (src/recognize's reembedGallery / ensureTemplatesFor drive it). Writes are one transaction each,
 * all or nothing, and memory follows after COMMIT.
 */

/** Stored enrollment crops (without pixels): of one identity, or all of them by identity. */
export function listCrops(ctx: GalleryContext, id?: string): StoredCrop[] {
  const { store } = ctx;
  store.assertOpen();
  const rows = id === undefined ? store.cropStmt.all.all() : store.cropStmt.ofIdentity.all(identityId(id));
  return rows.map(cropFromRow);
}

/** Crops whose photo has no template of `modelId` yet: what a switch to that model must embed. */
export function cropsLackingModel(ctx: GalleryContext, modelId: string): StoredCrop[] {
  ctx.store.assertOpen();
  return ctx.store.cropStmt.lackingModel.all(cleanModelId(modelId)).map(cropFromRow);
}

/** The pixels of a stored crop (a copy). */
export function cropImage(ctx: GalleryContext, cropId: string): RgbImage {
  ctx.store.assertOpen();
  return imageOf(ctx.store, cropId);
}

export function cropCoverage(ctx: GalleryContext): CropCoverage {
  ctx.store.assertOpen();
  return coverageOf(ctx.store.cropStmt);
}

/** Identities with no stored crop and no template of `modelId`: only enrolling them again helps. */
/**
 * Template-only mode (privacy.keepEnrollmentCrops: false) for what is already stored: delete
 * every enrollment crop in one transaction (secure_delete zeroes the freed pages; the caller
 * truncates the WAL). Templates stay, so recognition is unchanged; a later change of embedder
 * needs these people enrolled again. Returns how many crops of how many identities went.
 */
export function dropCrops(ctx: GalleryContext): { crops: number; identities: number } {
  const { store } = ctx;
  store.assertOpen();
  return store.write('dropCrops', () => {
    const identities = store.cropStmt.identitiesWithCrops.get() ?? 0;
    const crops = store.db.prepare('DELETE FROM crops').run().changes;
    return { crops, identities };
  });
}

/** How many crops are stored, of how many identities (cheap: two counts, no list). */
export function cropCounts(ctx: GalleryContext): { crops: number; identities: number } {
  ctx.store.assertOpen();
  return { crops: ctx.store.cropStmt.count.get() ?? 0, identities: ctx.store.cropStmt.identitiesWithCrops.get() ?? 0 };
}

export function strandedFor(ctx: GalleryContext, modelId: string): { identityId: string; name: string }[] {
  ctx.store.assertOpen();
  return ctx.store.cropStmt.strandedFor.all(cleanModelId(modelId)).map((r) => ({ identityId: r.id, name: r.name }));
}

/**
 * Identities that have templates of other models but none of `currentModelId`: after the
 * embedder changes they cannot be recognised until re-enrolled (never compared across models).
 */
export function modelsNeedingReembed(ctx: GalleryContext, currentModelId: string): ReembedNeed[] {
  ctx.store.assertOpen();
  const modelId = cleanModelId(currentModelId, 'currentModelId');
  return ctx.store.stmt.reembed.all(modelId).map((r) => ({ identityId: r.id, name: r.name, modelIds: (parseJson<string[]>(r.models, 'model ids')).sort() }));
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
export function replaceTemplatesFromCrops(ctx: GalleryContext, modelId: string, rebuilt: readonly RebuiltCrop[]): ReplaceOutcome {
  const { store } = ctx;
  store.assertOpen();
  const model = cleanModelId(modelId);
  if (!Array.isArray(rebuilt)) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'replaceTemplatesFromCrops needs an array of { cropId, templates }');
  syncWithFile(ctx);
  const cleaned = rebuilt.map((r, i) => {
    if (typeof r !== 'object' || r === null || typeof r.cropId !== 'string') throw new GalleryError('GALLERY_BAD_ARGUMENT', `rebuilt crop ${i} must be { cropId, templates }`);
    const templates = cleanTemplates(r.templates, (m) => dimOf(ctx, m));
    const other = templates.find((t) => t.modelId !== model);
    if (other) throw new GalleryError('GALLERY_BAD_ARGUMENT', `rebuilt crop ${i} has a template of "${other.modelId}", not of "${model}"`);
    return { cropId: r.cropId, templates };
  });
  const dims = new Set(cleaned.flatMap((c) => c.templates.map((t) => t.embedding.length)));
  if (dims.size > 1) throw new GalleryError('GALLERY_DIM_MISMATCH', `rebuilt templates of "${model}" have ${[...dims].join(' and ')} dimensions`, { hint: 'one embedder makes one embedding size' });
  const inBatch = new Set(cleaned.map((c) => c.cropId));
  const now = store.now();
  const outcome = store.write('reembed', (): ReplaceOutcome & { touched?: string[] } => {
    const newCropIds = store.cropStmt.lackingModel.all(model).filter((c) => !inBatch.has(c.id)).map((c) => c.id);
    if (newCropIds.length) return { written: false, newCropIds };
    const touched = new Set<string>();
    const gone = new Set<string>();
    let templates = 0;
    let replaced = 0;
    for (const c of cleaned) {
      const crop = store.cropStmt.byId.get(c.cropId);
      if (!crop) {
        gone.add(c.cropId);
        continue;
      }
      replaced += store.cropStmt.removeModelTemplatesOfPhoto.run(crop.identity_id, model, crop.source_photo_sha256).changes;
      const withSource = c.templates.map((t) => ({ ...t, sourcePhotoSha256: crop.source_photo_sha256, quality: crop.quality }));
      insertTemplates(store, crop.identity_id, withSource, now);
      templates += withSource.length;
      touched.add(crop.identity_id);
    }
    for (const id of touched) {
      store.stmt.touch.run(now, id);
      store.changed('identity', id);
    }
    return { written: true, identities: touched.size, templates, replaced, goneIdentities: [...gone], touched: [...touched] };
  });
  if (!outcome.written) return outcome;
  // Memory follows the database only after COMMIT.
  for (const id of outcome.touched ?? []) refreshIdentity(ctx, id);
  return { written: true, identities: outcome.identities, templates: outcome.templates, replaced: outcome.replaced, goneIdentities: outcome.goneIdentities };
}

/**
 * After a switch to `modelId`: remove the templates of every other model from the identities
 * that have templates of `modelId`, in one transaction. Identities without any (no crops to
 * rebuild from) keep theirs, so nothing is lost that could not be rebuilt; they are returned.
 */
export function dropOtherModels(ctx: GalleryContext, modelId: string): { identities: number; removed: number; kept: { identityId: string; name: string }[] } {
  const { store } = ctx;
  store.assertOpen();
  const model = cleanModelId(modelId);
  syncWithFile(ctx);
  const result = store.write('dropOtherModels', () => {
    const touched: string[] = [];
    let removed = 0;
    for (const id of store.cropStmt.identitiesWithModel.all(model)) {
      const ids = store.cropStmt.otherModelTemplatesOf.all(id, model);
      if (ids.length === 0) continue;
      for (const t of ids) store.stmt.removeTemplate.run(t);
      removed += ids.length;
      store.stmt.touch.run(store.now(), id);
      store.changed('identity', id);
      touched.push(id);
    }
    const kept = store.cropStmt.identitiesLackingModel.all(model).map((r) => ({ identityId: r.id, name: r.name }));
    return { touched, removed, kept };
  });
  for (const id of result.touched) refreshIdentity(ctx, id);
  return { identities: result.touched.length, removed: result.removed, kept: result.kept };
}
