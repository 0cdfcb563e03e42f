/**
 * Erasure of a person across a fleet (docs/privacy.md), at the hub, which owns the people:
 * `POST /v1/identities/:id/erase` on the hub's API. The box's procedure (src/app/erasure.ts) over
 * the hub's PostgreSQL, its object store and snapshot folder, and the edges:
 *
 * 1. journal: a row in `erasures` before anything is deleted (the name kept while pending);
 * 2. the erasure record `_erasure.<id>` to the gallery bucket (the publisher puts it before any
 *    gallery change after it), so each edge replays it on its own gallery, log and snapshots while
 *    its replica still holds the person; an edge that is offline replays it at its next sync;
 * 3. plan: the event rows about the person and the snapshots they name, saved once;
 * 4. the identity and its templates (the gallery outbox deletes the edges' replica after 2.);
 * 5. the snapshots: objects in the object store (so the mirror cannot bring them back), then the
 *    hub's snapshot folder;
 * 6. the event rows tombstoned (`erased:<erasure id>`, the same token as on every edge), with a
 *    sweep for rows stored after the plan, and the API's window rewritten;
 * 7. the receipt: an `identity.erased` audit event (once) and the journal row finished (name
 *    cleared), in one transaction.
 *
 * Every step is idempotent: a kill or an outage at any point and a rerun complete it; a rerun of
 * a finished erasure answers with the same receipt.
 */
import { randomBytes } from 'node:crypto';
import type { FleetConfig } from '../config/fleet.ts';
import type { SnapshotStore } from '../events/index.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import type { ErasureReceiptBase } from '../gallery/index.ts';
import { startNatsLink, type NatsLink } from '../fleet/nats.ts';
import { deleteSnapshotObjects, snapshotObjectName } from '../fleet/snapshots.ts';
import type { Logger } from '../log.ts';
import { HubFeed, toHubEvent } from './feed.ts';
import type { HubErasurePlan, HubErasureRow, HubStore, PersonEventRow } from './store.ts';

export type HubErasureStep = 'journal' | 'published' | 'planned' | 'gallery' | 'snapshots' | 'events' | 'finished';

/**
 * The hub's receipt: the box's shared receipt, the same fields for the same erasure. The hub keeps
 * no enrollment crops or unknown clusters (templates only) and no retained MQTT state: `crops` and
 * `unknownClusters` are 0 and `clearCameras` empty.
 */
export type HubErasureReceipt = ErasureReceiptBase;

export interface HubErasureDeps {
  readonly store: HubStore;
  /** The hub's snapshot folder (mirrored from the object store). */
  readonly snapshots: SnapshotStore;
  readonly feed: HubFeed;
  /** Publish the unpublished erasure records now (the gallery publisher's flush). */
  readonly publish: () => Promise<void>;
  /** Delete objects from the snapshot object store; rejects when NATS cannot be reached. */
  readonly deleteObjects: (names: readonly string[]) => Promise<number>;
  /** The hub's origin for the audit event (config fleet.nodeId, site). */
  readonly origin: { readonly nodeId: string; readonly site: string };
  readonly log: Logger;
  readonly now?: () => number;
  /** Called after each step (tests stop here). */
  readonly onStep?: (step: HubErasureStep) => void | Promise<void>;
}

export const hubTombstoneOf = (erasureId: string): string => `erased:${erasureId}`;

/** The plan from the rows about the person: their hub ids and the snapshots they name, once each. Pure. */
export function hubPlanOf(rows: readonly PersonEventRow[], templates: number): HubErasurePlan {
  const seen = new Set<string>();
  const snapshots: { node: string; id: string }[] = [];
  for (const r of rows) {
    if (r.snapshotId === null || seen.has(`${r.nodeId}/${r.snapshotId}`)) continue;
    seen.add(`${r.nodeId}/${r.snapshotId}`);
    snapshots.push({ node: r.nodeId, id: r.snapshotId });
  }
  return { events: rows.map((r) => r.hubId), snapshots, templates };
}

/**
 * Erase a person at the hub and (through the gallery bucket) on every edge. Undefined when there
 * is no such identity and no erasure of it; the receipt of the finished erasure when it was
 * erased before (a rerun is a no-op).
 */
export async function eraseAtHub(d: HubErasureDeps, identityId: string, o: { readonly actor: string; readonly reason?: 'request' | 'retention' }): Promise<HubErasureReceipt | undefined> {
  const now = d.now ?? Date.now;
  const row = await d.store.beginErasure(identityId, { id: `er_${randomBytes(8).toString('hex')}`, actor: o.actor, reason: o.reason ?? 'request', nowMs: now() });
  if (!row) return (await d.store.finishedErasure(identityId))?.receipt as HubErasureReceipt | undefined;
  return completeAtHub(d, row);
}

/** Complete every erasure a kill left pending (the hub at start); returns their receipts. */
export async function resumeHubErasures(d: HubErasureDeps): Promise<HubErasureReceipt[]> {
  const out: HubErasureReceipt[] = [];
  for (const row of await d.store.pendingErasures()) out.push(await completeAtHub(d, row));
  return out;
}

