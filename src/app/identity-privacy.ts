/**
 * Erasure and subject-access export on the API's IdentityApi (POST /v1/identities/:id/erase,
 * GET /v1/identities/:id/export; docs/privacy.md), on the service's own gallery, log and
 * snapshots. The receipt is published on the bus (the MQTT sink clears retained topics from it).
 */
import type { IdentityApi } from '../api/types.ts';
import type { Event, EventLog, NewEventOf, SnapshotStore } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import { eraseIdentity } from './erasure.ts';
import { exportSubject } from './subject-export.ts';

export function withPrivacyApi(inner: IdentityApi, d: { gallery: Gallery; eventLog: EventLog; snapshots: SnapshotStore; publish: (e: NewEventOf<'identity.erased'>) => Event | void }): IdentityApi {
  // One erasure at a time: two clicks on the same person must not race two plans.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    ...inner,
    erase: (id, actor) => {
      const run = queue.then(async () => {
        const known = d.gallery.getIdentity(id) ?? d.gallery.pendingErasures().find((p) => p.identityId === id);
        if (!known) return undefined;
        return eraseIdentity(d, id, { actor });
      });
      queue = run.catch(() => undefined);
      return run;
    },
    exportZip: async (id) => (d.gallery.getIdentity(id) ? (await exportSubject(d, id)).zip : undefined),
  };
}
