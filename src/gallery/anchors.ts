import { GalleryError } from './errors.ts';
import { identityId, notFound } from './identities.ts';
import { anchorEntryOf, dimOf, syncWithFile, type GalleryContext } from './memory.ts';
import { MAX_NEGATIVE_ANCHORS } from './negative-anchors.ts';
import { newId } from './store.ts';
import { cleanEmbedding, cleanModelId } from './validate.ts';

/**
 * Writing and reading an identity's 'not this person' anchors (schema v5). Each is one
 * transaction like a template; memory follows after the COMMIT, other connections catch up through
 * the change log (an identity change), and the rows go with the identity (cascade, erasure).
 */

export interface NegativeAnchorInput {
  readonly embedding: Float32Array;
  readonly modelId: string;
  /** Where the face came from, e.g. "event:1234" (at most 200 characters). */
  readonly source?: string;
}

/** A stored anchor without its embedding. */
export interface NegativeAnchor {
  readonly id: string;
  readonly identityId: string;
  readonly modelId: string;
  readonly dim: number;
  readonly source: string | null;
  readonly createdAt: number;
}

/** Add anchors to an identity (the oldest beyond MAX_NEGATIVE_ANCHORS per model are dropped); returns the identity's anchors. */
export function addNegativeAnchors(ctx: GalleryContext, identity: string, inputs: readonly NegativeAnchorInput[]): NegativeAnchor[] {
  const { store } = ctx;
  store.assertOpen();
  const id = identityId(identity);
  syncWithFile(ctx);
  if (!ctx.index.entry(id)) throw notFound(id);
  const cleaned = inputs.map((a, i) => {
    const modelId = cleanModelId(a.modelId);
    const embedding = cleanEmbedding(a.embedding, `anchor ${i}`);
    const dim = dimOf(ctx, modelId);
    if (dim !== undefined && dim !== embedding.length) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `anchor ${i} has ${embedding.length} dimensions; templates of "${modelId}" have ${dim}`, { context: { modelId, expected: dim, got: embedding.length }, hint: 'embed the face with the model of the templates' });
    }
    if (a.source !== undefined && (typeof a.source !== 'string' || a.source.length > 200)) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'an anchor source is a string of at most 200 characters');
    return { modelId, embedding, source: a.source ?? null };
  });
  const now = store.now();
  store.write('addNegativeAnchors', () => {
    for (const a of cleaned) {
      const anchorId = newId('neg');
      store.stmt.insertAnchor.run(anchorId, id, a.modelId, a.embedding.length, store.sealAnchor(anchorId, a.embedding), a.source, now);
    }
    for (const m of new Set(cleaned.map((a) => a.modelId))) store.stmt.trimAnchors.run(id, m, id, m, MAX_NEGATIVE_ANCHORS);
    store.stmt.touch.run(now, id);
    store.changed('identity', id);
  });
  const rows = store.stmt.anchorRowsOf.all(id);
  ctx.anchors.set(id, rows.map((r) => anchorEntryOf(store, r)));
  return rows.map((r) => ({ id: r.id, identityId: r.identity_id, modelId: r.model_id, dim: r.dim, source: r.source, createdAt: r.created_at }));
}

export function listNegativeAnchors(ctx: GalleryContext, identity: string): NegativeAnchor[] {
  ctx.store.assertOpen();
  return ctx.store.stmt.anchorRowsOf.all(identityId(identity)).map((r) => ({ id: r.id, identityId: r.identity_id, modelId: r.model_id, dim: r.dim, source: r.source, createdAt: r.created_at }));
}
