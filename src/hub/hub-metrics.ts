/** The hub's own figures on /metrics, read at scrape time (prom-client gauges with `collect`). */
import { Gauge, type Registry } from 'prom-client';
import type { NodeStatus } from './store.ts';

export interface HubFigures {
  readonly received: () => number;
  readonly inserted: () => number;
  readonly duplicates: () => number;
  readonly natsConnected: () => boolean;
  readonly postgresReady: () => boolean;
  readonly consumerRecreated: () => number;
  readonly deadLetters: () => number;
  readonly passagesWritten: () => number;
  readonly galleryRepaired: () => number;
  readonly galleryPending: () => number;
  readonly windowEvents: () => number;
  readonly nodes: () => readonly NodeStatus[];
}

export function registerHubMetrics(registry: Registry, h: HubFigures): void {
  const gauge = (name: string, help: string, value: () => number, labelNames: string[] = []): void => {
    new Gauge({ name: `facegate_fleet_hub_${name}`, help, labelNames, registers: [registry], collect() { this.set(value()); } });
  };
  gauge('messages_received', 'event messages fetched from JetStream since start', h.received);
  gauge('events_inserted', 'events stored in PostgreSQL since start (new ones)', h.inserted);
  gauge('duplicates', 'messages whose (node, event id) was already stored', h.duplicates);
  gauge('nats_connected', '1 when the hub is connected to NATS and its stream/consumer/bucket are ensured', () => (h.natsConnected() ? 1 : 0));
  gauge('postgres_ready', '1 when PostgreSQL took the last batch', () => (h.postgresReady() ? 1 : 0));
  gauge('consumer_recreated', 'times the durable consumer disappeared and was recreated since start (non-zero: someone deleted it)', h.consumerRecreated);
  gauge('dead_letters', 'events quarantined in PostgreSQL dead_letters because their content cannot be stored (non-zero: look at the table)', h.deadLetters);
  gauge('passages_written', 'anti-passback passages written to the passages bucket since start', h.passagesWritten);
  gauge('gallery_repaired', 'gallery bucket entries put back or removed since start to match PostgreSQL (non-zero: the bucket was purged or written by someone else)', h.galleryRepaired);
  gauge('gallery_pending', 'gallery changes not yet published to the KV bucket (last count)', h.galleryPending);
  gauge('api_window_events', 'events the API can replay from memory', h.windowEvents);
  new Gauge({
    name: 'facegate_fleet_hub_node_last_seen_seconds',
    help: 'seconds since the hub last received an event of each node',
    labelNames: ['node', 'site'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of h.nodes()) this.set({ node: n.nodeId, site: n.site }, Math.max(0, (Date.now() - n.lastSeenMs) / 1000));
    },
  });
}
