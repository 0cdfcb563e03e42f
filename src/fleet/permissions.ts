/**
 * The least NATS permissions an edge box needs, derived from its fleet config: what to put in
 * nats-server's `authorization { users = [...] }` (publish / subscribe allow lists) or in the
 * user's JWT (`pub` / `sub`). Everything not listed is refused by the server.
 *
 * What an edge does, and the subjects each needs (measured against nats-server 2.9 with the
 * @nats-io 3.x clients: every subject the edge's connection used, nothing else):
 * - forward its events: publish its own `<prefix>.<site>.<node>.events.>` (the ack comes to its inbox);
 *   check the events stream exists: `$JS.API.STREAM.INFO.<stream>` (the hub creates it);
 * - follow the gallery and the anti-passback passages (KV watches = ordered consumers):
 *   `$JS.API.STREAM.INFO.KV_<bucket>`, `$JS.API.CONSUMER.CREATE.KV_<bucket>[.>]`, flow-control
 *   replies `$JS.FC.KV_<bucket>.>`;
 * - upload snapshots to the object store: `$JS.API.STREAM.INFO.OBJ_<bucket>`, reading an object's
 *   metadata `$JS.API.STREAM.MSG.GET.OBJ_<bucket>` and writing chunks + metadata `$O.<bucket>.>`;
 * - `$JS.API.INFO` (the clients check the account's JetStream once per connection);
 * - receive replies and consumer deliveries on its own inbox prefix `_INBOX_<node>.>` only (the
 *   client is told to use it), never `_INBOX.>`, which would show it everyone's.
 *
 * Refused, and so impossible for a stolen edge credential: purging or deleting any stream or
 * bucket, creating, reading or deleting consumers of the events stream (the hub's durable one
 * included; no ephemeral consumer to read other edges' events), reading events by sequence,
 * writing the gallery or passages buckets, publishing as another node, and listening to other
 * nodes' subjects or inboxes.
 *
 * Left open (by the object store's design: one stream for all nodes, object names inside
 * base64 metadata subjects): an edge can read and overwrite objects of the snapshot store,
 * other nodes' included, until the hub has mirrored them.
 */
import type { FleetConfig } from '../config/fleet.ts';
import { edgeInboxPrefix, eventSubject } from './subjects.ts';

export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** Subjects an edge may publish to / subscribe to, for nats-server's allow lists or a user JWT. */
export function edgePermissions(f: Pick<FleetConfig, 'nodeId' | 'site' | 'names'>): NatsPermissions {
  const n = f.names;
  const kv = (bucket: string): string[] => [`$JS.API.STREAM.INFO.KV_${bucket}`, `$JS.API.CONSUMER.CREATE.KV_${bucket}`, `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`, `$JS.FC.KV_${bucket}.>`];
  return {
    publish: [
      eventSubject({ prefix: n.subjectPrefix, site: f.site, node: f.nodeId }, '>'),
      '$JS.API.INFO',
      `$JS.API.STREAM.INFO.${n.eventsStream}`,
      ...kv(n.galleryBucket),
      ...kv(n.passagesBucket),
      `$JS.API.STREAM.INFO.OBJ_${n.snapshotsBucket}`,
      `$JS.API.STREAM.MSG.GET.OBJ_${n.snapshotsBucket}`,
      `$O.${n.snapshotsBucket}.>`,
    ],
    subscribe: [`${edgeInboxPrefix(f.nodeId)}.>`],
  };
}
