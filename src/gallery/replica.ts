import { GalleryError } from './errors.ts';
import { identityId } from './identities.ts';
import { refreshIdentity, syncWithFile, type GalleryContext } from './memory.ts';
import type { Metadata } from './types.ts';
import { cleanEmbedding, cleanGroups, cleanMetadata, cleanModelId, cleanName } from './validate.ts';

/**
 * Fleet replication on an edge (src/fleet/gallery-follower.ts): the hub's identities applied to
 * this gallery as they are there, so the edge decides offline.
 */

/** An identity as the fleet hub replicates it (src/fleet/gallery-kv.ts). */
export interface ReplicaIdentity {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly templates: readonly { readonly id: string; readonly modelId: string; readonly masked: boolean; readonly embedding: Float32Array; readonly quality?: number | null }[];
}

/**
 * Apply identities replicated from the fleet hub, as they are there (same identity and template
 * ids), and remove the ones the hub removed: all in ONE transaction, then memory follows.
 * Idempotent: applying the same state again changes nothing (a replay after a crash is safe).
 * Enrollment crops stay at the hub; templates are what this box searches.
 */
export function applyReplica(ctx: GalleryContext, changes: { readonly put: readonly ReplicaIdentity[]; readonly remove: readonly string[] }): { put: number; removed: number } {
  const { store } = ctx;
  store.assertOpen();
  syncWithFile(ctx);
  const now = store.now();
  const puts = changes.put.map((r) => ({
    id: identityId(r.id),
    name: cleanName(r.name),
    groups: cleanGroups(r.groups),
    metadata: cleanMetadata(r.metadata as Metadata),
    templates: r.templates.map((t) => {
      if (typeof t.id !== 'string' || t.id.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', `a replicated template of ${r.id} has no id`);
      return { id: t.id, modelId: cleanModelId(t.modelId), masked: t.masked === true, embedding: cleanEmbedding(t.embedding, `template ${t.id} of ${r.id}`), quality: t.quality ?? null };
    }),
  }));
  let removed = 0;
  store.write('enroll', () => {
    for (const p of puts) {
      const exists = store.stmt.identityEntry.get(p.id) !== undefined;
      if (exists) {
        store.stmt.rename.run(p.name, now, p.id);
        store.stmt.setGroups.run(JSON.stringify(p.groups), now, p.id);
        store.stmt.setMetadata.run(JSON.stringify(p.metadata), now, p.id);
        for (const tid of store.stmt.templateIdsOf.all(p.id)) store.stmt.removeTemplate.run(tid);
      } else {
        store.stmt.insertIdentity.run(p.id, p.name, JSON.stringify(p.groups), JSON.stringify(p.metadata), now, now, null);
      }
      for (const t of p.templates) {
        // A template id seen under another identity (re-enrolled at the hub) moves here.
        store.stmt.removeTemplate.run(t.id);
        store.stmt.insertTemplate.run(t.id, p.id, t.modelId, t.masked ? 1 : 0, t.embedding.length, store.sealTemplate(t.id, t.embedding), null, t.quality, now);
      }
      store.changed('identity', p.id);
    }
    for (const id of changes.remove) {
      removed += store.stmt.removeIdentity.run(id).changes;
      store.changed('identity', id);
    }
  });
  for (const p of puts) refreshIdentity(ctx, p.id);
  for (const id of changes.remove) {
    ctx.index.dropEntry(id);
    ctx.anchors.drop(id);
  }
  return { put: puts.length, removed };
}

/** Every identity id (for a replica's full bootstrap: the ones the hub no longer has go). */
export function identityIds(ctx: GalleryContext): string[] {
  ctx.store.assertOpen();
  syncWithFile(ctx);
  return ctx.index.identityIds();
}
