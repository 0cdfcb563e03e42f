/**
 * Enrollment at the hub (`facegate enroll --hub --config HUB.yaml`): photos -> templates with the
 * models on this machine (same checks as a box's enrollment), written to the hub's PostgreSQL as
 * the source of truth. The commit NOTIFYs the running hub, which publishes the identity to the KV
 * bucket the edges follow (when no hub runs now, it publishes at its next start: the outbox is in
 * PostgreSQL). An existing name gets the new templates added.
 *
 * With the hub's config (hubStoreFor) every change is also an audit event of the hub's origin,
 * in the same transaction, naming the local actor (`facegate-cli:<OS user>`).
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Config } from '../config/index.ts';
import { createDetector, type Detector } from '../detect/index.ts';
import type { Logger } from '../log.ts';
import { createEmbedder, prepareEnrollmentPhoto, type Embedder } from '../recognize/index.ts';
import { FleetError } from '../fleet/errors.ts';
import { HubStore, type HubAudit, type HubAuditEvent } from './store.ts';
import type { StoredIdentity, StoredTemplate } from '../fleet/gallery-kv.ts';

const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString('hex')}`;

export interface HubEnrollResult {
  readonly identity: { readonly id: string; readonly name: string; readonly groups: readonly string[]; readonly templates: number } | null;
  readonly rejected: readonly { readonly photo: string; readonly message: string; readonly hint: string }[];
}

export function hubStoreFor(config: Config, logger: Logger): HubStore {
  const hub = config.fleet?.hub;
  if (!config.fleet || !hub) throw new FleetError('FLEET_CONFIG_INVALID', 'this config has no fleet.hub section', { hint: 'pass the hub\'s config (--config HUB.yaml with fleet.hub.postgres)' });
  return new HubStore(hub.postgres, logger, { auditOrigin: { nodeId: config.fleet.nodeId, site: config.fleet.site } });
}

/** Who made a change from this machine's command line (the OS user; never a secret). */
export function localActor(): string {
  try {
    return `facegate-cli:${userInfo().username}`.slice(0, 256);
  } catch {
    return 'facegate-cli';
  }
}

const auditOf = (store: HubStore, event: HubAuditEvent): HubAudit | undefined => (store.auditOrigin ? { ...store.auditOrigin, event } : undefined);

/** Enroll photos of one person at the hub with models already loaded (tests, the demo, the bench). */
export async function enrollAtHub(store: HubStore, input: { name: string; groups: readonly string[]; photos: readonly string[] }, models: { detector: Detector; embedder: Embedder }): Promise<HubEnrollResult> {
  const name = input.name.trim();
  if (!name) throw new FleetError('FLEET_BAD_MESSAGE', '--name must not be empty', { hint: 'e.g. --name "Ada Lovelace"' });
  const templates: StoredTemplate[] = [];
  const rejected: { photo: string; message: string; hint: string }[] = [];
  for (const photo of input.photos) {
    const v = await prepareEnrollmentPhoto(photo, models.detector, models.embedder);
    if (!v.ok) {
      rejected.push({ photo, message: v.message, hint: v.hint });
      continue;
    }
    for (const t of v.templates) templates.push({ id: newId('tpl'), modelId: t.modelId, masked: t.masked, embedding: t.embedding, quality: t.quality, sourcePhotoSha256: t.sourcePhotoSha256 });
  }
  if (templates.length === 0) return { identity: null, rejected };
  await store.migrate();
  const existing = await store.identityIdsByName(name);
  if (existing.length > 1) throw new FleetError('FLEET_BAD_MESSAGE', `${existing.length} identities are named "${name}" at the hub`, { hint: 'remove or rename one of them first' });
  const now = Date.now();
  const prev = existing.length === 1 ? await store.getIdentity(existing[0]) : undefined;
  const identity: StoredIdentity = prev
    ? { ...prev, groups: [...new Set([...prev.groups, ...input.groups])], updatedMs: now, templates: [...prev.templates, ...templates] }
    : { id: newId('id'), name, groups: [...new Set(input.groups)], metadata: {}, createdMs: now, updatedMs: now, templates };
  const actor = localActor();
  const newGroups = prev ? identity.groups.filter((g) => !prev.groups.includes(g)) : [];
  await store.putIdentity(
    identity,
    auditOf(
      store,
      prev
        ? { type: 'identity.updated', timeMs: now, identityId: identity.id, data: { actor, templatesAdded: templates.length, ...(newGroups.length > 0 ? { groups: [...identity.groups] } : {}) } }
        : { type: 'identity.created', timeMs: now, identityId: identity.id, data: { actor, name: identity.name, groups: [...identity.groups], templates: templates.length } },
    ),
  );
  return { identity: { id: identity.id, name: identity.name, groups: identity.groups, templates: identity.templates.length }, rejected };
}

/** The CLI path: load the models, enroll, close everything. */
export async function runHubEnroll(config: Config, input: { name: string; groups: readonly string[]; photos: readonly string[] }, logger: Logger): Promise<HubEnrollResult> {
  const store = hubStoreFor(config, logger);
  const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  const embedder = await createEmbedder(config.models.embedder);
  try {
    return await enrollAtHub(store, input, { detector, embedder });
  } finally {
    await detector.close();
    await embedder.close();
    await store.close();
  }
}

/** Remove by id or exact name at the hub; the edges drop it once the hub publishes. */
export async function removeAtHub(store: HubStore, idOrName: string): Promise<string | undefined> {
  await store.migrate();
  const byId = await store.getIdentity(idOrName);
  const ids = byId ? [idOrName] : await store.identityIdsByName(idOrName);
  if (ids.length > 1) throw new FleetError('FLEET_BAD_MESSAGE', `${ids.length} identities are named "${idOrName}" at the hub`, { hint: 'remove by id (`facegate hub-identities list --config HUB.yaml`)' });
  if (ids.length === 0) return undefined;
  const name = byId?.name ?? idOrName;
  await store.removeIdentity(ids[0], auditOf(store, { type: 'identity.removed', timeMs: Date.now(), identityId: ids[0], data: { actor: localActor(), name } }));
  return ids[0];
}