async function completeAtHub(d: HubErasureDeps, row: HubErasureRow): Promise<HubErasureReceipt> {
  const { store } = d;
  const step = async (s: HubErasureStep): Promise<void> => {
    await d.onStep?.(s);
  };
  await step('journal');
  // The record goes out before the identity's delete; with NATS down it waits in the journal and
  // the publisher puts it first when the bucket is back.
  await d.publish();
  await step('published');

  const plan = row.plan ?? (await store.saveErasurePlan(row.id, hubPlanOf(await store.personEvents(row.identityId, row.name), await store.templateCount(row.identityId))));
  await step('planned');

  await store.eraseIdentityRows(row.identityId);
  await step('gallery');

  // Rows stored after the plan (an edge forwarding events about the person meanwhile) too.
  const planned = new Set(plan.events);
  const late = (await store.personEvents(row.identityId, row.name)).filter((r) => !planned.has(r.hubId));
  const snapshots = [...plan.snapshots, ...hubPlanOf(late, 0).snapshots.filter((s) => !plan.snapshots.some((p) => p.node === s.node && p.id === s.id))];
  await d.deleteObjects(snapshots.flatMap((s) => (['face', 'frame'] as const).map((k) => snapshotObjectName(s.node, s.id, k))));
  for (const s of snapshots) await d.snapshots.remove(s.id);
  await step('snapshots');

  const token = hubTombstoneOf(row.id);
  const rewritten = await store.tombstoneEvents([...plan.events, ...late.map((r) => r.hubId)], token);
  d.feed.replace(rewritten.map((r) => toHubEvent(r.hubId, r.nodeId, r.site, r.body)));
  await step('events');

  const receipt: HubErasureReceipt = {
    erasureId: row.id,
    identityId: row.identityId,
    tombstone: token,
    reason: row.reason,
    actor: row.actor,
    templates: plan.templates,
    crops: 0,
    unknownClusters: 0,
    events: plan.events.length + late.length,
    snapshots: snapshots.length,
    clearCameras: [],
    startedAt: row.startedMs,
  };
  const { tombstone: _t, identityId: _i, startedAt: _s, ...counts } = receipt;
  await store.finishErasure(row.id, receipt, { ...d.origin, event: { type: 'identity.erased', timeMs: (d.now ?? Date.now)(), identityId: token, data: { ...counts, clearCameras: [] } } });
  await step('finished');
  d.log.info({ erasureId: row.id, events: receipt.events, snapshots: receipt.snapshots, templates: receipt.templates }, 'fleet hub: identity erased (the edges replay it from the gallery bucket)');
  // A rerun returns the stored receipt: the same object either way.
  return ((await store.erasure(row.id))?.receipt as HubErasureReceipt | undefined) ?? receipt;
}

/**
 * `facegate hub-identities erase ID_OR_NAME --config HUB.yaml` beside (or without) a running hub:
 * the same erasure over the hub's PostgreSQL, its snapshot folder and the object store (NATS
 * within `natsTimeoutMs`, else the erasure stays pending and fails with the fix). The erasure
 * record goes to the edges through the gallery publisher of the running hub (its NOTIFY), or of
 * the next hub that starts: either puts it before the identity's delete.
 */
export async function eraseFromCli(
  p: { readonly store: HubStore; readonly snapshots: SnapshotStore; readonly fleet: FleetConfig; readonly log: Logger; readonly natsTimeoutMs?: number },
  idOrName: string,
  actor: string,
): Promise<HubErasureReceipt | undefined> {
  const { store } = p;
  await store.migrate();
  const byId = (await store.getIdentity(idOrName)) !== undefined || (await store.finishedErasure(idOrName)) !== undefined || (await store.pendingErasures()).some((e) => e.identityId === idOrName);
  const ids = byId ? [idOrName] : await store.identityIdsByName(idOrName);
  const pending = byId ? undefined : (await store.pendingErasures()).find((e) => e.name === idOrName);
  if (ids.length > 1) throw new FleetError('FLEET_BAD_MESSAGE', `${ids.length} identities are named "${idOrName}" at the hub`, { hint: 'erase by id (`facegate hub-identities list --config HUB.yaml`)' });
  const id = ids[0] ?? pending?.identityId;
  if (id === undefined) return undefined;
  let link: NatsLink | undefined;
  const deps: HubErasureDeps = {
    store,
    snapshots: p.snapshots,
    feed: new HubFeed(1),
    // The running hub's publisher (NOTIFY) or the next hub's puts the record first.
    publish: async () => undefined,
    deleteObjects: async (names) => {
      if (names.length === 0) return 0;
      link ??= startNatsLink({ config: p.fleet.nats, name: `facegate-erase-${p.fleet.nodeId}`, logger: p.log });
      const nc = await link.ready(p.natsTimeoutMs ?? 10_000).catch((e: unknown) => {
        throw new FleetError('FLEET_NATS_UNAVAILABLE', `NATS cannot be reached, so the snapshots in the object store cannot be deleted: ${messageOf(e)}`, { hint: 'the erasure stays pending: run the same command again once NATS is back (or let the hub complete it when it connects)', cause: e });
      });
      return deleteSnapshotObjects(nc, p.fleet, names);
    },
    origin: store.auditOrigin ?? { nodeId: p.fleet.nodeId, site: p.fleet.site },
    log: p.log,
  };
  try {
    return await eraseAtHub(deps, id, { actor });
  } finally {
    await link?.close();
  }
}
