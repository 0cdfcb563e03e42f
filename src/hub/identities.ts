/**
 * Identity management through the hub's HTTP API (src/api IdentityApi): the fleet's gallery in
 * PostgreSQL, published to every edge. Enrollment photos are checked and embedded here with the
 * hub's own models, loaded at the first enrollment (a hub that never enrolls never loads them).
 *
 * The API reads synchronously: the hub keeps a summary of every identity in memory, loaded from
 * PostgreSQL at start and refreshed on every gallery NOTIFY (also the CLI's `enroll --hub`).
 * Renames, regroups and removals answer from that summary at once and are written to PostgreSQL
 * right after; a write that fails is logged and the summary reloaded from the database.
 *
 * Every change is an audit event naming the actor (the API token's id, never the token), like a
 * box's (src/app/identities.ts), of the hub's own origin (its nodeId and site): written in the
 * same PostgreSQL transaction as the change, so the events table never lacks one.
 */
import { randomBytes } from 'node:crypto';
import type { EnrollOutcome, IdentityApi } from '../api/types.ts';
import type { Logger } from '../log.ts';
import type { PhotoVerdict } from '../recognize/index.ts';
import { messageOf } from '../fleet/errors.ts';
import type { HubAuditEvent, HubStore } from './store.ts';
import type { StoredIdentity, StoredTemplate } from '../fleet/gallery-kv.ts';

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
  /** Reload the whole summary from PostgreSQL (at start, after a lost LISTEN connection). */
  refresh(): Promise<void>;
  /**
   * One identity changed (a gallery NOTIFY; undefined = anything may have): reloaded in the
   * background, coalesced (a burst of 10k enrollments is a few queries, not 10k full reloads).
   */
  changed(identityId: string | undefined): void;
}

function summary(i: StoredIdentity): HubIdentitySummary {
  return { id: i.id, name: i.name, groups: i.groups, metadata: i.metadata, createdAt: i.createdMs, updatedAt: i.updatedMs, templateTotal: i.templates.length };
}

function templatesOf(v: Extract<PhotoVerdict, { ok: true }>): StoredTemplate[] {
  return v.templates.map((t) => ({ id: newId('tpl'), modelId: t.modelId, masked: t.masked, embedding: t.embedding, quality: t.quality, sourcePhotoSha256: t.sourcePhotoSha256 }));
}

export function createHubIdentityApi(o: {
  readonly store: HubStore;
  readonly enroll: (photo: Buffer) => Promise<PhotoVerdict>;
  readonly logger: Logger;
  /** Where the audit events come from: the hub's own nodeId and site (config fleet:). */
  readonly origin: { readonly nodeId: string; readonly site: string };
  /** Erase a person fleet-wide (src/hub/erasure.ts); undefined: not offered. */
  readonly erase?: (id: string, actor: string) => Promise<unknown>;
}): HubIdentityApi {
  const log = o.logger;
  const erase = o.erase;
  const audit = (event: HubAuditEvent) => ({ nodeId: o.origin.nodeId, site: o.origin.site, event });
  let cache = new Map<string, HubIdentitySummary>();
  const toSummary = (i: Awaited<ReturnType<HubStore['identitySummaries']>>[number]): HubIdentitySummary => ({ id: i.id, name: i.name, groups: i.groups, metadata: i.metadata, createdAt: i.createdMs, updatedAt: i.updatedMs, templateTotal: i.templates });
  const refresh = async (): Promise<void> => {
    const all = await o.store.identitySummaries();
    cache = new Map(all.map((i) => [i.id, toSummary(i)]));
  };
  // Coalesced background reloads: the ids that changed, or everything.
  let pendingIds = new Set<string>();
  let pendingAll = false;
  let running = false;
  const drain = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      while (pendingAll || pendingIds.size > 0) {
        if (pendingAll) {
          pendingAll = false;
          pendingIds = new Set();
          await refresh();
          continue;
        }
        const ids = [...pendingIds].slice(0, 1000);
        for (const id of ids) pendingIds.delete(id);
        const rows = new Map((await o.store.identitySummaries(ids)).map((r) => [r.id, toSummary(r)]));
        for (const id of ids) {
          const row = rows.get(id);
          if (row) cache.set(id, row);
          else cache.delete(id);
        }
      }
    } catch (e) {
      log.debug({ detail: messageOf(e) }, 'fleet hub: identity list not refreshed; next change retries');
      pendingAll = true;
    } finally {
      running = false;
    }
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
    changed: (id) => {
      if (id === undefined) pendingAll = true;
      else pendingIds.add(id);
      void drain();
    },
    list: () => [...cache.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)),
    get: (id) => cache.get(id),
    create: async (input, actor) => {
      const v = await o.enroll(input.photo);
      if (!v.ok) return rejection(v);
      const now = Date.now();
      const identity: StoredIdentity = { id: newId('id'), name: input.name, groups: [...new Set(input.groups)], metadata: {}, createdMs: now, updatedMs: now, templates: templatesOf(v) };
      await o.store.putIdentity(identity, audit({ type: 'identity.created', timeMs: now, identityId: identity.id, data: { actor, name: identity.name, groups: [...identity.groups], templates: identity.templates.length } }));
      cache.set(identity.id, summary(identity));
      log.info({ id: identity.id, actor }, 'fleet hub: identity enrolled');
      return { ok: true, identity: summary(identity) };
    },
    update: (id, changes, actor) => {
      const cur = cache.get(id);
      if (!cur) return undefined;
      const applied = { ...(changes.name !== undefined ? { name: changes.name } : {}), ...(changes.groups !== undefined ? { groups: [...new Set(changes.groups)] } : {}) };
      const next = { ...cur, ...applied, updatedAt: Date.now() };
      cache.set(id, next);
      later('update', id, o.store.updateIdentity(id, applied, next.updatedAt, audit({ type: 'identity.updated', timeMs: next.updatedAt, identityId: id, data: { actor, ...applied } })));
      log.info({ id, actor }, 'fleet hub: identity updated');
      return next;
    },
    remove: (id, actor) => {
      const cur = cache.get(id);
      if (!cur || !cache.delete(id)) return false;
      later('removal', id, o.store.removeIdentity(id, audit({ type: 'identity.removed', timeMs: Date.now(), identityId: id, data: { actor, name: cur.name } })));
      log.info({ id, actor }, 'fleet hub: identity removed');
      return true;
    },
    ...(erase
      ? {
          erase: async (id: string, actor: string) => {
            const receipt = await erase(id, actor);
            cache.delete(id);
            return receipt;
          },
        }
      : {}),
    enrollPhoto: async (id, photo, actor) => {
      const v = await o.enroll(photo);
      if (!v.ok) return rejection(v);
      const templates = templatesOf(v);
      const now = Date.now();
      // Templates only: a rename answered a moment ago and still being written is not undone.
      if (!(await o.store.addTemplates(id, templates, now, audit({ type: 'identity.updated', timeMs: now, identityId: id, data: { actor, templatesAdded: templates.length } })))) return { ok: false, reason: 'not-found', message: `no identity ${id}` };
      const cur = cache.get(id);
      if (cur) cache.set(id, { ...cur, updatedAt: now, templateTotal: cur.templateTotal + templates.length });
      log.info({ id, actor, templates: templates.length }, 'fleet hub: photo enrolled');
      return { ok: true, templates: templates.length };
    },
  };
}
