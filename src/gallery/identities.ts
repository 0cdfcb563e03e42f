import { insertCrops } from './crops.ts';
import { GalleryError } from './errors.ts';
import { dimOf, syncWithFile, type GalleryContext } from './memory.ts';
import { indexKey } from './search-index.ts';
import type { IdentityRow } from './statements.ts';
import { newId, parseJson, type GalleryStore } from './store.ts';
import type { Consent, EnrollInput, FaceCropInput, Identity, Metadata, Template, TemplateCount, TemplateInput } from './types.ts';
import { cleanConsent, cleanCrops, cleanGroups, cleanMetadata, cleanName, cleanTemplates, cleanTime, type CleanTemplate } from './validate.ts';

/**
 * Identities and their templates: enrollment, edits, removal and the reads the CLI and the API
 * make. Every change is one transaction; memory (the search index) follows only after its COMMIT.
 */

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

/** Insert templates of an identity (inside the caller's write transaction); returns their new ids. */
export function insertTemplates(store: GalleryStore, identityId: string, templates: readonly CleanTemplate[], createdAt: number): string[] {
  return templates.map((t) => {
    const id = newId('tpl');
    store.stmt.insertTemplate.run(id, identityId, t.modelId, t.masked ? 1 : 0, t.embedding.length, store.sealTemplate(id, t.embedding), t.sourcePhotoSha256, t.quality, createdAt);
    return id;
  });
}

function identityFromRow(row: IdentityRow, counts: readonly TemplateCount[]): Identity {
  return {
    id: row.id,
    name: row.name,
    groups: parseJson<string[]>(row.groups, `groups of ${row.id}`),
    metadata: parseJson<Metadata>(row.metadata, `metadata of ${row.id}`),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    templateCounts: counts,
    templateTotal: counts.reduce((n, c) => n + c.count, 0),
    ...(row.consent ? { consent: parseJson<Consent>(row.consent, `consent of ${row.id}`) } : {}),
    ...(row.valid_until !== null && row.valid_until !== undefined ? { validUntil: row.valid_until } : {}),
  };
}

export function notFound(id: string): GalleryError {
  return new GalleryError('GALLERY_NOT_FOUND', `no identity with id "${id}"`, { context: { id }, hint: 'list identities with `facegate identities list`' });
}

export function identityId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', `identity id must be a non-empty string, got ${JSON.stringify(id)}`);
  return id;
}

/**
 * Add many people in ONE transaction (imports, re-enrollment after a model change): all of
 * them or, on any bad input or failure, none. One fsync for the batch instead of one each.
 */
export function enrollMany(ctx: GalleryContext, inputs: readonly EnrollInput[]): Identity[] {
  const { store, index } = ctx;
  store.assertOpen();
  if (!Array.isArray(inputs)) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'enrollMany needs an array of { name, templates, groups?, metadata? }');
  syncWithFile(ctx);
  const batchDims = new Map<string, number>();
  const knownDim = (modelId: string): number | undefined => batchDims.get(modelId) ?? dimOf(ctx, modelId);
  const now = store.now();
  const prepared = inputs.map((input, i) => {
    try {
      if (typeof input !== 'object' || input === null) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'enroll needs { name, templates, groups?, metadata? }');
      const name = cleanName(input.name);
      const groups = cleanGroups(input.groups);
      const metadata = cleanMetadata(input.metadata);
      const templates = cleanTemplates(input.templates, knownDim);
      const crops = cleanCrops(input.crops, templates);
      const consent = cleanConsent(input.consent);
      const validUntil = input.validUntil === undefined || input.validUntil === null ? undefined : cleanTime(input.validUntil);
      for (const t of templates) batchDims.set(t.modelId, t.embedding.length);
      return { id: newId('id'), name, groups, metadata, consent, validUntil, templates, crops, templateIds: [] as string[] };
    } catch (e) {
      // Say which one of a batch was bad; a single enroll keeps the plain message.
      if (inputs.length === 1 || !(e instanceof GalleryError)) throw e;
      throw new GalleryError(e.code, `enrollment ${i}: ${e.message}`, { context: { ...e.context, index: i }, hint: e.hint, cause: e });
    }
  });
  store.write('enroll', () => {
    for (const p of prepared) {
      store.stmt.insertIdentity.run(p.id, p.name, JSON.stringify(p.groups), JSON.stringify(p.metadata), now, now, p.consent === undefined ? null : JSON.stringify(p.consent));
      if (p.validUntil !== undefined) store.stmt.setValidUntil.run(p.validUntil, now, p.id);
      p.templateIds = insertTemplates(store, p.id, p.templates, now);
      if (store.keepsCrops) insertCrops(store, p.id, p.crops, now, () => newId('crop'));
      store.changed('identity', p.id);
    }
  });
  return prepared.map((p) => {
    const entry = index.addEntry(p.id, p.name, p.groups);
    p.templates.forEach((t, i) => index.indexTemplate(p.templateIds[i], entry, t.modelId, t.masked, t.embedding));
    return { id: p.id, name: p.name, groups: p.groups, metadata: p.metadata, createdAt: now, updatedAt: now, templateCounts: countTemplates(p.templates), templateTotal: p.templates.length, ...(p.consent ? { consent: p.consent } : {}), ...(p.validUntil !== undefined ? { validUntil: p.validUntil } : {}) };
  });
}

