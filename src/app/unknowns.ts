/**
 * Unknown-face clusters for the dashboard (UnknownsApi): the gallery's unknowns (src/gallery: one
 * centroid per recurring unrecognised face) with thumbnails from the face snapshots of their
 * face.unknown events. Naming a cluster promotes it to an identity (its centroid as the first
 * template), then enrols up to `maxPhotos` of its face snapshots as real photos (templates + crops,
 * so the person has photos and masked variants); merging and dismissing are gallery transactions.
 * Every change is an audit event naming the actor (the token id): naming is identity.created,
 * merging unknown.merged, dismissing unknown.dismissed. The merges in the log also keep a merged
 * cluster's past sightings under the cluster it joined, across restarts.
 */
import type { IdentityApi, UnknownCluster, UnknownsApi } from '../api/server.ts';
import type { Event, NewEventOf } from '../events/index.ts';
import type { Gallery, Unknown } from '../gallery/index.ts';
import type { Logger } from '../log.ts';
import { consentRecord } from './identities.ts';

export interface UnknownsDeps {
  readonly gallery: Gallery;
  /** Recent face.unknown events, newest first (the event log). */
  readonly recentUnknownEvents: (limit: number) => readonly Event[];
  /** A face snapshot's JPEG bytes (decrypted when the folder is encrypted), undefined when gone. */
  readonly snapshotBytes: (id: string) => Promise<Buffer | undefined>;
  /** Adds photos to an identity (the API's enrolment path: detection, quality checks, templates). */
  readonly identities: IdentityApi;
  readonly publish: (event: NewEventOf<'identity.created' | 'unknown.merged' | 'unknown.dismissed'>) => Event | void;
  /** Every unknown.merged event in the log, oldest first (which clusters became which). */
  readonly mergeHistory?: () => readonly Event[];
  readonly logger: Logger;
  /** Face snapshots enrolled when a cluster is named (default 3). */
  readonly maxPhotos?: number;
  /** Thumbnails listed per cluster (default 4). */
  readonly thumbnails?: number;
}

export function createUnknownsApi(d: UnknownsDeps): UnknownsApi {
  const maxPhotos = d.maxPhotos ?? 3;
  const thumbs = d.thumbnails ?? 4;
  // Clusters merged (from the log, then as they happen): past sightings show under the cluster they joined.
  const mergedInto = new Map<string, string>();
  for (const e of d.mergeHistory?.() ?? []) {
    const m = e.data as { from?: unknown; into?: unknown };
    if (typeof m.from === 'string' && typeof m.into === 'string') mergedInto.set(m.from, m.into);
  }
  const audit = (event: NewEventOf<'identity.created' | 'unknown.merged' | 'unknown.dismissed'>): void => {
    try {
      d.publish(event);
    } catch (err) {
      d.logger.error({ err, type: event.type }, 'audit event not logged');
    }
  };
  const resolve = (id: string): string => {
    let cur = id;
    for (let i = 0; i < 100 && mergedInto.has(cur); i++) cur = mergedInto.get(cur) ?? cur;
    return cur;
  };
  const snapshotsById = (): Map<string, string[]> => {
    const by = new Map<string, string[]>();
    for (const e of d.recentUnknownEvents(2000)) {
      const data = e.data as { unknownId?: unknown; snapshotId?: unknown };
      if (typeof data.unknownId !== 'string' || typeof data.snapshotId !== 'string') continue;
      const id = resolve(data.unknownId);
      const list = by.get(id) ?? [];
      if (!list.includes(data.snapshotId)) list.push(data.snapshotId);
      by.set(id, list);
    }
    return by;
  };
  const view = (u: Unknown, snaps: Map<string, string[]>): UnknownCluster => ({ id: u.id, count: u.count, firstSeen: u.firstSeen, lastSeen: u.lastSeen, snapshots: (snaps.get(u.id) ?? []).slice(0, thumbs) });
  return {
    list: () => {
      const snaps = snapshotsById();
      return d.gallery
        .listUnknowns()
        .sort((a, b) => b.lastSeen - a.lastSeen)
        .map((u) => view(u, snaps));
    },
    name: async (id, input, actor) => {
      const snaps = snapshotsById().get(id) ?? [];
      const consent = input.consent ? consentRecord(input.consent, actor, 'dashboard', Date.now()) : undefined;
      const identity = d.gallery.promoteUnknown(id, input.name, { groups: input.groups, ...(consent ? { consent } : {}) });
      audit({ type: 'identity.created', timeMs: Date.now(), identityId: identity.id, data: { actor, name: identity.name, groups: [...identity.groups], templates: 1, unknownId: id, ...(consent ? { consent } : {}) } });
      let added = 0;
      const rejected: string[] = [];
      for (const snap of snaps) {
        if (added >= maxPhotos) break;
        // The identity exists already: a snapshot that cannot be read is skipped, not the naming undone.
        const bytes = await d.snapshotBytes(snap).catch((e: unknown) => {
          d.logger.warn({ err: e, snapshotId: snap, unknownId: id }, 'an unknown face snapshot could not be read: not enrolled');
          return undefined;
        });
        if (!bytes) continue;
        const r = await d.identities.enrollPhoto(identity.id, bytes, actor);
        if (r.ok) added++;
        else rejected.push(r.reason ?? 'rejected');
      }
      d.logger.info({ actor, unknownId: id, identityId: identity.id, photosAdded: added, photosRejected: rejected.length }, 'unknown named: now an identity');
      return { ...(d.gallery.getIdentity(identity.id) ?? identity), photosAdded: added, photosRejected: rejected };
    },
    merge: (from, into, actor) => {
      const known = new Set(d.gallery.listUnknowns().map((u) => u.id));
      if (!known.has(from) || !known.has(into)) return undefined;
      const merged = d.gallery.mergeUnknowns(from, into);
      mergedInto.set(from, into);
      audit({ type: 'unknown.merged', timeMs: Date.now(), data: { actor, from, into, count: merged.count } });
      d.logger.info({ actor, from, into, count: merged.count }, 'unknowns merged');
      return view(merged, snapshotsById());
    },
    dismiss: (id, actor) => {
      if (!d.gallery.listUnknowns().some((u) => u.id === id)) return false;
      d.gallery.removeUnknown(id);
      audit({ type: 'unknown.dismissed', timeMs: Date.now(), data: { actor, unknownId: id } });
      d.logger.info({ actor, unknownId: id }, 'unknown dismissed');
      return true;
    },
  };
}
