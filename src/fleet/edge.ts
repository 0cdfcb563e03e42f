/**
 * Fleet mode on an edge box, in one call from the service: one NATS connection shared by the
 * forwarder (events -> hub) and the snapshot uploader, both EventSinks attached to the service's
 * one sink runner (each from its own persisted cursor in the one cursor store), and the gallery
 * follower (hub's KV bucket -> local SQLite gallery; its revision kept in the same store).
 * Nothing here can stop the box: gates keep deciding locally whatever NATS does.
 * The passage follower (hub's passages bucket -> `passages.inputs$`, fed to the gate operator)
 * shares anti-passback areas with the other boxes; offline, area gates decide from local state.
 *
 * Edge enrollment in fleet mode is refused (refusingIdentityApi): the hub is the source of truth,
 * and a local change would be overwritten by the next bootstrap. Enroll at the hub.
 */
import { dirname, join } from 'node:path';
import type { IdentityApi, UnknownsApi } from '../api/types.ts';
import type { FleetConfig } from '../config/fleet.ts';
import type { SnapshotStore } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import type { Logger } from '../log.ts';
import type { CursorStore, SinkRunner } from '../outputs/index.ts';
import { FleetError } from './errors.ts';
import { createFleetForwarder, FLEET_SINK_NAME, type FleetForwarder } from './forwarder.ts';
import { startGalleryFollower, type GalleryFollower } from './gallery-follower.ts';
import type { ErasureRecord } from './gallery-kv.ts';
import { startNatsLink, type NatsLink } from './nats.ts';
import { startPassageFollower, type PassageFollower } from './passage-follower.ts';
import { createSnapshotUploader, SNAPSHOT_SINK_NAME, type SnapshotUploader } from './snapshots.ts';
import { ensureEventsStream } from './stream.ts';
import { edgeInboxPrefix } from './subjects.ts';

export interface FleetEdge {
  readonly link: NatsLink;
  readonly forwarder: FleetForwarder;
  /** Uploads the snapshots events name to the object store (its own cursor; undefined without snapshots). */
  readonly snapshots: SnapshotUploader | undefined;
  readonly follower: GalleryFollower;
  /** Anti-passback areas: other boxes' passages and the link's health, for the gate operator. */
  readonly passages: PassageFollower;
  close(): Promise<void>;
}

/** Where earlier versions kept the edge's cursors; the cursor store takes it over (CursorStore.adopt). */
export function legacyFleetStatePath(eventsDb: string): string {
  return eventsDb === ':memory:' ? ':memory:' : join(dirname(eventsDb), 'fleet.sqlite');
}

export interface FleetEdgeOptions {
  readonly fleet: FleetConfig;
  readonly gallery: Gallery;
  /** The service's sink runner: the forwarder and the snapshot uploader are attached to it. */
  readonly runner: SinkRunner;
  /** The service's cursor store (the gallery follower keeps its revision there). */
  readonly cursors: CursorStore;
  readonly logger: Logger;
  /** A snapshot's JPEG bytes (decrypted), or undefined when it is gone; none: no snapshot upload. */
  readonly readSnapshot?: (id: string, kind: 'face' | 'frame') => Promise<Buffer | undefined>;
  readonly hasAreaGates?: () => boolean;
  /** Replay the hub's erasure of a person on this box (the gallery follower calls it; see gallery-follower.ts). */
  readonly onErasure?: (erasure: ErasureRecord) => Promise<void>;
}

export function startFleetEdge(o: FleetEdgeOptions): FleetEdge {
  const log = o.logger.child({ fleet: o.fleet.nodeId });
  const link = startNatsLink({ config: o.fleet.nats, name: `facegate-edge-${o.fleet.nodeId}`, logger: log, inboxPrefix: edgeInboxPrefix(o.fleet.nodeId), onConnect: (nc) => ensureEventsStream(nc, o.fleet) });
  const forwarder = createFleetForwarder({ fleet: o.fleet, logger: log, link });
  const snapshots = o.readSnapshot ? createSnapshotUploader({ fleet: o.fleet, link, logger: log, readSnapshot: o.readSnapshot }) : undefined;
  o.runner.attach(forwarder);
  if (snapshots) o.runner.attach(snapshots);
  const follower = startGalleryFollower({ fleet: o.fleet, gallery: o.gallery, state: o.cursors, logger: log, link, ...(o.onErasure ? { onErasure: o.onErasure } : {}) });
  const passages = startPassageFollower({ fleet: o.fleet, link, logger: log, ...(o.hasAreaGates ? { hasAreaGates: o.hasAreaGates } : {}) });
  log.info({ node: o.fleet.nodeId, site: o.fleet.site, servers: o.fleet.nats.servers.length }, 'fleet mode: forwarding events to the hub, following its gallery');
  return {
    link,
    forwarder,
    snapshots,
    follower,
    passages,
    close: async () => {
      await o.runner.detach(FLEET_SINK_NAME);
      await o.runner.detach(SNAPSHOT_SINK_NAME);
      await follower.close();
      await passages.close();
      await link.close();
    },
  };
}

/** The edge's identity API in fleet mode: reads stay, every write is refused with the fix. */
export function refusingIdentityApi(inner: IdentityApi): IdentityApi {
  const refuse = (): never => {
    throw new FleetError('FLEET_REFUSED', 'this box is an edge of a fleet: its gallery is a replica of the hub\'s and cannot be changed here', { hint: 'enroll, rename or remove people at the hub (`facegate enroll --hub --config HUB.yaml ...` or the hub\'s API)' });
  };
  return {
    list: () => inner.list(),
    get: (id) => inner.get(id),
    create: async () => refuse(),
    update: () => refuse(),
    remove: () => refuse(),
    enrollPhoto: async () => refuse(),
  };
}

/** A snapshot's bytes from the box's store (decrypted), or undefined for an id it refuses or a file gone. */
export function snapshotBytes(store: SnapshotStore, id: string, kind: 'face' | 'frame'): Promise<Buffer | undefined> {
  return store.read(id, kind).catch(() => undefined);
}

/**
 * The edge's unknown-face clusters in fleet mode: naming one (it would become a local identity) is
 * refused like enrollment; merging and dismissing clusters stay (they are this box's own).
 */
export function refusingUnknownsApi(inner: UnknownsApi): UnknownsApi {
  return {
    list: () => inner.list(),
    name: async () => {
      throw new FleetError('FLEET_REFUSED', 'this box is an edge of a fleet: an unknown face cannot become a local identity here', { hint: 'enroll the person at the hub (`facegate enroll --hub` with a photo)' });
    },
    merge: (from, into, actor) => inner.merge(from, into, actor),
    dismiss: (id, actor) => inner.dismiss(id, actor),
  };
}