/**
 * Add templates (a new photo, a new model) to an existing identity, in one transaction, with
 * the photos' aligned crops when given (kept for re-embedding).
 */
export function addTemplates(ctx: GalleryContext, identity: string, templates: readonly TemplateInput[], crops?: readonly FaceCropInput[]): Identity {
  const { store, index } = ctx;
  store.assertOpen();
  const id = identityId(identity);
  syncWithFile(ctx);
  const entry = index.entry(id);
  if (!entry) throw notFound(id);
  const cleaned = cleanTemplates(templates, (m) => dimOf(ctx, m));
  const cleanedCrops = cleanCrops(crops, cleaned);
  const now = store.now();
  const templateIds = store.write('addTemplates', () => {
    const ids = insertTemplates(store, id, cleaned, now);
    if (store.keepsCrops) insertCrops(store, id, cleanedCrops, now, () => newId('crop'));
    store.stmt.touch.run(now, id);
    store.changed('identity', id);
    return ids;
  });
  cleaned.forEach((t, i) => index.indexTemplate(templateIds[i], entry, t.modelId, t.masked, t.embedding));
  return requireIdentity(ctx, id);
}

export function removeTemplate(ctx: GalleryContext, templateId: string): void {
  const { store } = ctx;
  store.assertOpen();
  syncWithFile(ctx);
  const row = typeof templateId === 'string' ? store.stmt.template.get(templateId) : undefined;
  if (!row) throw new GalleryError('GALLERY_TEMPLATE_NOT_FOUND', `no template with id ${JSON.stringify(templateId)}`, { hint: 'see the template ids with `facegate identities show ID`' });
  store.write('removeTemplate', () => {
    store.stmt.removeTemplate.run(templateId);
    store.stmt.touch.run(store.now(), row.identity_id);
    store.changed('identity', row.identity_id);
  });
  ctx.index.unindexTemplate(templateId, ctx.index.entry(row.identity_id));
}

export function getIdentity(ctx: GalleryContext, id: string): Identity | undefined {
  const { store } = ctx;
  store.assertOpen();
  const row = typeof id === 'string' ? store.stmt.identity.get(id) : undefined;
  if (!row) return undefined;
  const counts = store.stmt.countsOf.all(id).map((c) => ({ modelId: c.model_id, masked: c.masked === 1, count: c.n }));
  return identityFromRow(row, counts);
}

export function requireIdentity(ctx: GalleryContext, id: string): Identity {
  const identity = getIdentity(ctx, identityId(id));
  if (!identity) throw notFound(id);
  return identity;
}

/** Every identity, by name then id. */
export function listIdentities(ctx: GalleryContext): Identity[] {
  const { store } = ctx;
  store.assertOpen();
  const counts = new Map<string, TemplateCount[]>();
  for (const c of store.stmt.allCounts.iterate()) {
    let list = counts.get(c.identity_id);
    if (!list) counts.set(c.identity_id, (list = []));
    list.push({ modelId: c.model_id, masked: c.masked === 1, count: c.n });
  }
  return store.stmt.identities.all().map((r) => identityFromRow(r, counts.get(r.id) ?? []));
}

/** Identities with exactly this (trimmed) name, oldest first. */
export function findByName(ctx: GalleryContext, name: string): Identity[] {
  const { store } = ctx;
  store.assertOpen();
  if (typeof name !== 'string') return [];
  return store.stmt.byName.all(name.trim()).map((r) => requireIdentity(ctx, r.id));
}

/**
 * The identity an operator means by an id or a name: an id, else an exact name, else a name
 * that differs only in ASCII case. Throws when none matches or a name is ambiguous.
 */
