import type { Logger } from '../log.ts';
import { GalleryError, type Gallery, type RebuiltCrop, type StoredCrop } from '../gallery/index.ts';
import { isMaskShape, templatesFromCrop, type EnrollmentMask } from './enroll.ts';
import type { Embedder } from './models.ts';

/**
 * Re-embedding: rebuild an identity's templates for another embedder from the aligned crops the
 * gallery kept at enrollment, so a model change needs nobody to enroll again.
 *
 * The embedder runs asynchronously, outside any transaction (the gallery stays searchable
 * meanwhile); the results are written in ONE transaction at the end, so an abort, an error or a
 * kill before it leaves the old templates exactly as they were and none of the new ones.
 */

export interface ReembedProgress {
  /** Crops embedded so far, of `total`. */
  readonly done: number;
  readonly total: number;
  /** The identity whose crop was just embedded. */
  readonly identityId: string;
}

export interface ReembedOptions {
  /** 'all' (default): every stored crop, replacing that model's templates from the same photos. 'missing': only crops with no template of the model yet (what a service start needs). */
  readonly scope?: 'all' | 'missing';
  readonly onProgress?: (p: ReembedProgress) => void;
  /** Abort before the write: nothing is changed. */
  readonly signal?: AbortSignal;
  /** Clock for the summary's duration. */
  readonly now?: () => number;
}

export interface ReembedSummary {
  readonly modelId: string;
  /** Identities that got templates of the model written. */
  readonly identities: number;
  readonly templates: number;
  /** Crops embedded (one per enrollment photo). */
  readonly crops: number;
  /** Old templates of the same model and photo that the rebuilt ones replaced (scope 'all'). */
  readonly replaced: number;
  /** No stored crop and no template of this model: they cannot be recognised until enrolled again. */
  readonly skipped: readonly { readonly identityId: string; readonly name: string }[];
  readonly ms: number;
}

/** Crops to embed, grouped by identity in the order given. Pure. */
export function groupByIdentity(crops: readonly StoredCrop[]): Map<string, StoredCrop[]> {
  const out = new Map<string, StoredCrop[]>();
  for (const c of crops) {
    let list = out.get(c.identityId);
    if (!list) out.set(c.identityId, (list = []));
    list.push(c);
  }
  return out;
}

/** The stored masks as paintable ones; a name this facegate does not know is a clear error. Pure. */
export function paintableMasks(crop: StoredCrop): EnrollmentMask[] {
  return crop.masks.map((m) => {
    if (!isMaskShape(m.shape)) {
      throw new GalleryError('GALLERY_REEMBED_FAILED', `crop ${crop.id} was enrolled with a mask shape "${m.shape}" this facegate cannot paint`, {
        context: { cropId: crop.id, identityId: crop.identityId, shape: m.shape },
        hint: 'run the re-embedding with the facegate version that enrolled it (or newer)',
      });
    }
    return { shape: m.shape, colour: m.colour };
  });
}

function abortIfAsked(signal: AbortSignal | undefined, modelId: string): void {
  if (signal?.aborted) {
    throw new GalleryError('GALLERY_REEMBED_ABORTED', `re-embedding for "${modelId}" was aborted: nothing was changed`, { context: { modelId }, hint: 'run it again; the old templates are intact' });
  }
}

async function embedCrops(gallery: Gallery, embedder: Embedder, crops: readonly StoredCrop[], opts: ReembedOptions, counter: { done: number; total: number }): Promise<RebuiltCrop[]> {
  const out: RebuiltCrop[] = [];
  for (const crop of crops) {
    abortIfAsked(opts.signal, embedder.modelId);
    const masks = paintableMasks(crop);
    let image;
    try {
      image = gallery.cropImage(crop.id);
    } catch (e) {
      // Removed meanwhile (with its identity): nothing to rebuild.
      if (e instanceof GalleryError && e.code === 'GALLERY_NOT_FOUND') continue;
      throw e;
    }
    try {
      const templates = await templatesFromCrop({ image, sourcePhotoSha256: crop.sourcePhotoSha256, quality: crop.quality, masks }, embedder);
      out.push({ cropId: crop.id, templates });
    } catch (e) {
      throw new GalleryError('GALLERY_REEMBED_FAILED', `embedding crop ${crop.id} (${crop.width}x${crop.height}) with "${embedder.modelId}" failed: ${e instanceof Error ? e.message : String(e)}`, {
        context: { cropId: crop.id, identityId: crop.identityId, modelId: embedder.modelId },
        hint: 'check the embedder: it must take the ArcFace-aligned 112x112 crop; nothing was changed',
        cause: e,
      });
    }
    counter.done++;
    opts.onProgress?.({ done: counter.done, total: counter.total, identityId: crop.identityId });
  }
  return out;
}

