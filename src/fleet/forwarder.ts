/**
 * The fleet forwarder: an EventSink (src/outputs/sink.ts) that publishes every event of the local
 * event log (the outbox) to JetStream, at least once and de-duplicated.
 *
 * - Subject `<prefix>.<site>.<node>.events.<type>`, header `Nats-Msg-Id: <node>:<event id>` (the
 *   server drops a re-publish inside the stream's duplicate window; the hub's primary key
 *   (node_id, event_id) drops the rest), plus Facegate-Node / Facegate-Site headers.
 * - The payload is the event exactly as the log holds it (JSON, schema v1). Snapshots never travel
 *   inside events: an event names its snapshot id only.
 * - deliver() publishes a page and resolves only when JetStream has acknowledged every message
 *   of it: the runner advances and persists the cursor after that, never before. A failure (NATS
 *   down, ack timeout) rejects, and the runner offers the same page again later.
 * - The forwarder's cursor starts at 0 (the whole log is forwarded, not only what comes after the
 *   first start): the sink declares firstStart: 'beginning'.
 */
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { FleetConfig } from '../config/fleet.ts';
import { typeMatches, type Event } from '../events/index.ts';
import type { Logger } from '../log.ts';
import type { EventSink, SinkStatus } from '../outputs/index.ts';
import { FleetError, messageOf } from './errors.ts';
import { startNatsLink, type NatsLink } from './nats.ts';
import { ensureEventsStream } from './stream.ts';
import { edgeInboxPrefix, eventSubject, FACEGATE_VERSION, HEADER_NODE, HEADER_SITE, HEADER_VERSION, messageId } from './subjects.ts';

export const FLEET_SINK_NAME = 'fleet';

export interface FleetForwarderOptions {
  readonly fleet: FleetConfig;
  readonly logger: Logger;
  /** Share a connection (the service's fleet link); default: the forwarder opens its own. */
  readonly link?: NatsLink;
}

export interface FleetForwarder extends EventSink {
  readonly link: NatsLink;
  /** Publishes acknowledged as duplicates by JetStream (re-sent after a crash or a failed page). */
  duplicates(): number;
}

export function createFleetForwarder(opts: FleetForwarderOptions): FleetForwarder {
  const f = opts.fleet;
  const log = opts.logger.child({ sink: FLEET_SINK_NAME });
  const names = { prefix: f.names.subjectPrefix, site: f.site, node: f.nodeId };
  const ownLink = opts.link === undefined;
  const link =
    opts.link ??
    startNatsLink({ config: f.nats, name: `facegate-edge-${f.nodeId}`, logger: log, inboxPrefix: edgeInboxPrefix(f.nodeId), onConnect: (nc) => ensureEventsStream(nc, f) });
  let dups = 0;

  const status = (): SinkStatus => {
    const s = link.status();
    return { connected: s.connected, reconnects: s.reconnects, lastError: s.lastError };
  };

  return {
    name: FLEET_SINK_NAME,
    // A forwarder that never ran starts at the beginning of the log: the hub gets the history the
    // box gathered before it joined the fleet.
    firstStart: 'beginning',
    link,
    duplicates: () => dups,
    start: async () => undefined,
    stop: async () => {
      if (ownLink) await link.close();
    },
    accepts: (e: Event) => f.forward.types.some((p) => typeMatches(e.type, p)),
    deliver: async (events: readonly Event[]) => {
      const nc = link.current();
      if (!nc) throw new FleetError('FLEET_NATS_UNAVAILABLE', 'not connected to NATS', { hint: status().lastError });
      const js = jetstream(nc, { timeout: f.forward.ackTimeoutMs });
      const acks = events.map((e) => {
        const h = headers();
        h.set(HEADER_NODE, f.nodeId);
        h.set(HEADER_SITE, f.site);
        h.set(HEADER_VERSION, FACEGATE_VERSION);
        return js.publish(eventSubject(names, e.type), JSON.stringify(e), { msgID: messageId(f.nodeId, e.id), headers: h, timeout: f.forward.ackTimeoutMs });
      });
      const results = await Promise.allSettled(acks);
      let failed: unknown;
      for (const r of results) {
        if (r.status === 'fulfilled') {
          if (r.value.duplicate) dups++;
        } else failed ??= r.reason;
      }
      if (failed !== undefined) throw new FleetError('FLEET_NATS_UNAVAILABLE', `JetStream did not acknowledge ${results.filter((r) => r.status === 'rejected').length} of ${events.length} events: ${messageOf(failed)}`, { cause: failed });
    },
    status,
    onReady: (l) => link.onReady(() => l()),
  };
}