export function resolve(ctx: GalleryContext, idOrName: string): Identity {
  const { store } = ctx;
  store.assertOpen();
  if (typeof idOrName !== 'string' || idOrName.trim().length === 0) throw new GalleryError('GALLERY_BAD_ARGUMENT', 'give an identity id or name');
  const byId = getIdentity(ctx, idOrName.trim());
  if (byId) return byId;
  let rows = store.stmt.byName.all(idOrName.trim());
  if (rows.length === 0) rows = store.stmt.byNameNoCase.all(idOrName.trim());
  if (rows.length === 1) return requireIdentity(ctx, rows[0].id);
  if (rows.length === 0) {
    throw new GalleryError('GALLERY_NOT_FOUND', `no identity with id or name "${idOrName.trim()}"`, { context: { query: idOrName }, hint: 'list identities with `facegate identities list`' });
  }
  throw new GalleryError('GALLERY_AMBIGUOUS_NAME', `${rows.length} identities are named "${rows[0].name}": ${rows.map((r) => r.id).join(', ')}`, {
    context: { name: rows[0].name, ids: rows.map((r) => r.id).join(',') },
    hint: `name one by its id, e.g. ${rows[0].id}`,
  });
}

/** Templates of an identity (without embeddings), oldest first. */
export function listTemplates(ctx: GalleryContext, id: string): Template[] {
  const { store } = ctx;
  const identity = requireIdentity(ctx, id);
  return store.stmt.templatesOf.all(identity.id).map((t) => ({
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
export function templateEmbedding(ctx: GalleryContext, templateId: string): Float32Array {
  const { store } = ctx;
  store.assertOpen();
  const row = typeof templateId === 'string' ? store.stmt.template.get(templateId) : undefined;
  if (!row) throw new GalleryError('GALLERY_TEMPLATE_NOT_FOUND', `no template with id ${JSON.stringify(templateId)}`);
  return store.template(row.id, row.embedding, row.dim).slice();
}

export function rename(ctx: GalleryContext, id: string, newName: string): Identity {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  const name = cleanName(newName, 'new name');
  syncWithFile(ctx);
  const changed = store.write('rename', () => {
    store.changed('identity', identity);
    return store.stmt.rename.run(name, store.now(), identity).changes;
  });
  if (changed === 0) throw notFound(identity);
  const entry = ctx.index.entry(identity);
  if (entry) entry.name = name;
  return requireIdentity(ctx, identity);
}

export function setGroups(ctx: GalleryContext, id: string, groups: readonly string[]): Identity {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  const cleaned = cleanGroups(groups);
  syncWithFile(ctx);
  const changed = store.write('setGroups', () => {
    store.changed('identity', identity);
    return store.stmt.setGroups.run(JSON.stringify(cleaned), store.now(), identity).changes;
  });
  if (changed === 0) throw notFound(identity);
  const entry = ctx.index.entry(identity);
  if (entry) entry.groups = cleaned;
  return requireIdentity(ctx, identity);
}

export function setMetadata(ctx: GalleryContext, id: string, metadata: Metadata): Identity {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  const cleaned = cleanMetadata(metadata);
  const changed = store.write('setMetadata', () => store.stmt.setMetadata.run(JSON.stringify(cleaned), store.now(), identity).changes);
  if (changed === 0) throw notFound(identity);
  return requireIdentity(ctx, identity);
}

/** Record (or replace) an identity's consent; null removes it. */
export function setConsent(ctx: GalleryContext, id: string, consent: Consent | null): Identity {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  const cleaned = consent === null ? undefined : cleanConsent(consent);
  const changed = store.write('setMetadata', () => store.stmt.setConsent.run(cleaned === undefined ? null : JSON.stringify(cleaned), store.now(), identity).changes);
  if (changed === 0) throw notFound(identity);
  return requireIdentity(ctx, identity);
}

/** Set (or with null clear) when the identity is erased by the retention run (ms since the epoch). */
export function setValidUntil(ctx: GalleryContext, id: string, validUntil: number | null): Identity {
  const { store } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  const cleaned = validUntil === null ? null : cleanTime(validUntil);
  const changed = store.write('setValidUntil', () => store.stmt.setValidUntil.run(cleaned, store.now(), identity).changes);
  if (changed === 0) throw notFound(identity);
  return requireIdentity(ctx, identity);
}

/** Delete an identity and (by cascade) all its templates. */
export function remove(ctx: GalleryContext, id: string): void {
  const { store, index } = ctx;
  store.assertOpen();
  const identity = identityId(id);
  syncWithFile(ctx);
  const templateIds = store.write('remove', () => {
    const ids = store.stmt.templateIdsOf.all(identity);
    if (store.stmt.removeIdentity.run(identity).changes === 0) throw notFound(identity);
    store.changed('identity', identity);
    return ids;
  });
  for (const t of templateIds) index.unindexTemplate(t, index.entry(identity));
  index.dropEntry(identity);
  ctx.anchors.drop(identity);
}