/** How many times the write may find crops enrolled meanwhile before giving up. */
const MAX_ROUNDS = 5;

/**
 * Build the templates of `embedder` from the stored crops and write them in one transaction
 * (all or nothing). Templates of other models stay, so two models coexist until `dropOtherModels`;
 * search always uses one model id at a time. Identities without crops are reported as skipped.
 */
export async function reembedGallery(gallery: Gallery, embedder: Embedder, opts: ReembedOptions = {}): Promise<ReembedSummary> {
  const now = opts.now ?? Date.now;
  const t0 = now();
  const modelId = embedder.modelId;
  const planned = opts.scope === 'missing' ? gallery.cropsLackingModel(modelId) : gallery.listCrops();
  const counter = { done: 0, total: planned.length };
  const rebuilt = await embedCrops(gallery, embedder, planned, opts, counter);
  for (let round = 1; ; round++) {
    abortIfAsked(opts.signal, modelId);
    const outcome = gallery.replaceTemplatesFromCrops(modelId, rebuilt);
    if (outcome.written) {
      return { modelId, identities: outcome.identities, templates: outcome.templates, crops: rebuilt.length, replaced: outcome.replaced, skipped: gallery.strandedFor(modelId), ms: now() - t0 };
    }
    if (round >= MAX_ROUNDS) {
      throw new GalleryError('GALLERY_REEMBED_FAILED', `photos kept being enrolled during re-embedding for "${modelId}" (${outcome.newCropIds.length} new after ${round} tries): nothing was changed`, {
        context: { modelId },
        hint: 'run it again when enrollment is quiet',
      });
    }
    // Enrolled by another process while we embedded: embed those too, then write everything at once.
    const wanted = new Set(outcome.newCropIds);
    const extra = gallery.listCrops().filter((c) => wanted.has(c.id));
    counter.total += extra.length;
    rebuilt.push(...(await embedCrops(gallery, embedder, extra, opts, counter)));
  }
}

/**
 * At service start: make sure every identity that has stored crops has templates of the
 * configured embedder, re-embedding only what is missing (nothing to do after the first start
 * with a model). Logs progress and the identities nobody can recognise with it (no crops: they
 * must be enrolled again). Returns the summary.
 */
export async function ensureTemplatesFor(gallery: Gallery, embedder: Embedder, logger: Logger, opts: { signal?: AbortSignal; progressEveryMs?: number } = {}): Promise<ReembedSummary> {
  const missing = gallery.cropsLackingModel(embedder.modelId);
  if (missing.length > 0) {
    logger.info({ embedder: embedder.modelId, crops: missing.length, identities: groupByIdentity(missing).size }, 'gallery: building templates for the configured embedder from stored enrollment crops');
  }
  const every = opts.progressEveryMs ?? 5000;
  let lastLog = Date.now();
  const summary = await reembedGallery(gallery, embedder, {
    scope: 'missing',
    signal: opts.signal,
    onProgress: (p) => {
      if (Date.now() - lastLog < every || p.done === p.total) return;
      lastLog = Date.now();
      logger.info({ embedder: embedder.modelId, done: p.done, total: p.total }, 'gallery: re-embedding');
    },
  });
  if (summary.crops > 0) {
    logger.info({ embedder: embedder.modelId, identities: summary.identities, templates: summary.templates, crops: summary.crops, ms: summary.ms }, 'gallery: templates built for the configured embedder');
  }
  if (summary.skipped.length > 0) {
    logger.warn(
      { embedder: embedder.modelId, skipped: summary.skipped.map((s) => s.name), count: summary.skipped.length },
      'gallery: some identities have no stored enrollment crop and no template for the configured embedder: enroll them again (`facegate enroll`) or they are never recognised',
    );
  }
  return summary;
}
