/**
 * Names on the wire, pure: event subjects, message ids, the events stream's settings, KV keys.
 *
 * - events: `<prefix>.<site>.<node>.events.<type>` (type keeps its dots: `gate.granted`), so a hub
 *   or any tool subscribes by site, node or type with NATS wildcards.
 * - message id: `<node>:<event id>`; JetStream drops a second publish with the same id within the
 *   stream's duplicate window, the hub's primary key (node_id, event_id) drops the rest.
 * - gallery: one KV key per identity id (`id_...`, already a valid key).
 */
import type { FleetConfig } from '../config/fleet.ts';

export interface FleetNames {
  readonly prefix: string;
  readonly site: string;
  readonly node: string;
}

export function eventSubject(n: FleetNames, type: string): string {
  return `${n.prefix}.${n.site}.${n.node}.events.${type}`;
}

/** The stream's subjects: every site, node and type. */
export function eventsStreamSubjects(prefix: string): string[] {
  return [`${prefix}.*.*.events.>`];
}

/** Parse `<prefix>.<site>.<node>.events.<type>`; undefined when the subject is not one. */
export function parseEventSubject(subject: string, prefix: string): { site: string; node: string; type: string } | undefined {
  const parts = subject.split('.');
  if (parts.length < 5 || parts[0] !== prefix || parts[3] !== 'events') return undefined;
  return { site: parts[1], node: parts[2], type: parts.slice(4).join('.') };
}

/** An edge's inbox prefix (replies, consumer deliveries): its NATS user subscribes to `<prefix>.>` only. */
export function edgeInboxPrefix(node: string): string {
  return `_INBOX_${node}`;
}

export function messageId(node: string, eventId: number): string {
  return `${node}:${eventId}`;
}

export function parseMessageId(id: string): { node: string; eventId: number } | undefined {
  const i = id.lastIndexOf(':');
  if (i <= 0) return undefined;
  const eventId = Number(id.slice(i + 1));
  if (!Number.isSafeInteger(eventId) || eventId <= 0) return undefined;
  return { node: id.slice(0, i), eventId };
}

export const NS_PER_MS = 1_000_000;

/** The events stream as both the hub and the edges ensure it (file storage, limits retention). */
export function eventsStreamConfig(f: FleetConfig): { name: string; subjects: string[]; duplicateWindowNs: number; maxAgeNs: number } {
  return {
    name: f.names.eventsStream,
    subjects: eventsStreamSubjects(f.names.subjectPrefix),
    duplicateWindowNs: f.stream.duplicateWindowMs * NS_PER_MS,
    maxAgeNs: f.stream.maxAgeDays * 86_400_000 * NS_PER_MS,
  };
}

/** Headers every forwarded event carries besides Nats-Msg-Id. */
export const HEADER_NODE = 'Facegate-Node';
export const HEADER_SITE = 'Facegate-Site';
export const HEADER_VERSION = 'Facegate-Version';
/** What the nodes report to the hub (package.json's version). */
export const FACEGATE_VERSION = '0.1.0';
