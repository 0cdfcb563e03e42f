/**
 * Identity management through the hub's HTTP API (src/api IdentityApi): the fleet's gallery in
 * PostgreSQL, published to every edge. Enrollment photos are checked and embedded here with the
 * hub's own models, loaded at the first enrollment (a hub that never enrolls never loads them).
 *
 * The API reads synchronously: the hub keeps a summary of every identity in memory, loaded from
 * PostgreSQL at start and refreshed on every gallery NOTIFY (also the CLI's `enroll --hub`).
 * Renames, regroups and removals answer from that summary at once and are written to PostgreSQL
 * right after; a write that fails is logged and the summary reloaded from the database.
 */
import { randomBytes } from 'node:crypto';
import type { EnrollOutcome, IdentityApi } from '../api/types.ts';
import type { Logger } from '../log.ts';
import type { PhotoVerdict } from '../recognize/index.ts';
import { messageOf } from './errors.ts';
import type { HubStore, StoredIdentity, StoredTemplate } from './hub-store.ts';

const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

export interface HubIdentitySummary {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly templateTotal: number;
}

export interface HubIdentityApi extends IdentityApi {
  /** Reload the summary from PostgreSQL (at start and on every gallery NOTIFY). */
  refresh(): Promise<void>;
}

function summary(i: StoredIdentity): HubIdentitySummary {
  return { id: i.id, name: i.name, groups: i.groups, metadata: i.metadata, createdAt: i.createdMs, updatedAt: i.updatedMs, templateTotal: i.templates.length };
}

function templatesOf(v: Extract<PhotoVerdict, { ok: true }>): StoredTemplate[] {
  return v.templates.map((t) => ({ id: newId('tpl'), modelId: t.modelId, masked: t.masked, embedding: t.embedding, quality: t.quality, sourcePhotoSha256: t.sourcePhotoSha256 }));
}

export function createHubIdentityApi(o: { readonly store: HubStore; readonly enroll: (photo: Buffer) => Promise<PhotoVerdict>; readonly logger: Logger }): HubIdentityApi {
  const log = o.logger;
  let cache = new Map<string, HubIdentitySummary>();
  const refresh = async (): Promise<void> => {
    const all = await o.store.identities();
    cache = new Map(all.map((i) => [i.id, summary(i)]));
  };
  const later = (what: string, id: string, p: Promise<unknown>): void => {
    p.catch((e: unknown) => {
      log.error({ id, detail: messageOf(e) }, `fleet hub: ${what} not written to PostgreSQL; the identity list is reloaded`);
      void refresh().catch(() => undefined);
    });
  };
  const rejection = (v: Extract<PhotoVerdict, { ok: false }>): EnrollOutcome => ({ ok: false, reason: v.reason, message: `${v.message} (${v.hint})` });
  return {
    refresh,
    list: () => [...cache.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)),
    get: (id) => cache.get(id),
    create: async (input, actor) => {
      const v = await o.enroll(input.photo);
      if (!v.ok) return rejection(v);
      const now = Date.now();
      const identity: StoredIdentity = { id: newId('id'), name: input.name, groups: [...new Set(input.groups)], metadata: {}, createdMs: now, updatedMs: now, templates: templatesOf(v) };
      await o.store.putIdentity(identity);
      cache.set(identity.id, summary(identity));
      log.info({ id: identity.id, actor }, 'fleet hub: identity enrolled');
      return { ok: true, identity: summary(identity) };
    },
    update: (id, changes, actor) => {
      const cur = cache.get(id);
      if (!cur) return undefined;
      const next = { ...cur, ...(changes.name !== undefined ? { name: changes.name } : {}), ...(changes.groups !== undefined ? { groups: [...new Set(changes.groups)] } : {}), updatedAt: Date.now() };
      cache.set(id, next);
      later('update', id, o.store.updateIdentity(id, changes));
      log.info({ id, actor }, 'fleet hub: identity updated');
      return next;
    },
    remove: (id, actor) => {
      if (!cache.delete(id)) return false;
      later('removal', id, o.store.removeIdentity(id));
      log.info({ id, actor }, 'fleet hub: identity removed');
      return true;
    },
    enrollPhoto: async (id, photo, actor) => {
      const v = await o.enroll(photo);
      if (!v.ok) return rejection(v);
      const cur = await o.store.getIdentity(id);
      if (!cur) return { ok: false, reason: 'not-found', message: `no identity ${id}` };
      const templates = templatesOf(v);
      const next: StoredIdentity = { ...cur, updatedMs: Date.now(), templates: [...cur.templates, ...templates] };
      await o.store.putIdentity(next);
      cache.set(id, summary(next));
      log.info({ id, actor, templates: templates.length }, 'fleet hub: photo enrolled');
      return { ok: true, templates: templates.length };
    },
  };
}
