/**
 * Face snapshots to the hub, separately and lazily (never inside events): the edge uploads the
 * JPEGs an event names (data.snapshotId) to the JetStream object store `facegate-snapshots` as
 * `<node>/<snapshotId>.<face|frame>.jpg`, from its own sink cursor (so a slow upload never delays
 * the events, and an outage resumes where it stopped); the hub mirrors the store into its
 * snapshot folder, from which its API serves /v1/snapshots/:id like a box.
 *
 * Files already pruned on the edge are skipped (the event stays; the picture is gone). The
 * object store's TTL is the events stream's max age.
 */
import { writeFile, rename } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FleetConfig } from '../config/fleet.ts';
import { isSnapshotId, type Event, type SnapshotStore } from '../events/index.ts';
import type { Logger } from '../log.ts';
import type { EventSink, SinkStatus } from '../outputs/index.ts';
import { FleetError, messageOf } from './errors.ts';
import type { NatsLink } from './nats.ts';
import { NS_PER_MS } from './subjects.ts';

export const SNAPSHOT_SINK_NAME = 'fleet-snapshots';
const KINDS = ['face', 'frame'] as const;

export function snapshotObjectName(node: string, id: string, kind: 'face' | 'frame'): string {
  return `${node}/${id}.${kind}.jpg`;
}

export function parseSnapshotObjectName(name: string): { node: string; id: string; kind: 'face' | 'frame' } | undefined {
  const m = /^([a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?)\/([a-z0-9_-]{8,64})\.(face|frame)\.jpg$/.exec(name);
  if (!m || !isSnapshotId(m[2])) return undefined;
  return { node: m[1], id: m[2], kind: m[3] as 'face' | 'frame' };
}

export async function openSnapshotStore(nc: NatsConnection, f: FleetConfig): Promise<ObjectStore> {
  try {
    return await new Objm(nc).create(f.names.snapshotsBucket, { ttl: f.stream.maxAgeDays * 86_400_000 * NS_PER_MS });
  } catch (e) {
    throw new FleetError('FLEET_JETSTREAM', `cannot open the snapshot object store ${f.names.snapshotsBucket}: ${messageOf(e)}`, { context: { bucket: f.names.snapshotsBucket }, hint: 'check that JetStream is on and this user may create object stores', cause: e });
  }
}

/** Deletes the named snapshot objects that are there (an erasure); the count actually deleted. */
export async function deleteSnapshotObjects(nc: NatsConnection, f: FleetConfig, names: readonly string[]): Promise<number> {
  const os = await openSnapshotStore(nc, f);
  let n = 0;
  for (const name of names) {
    const info = await os.info(name);
    if (info && !info.deleted) {
      await os.delete(name);
      n++;
    }
  }
  return n;
}

function snapshotIdOf(e: Event): string | undefined {
  const id = (e.data as { snapshotId?: unknown } | undefined)?.snapshotId;
  return typeof id === 'string' && isSnapshotId(id) ? id : undefined;
}

export interface SnapshotUploader extends EventSink {
  uploaded(): number;
}

/** The edge side: an EventSink that uploads the snapshots events name. */
export function createSnapshotUploader(o: { readonly fleet: FleetConfig; readonly link: NatsLink; readonly logger: Logger; readonly readSnapshot: (id: string, kind: 'face' | 'frame') => Promise<Buffer | undefined> }): SnapshotUploader {
  const log = o.logger.child({ sink: SNAPSHOT_SINK_NAME });
  let store: { nc: NatsConnection; os: ObjectStore } | undefined;
  let uploaded = 0;
  return {
    name: SNAPSHOT_SINK_NAME,
    firstStart: 'beginning',
    uploaded: () => uploaded,
    start: async () => undefined,
    stop: async () => undefined,
    accepts: (e) => snapshotIdOf(e) !== undefined,
    deliver: async (events) => {
      const nc = o.link.current();
      if (!nc) throw new FleetError('FLEET_NATS_UNAVAILABLE', 'not connected to NATS (snapshots wait)');
      if (!store || store.nc !== nc) store = { nc, os: await openSnapshotStore(nc, o.fleet) };
      const ids = [...new Set(events.map(snapshotIdOf).filter((x): x is string => x !== undefined))];
      for (const id of ids) {
        for (const kind of KINDS) {
          // Read through the box's store: decrypted when its folder is encrypted at rest.
          const bytes = await o.readSnapshot(id, kind);
          if (!bytes) {
            log.debug({ id, kind }, 'snapshot gone before upload (pruned); skipped');
            continue;
          }
          const name = snapshotObjectName(o.fleet.nodeId, id, kind);
          // Already there (a page offered again after a crash or a failed ack): replacing it would
          // purge the old chunks, a right edges do not have (src/fleet/permissions.ts).
          const have = await store.os.info(name);
          if (have && !have.deleted && have.size === bytes.length) continue;
          await store.os.putBlob({ name }, new Uint8Array(bytes));
          uploaded++;
        }
      }
    },
    status: (): SinkStatus => {
      const s = o.link.status();
      return { connected: s.connected, reconnects: s.reconnects, lastError: s.lastError };
    },
    onReady: (l) => o.link.onReady(() => l()),
  };
}

/**
 * The hub side: mirror every object of the store into the hub's snapshot folder (atomic rename),
 * from the start of the store at each (re)connection; files already there are not fetched again.
 */
export function mirrorSnapshots(o: { readonly fleet: FleetConfig; readonly link: NatsLink; readonly store: SnapshotStore; readonly logger: Logger }): { mirrored(): number; close(): void } {
  const log = o.logger.child({ fleet: 'snapshots' });
  let mirrored = 0;
  let closed = false;
  let stop: (() => void) | undefined;
  const follow = async (nc: NatsConnection): Promise<void> => {
    const os = await openSnapshotStore(nc, o.fleet);
    const iter = await os.watch({ includeHistory: true, ignoreDeletes: true });
    stop = () => iter.stop();
    // Closed while the watch was being made: its push consumer would outlive the close (its idle
    // heartbeat timer keeps the process alive and fails on the closed connection).
    if (closed) return iter.stop();
    for await (const info of iter) {
      if (closed) break;
      if (!info || info.deleted) continue;
      const name = parseSnapshotObjectName(info.name);
      if (!name) continue;
      const file = o.store.path(name.id, name.kind);
      if (existsSync(file)) continue;
      try {
        const data = await os.getBlob(info.name);
        if (!data) continue;
        const tmp = `${file}.${process.pid}.part`;
        await writeFile(tmp, data);
        await rename(tmp, file);
        mirrored++;
      } catch (e) {
        log.warn({ name: info.name, detail: messageOf(e) }, 'fleet hub: snapshot not mirrored');
      }
    }
  };
  let running = false;
  const run = (nc: NatsConnection): void => {
    if (running || closed) return;
    running = true;
    follow(nc)
      .catch((e: unknown) => log.warn({ detail: messageOf(e) }, 'fleet hub: snapshot mirror stopped; retrying on the next connection'))
      .finally(() => {
        running = false;
      });
  };
  const offReady = o.link.onReady(run);
  const offLost = o.link.onLost(() => stop?.());
  const c = o.link.current();
  if (c) run(c);
  return {
    mirrored: () => mirrored,
    close: () => {
      closed = true;
      offReady();
      offLost();
      stop?.();
    },
  };
}
