/**
 * Erasure, subject-access export and a visitor's validUntil on the API's IdentityApi
 * (POST /v1/identities/:id/erase, GET /v1/identities/:id/export, POST /v1/identities/:id/valid-until;
 * docs/privacy.md), on the service's own gallery, log and snapshots. The erasure's receipt is
 * published on the bus (the MQTT sink clears retained topics from it).
 */
import type { IdentityApi } from '../api/types.ts';
import type { Event, EventLog, NewEventOf, SnapshotStore } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import { eraseIdentity } from './erasure.ts';
import { exportSubject } from './subject-export.ts';

export function withPrivacyApi(inner: IdentityApi, d: { gallery: Gallery; eventLog: EventLog; snapshots: SnapshotStore; publish: (e: NewEventOf<'identity.erased' | 'identity.updated'>) => Event | void }): IdentityApi {
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
    setValidUntil: (id, validUntil, actor) => {
      if (!d.gallery.getIdentity(id)) return undefined;
      const identity = d.gallery.setValidUntil(id, validUntil);
      // Audited like the other changes; the data is open, so validUntil rides on identity.updated.
      d.publish({ type: 'identity.updated', timeMs: Date.now(), identityId: id, data: { actor, validUntil } });
      return identity;
    },
    exportZip: async (id) => (d.gallery.getIdentity(id) ? (await exportSubject(d, id)).zip : undefined),
  };
}
