/**
 * Ensure the JetStream objects fleet mode runs on exist: the events stream (both the hub and the
 * edges ensure it, so either may start first) and, on the hub, the durable consumer. An existing
 * stream is left as it is (an operator may have tuned it); a missing one is created.
 */
import { jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FleetConfig } from '../config/fleet.ts';
import { FleetError, messageOf } from './errors.ts';
import { eventsStreamConfig } from './subjects.ts';

/** A JetStream "stream not found" / "consumer not found" answer. */
export function isNotFound(e: unknown): boolean {
  return /not found|10059/i.test(messageOf(e));
}

/** NATS refused a subject this user needs: say which, and where the permission set is. */
export function permissionError(e: unknown): FleetError {
  return new FleetError('FLEET_NATS_AUTH', `NATS refused this user a subject it needs (${messageOf(e)})`, { hint: "give an edge's user the permission set of its node (README \"Edge permissions\", src/fleet/permissions.ts: its own events subjects and inbox _INBOX_<nodeId>.>); check that fleet.nodeId and site are the ones its user was made for", cause: e });
}

export async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  try {
    return await jetstreamManager(nc, { timeout: 5000 });
  } catch (e) {
    if (/permissions? violation/i.test(messageOf(e))) throw permissionError(e);
    throw new FleetError('FLEET_JETSTREAM', `JetStream is not available on this NATS server (${messageOf(e)})`, { hint: 'start nats-server with JetStream (-js, or a jetstream {} block in its config)', cause: e });
  }
}

export async function ensureEventsStream(nc: NatsConnection, f: FleetConfig): Promise<void> {
  const jsm = await manager(nc);
  const s = eventsStreamConfig(f);
  try {
    await jsm.streams.info(s.name);
    return;
  } catch (e) {
    if (!isNotFound(e)) throw new FleetError('FLEET_JETSTREAM', `cannot read the events stream ${s.name}: ${messageOf(e)}`, { context: { stream: s.name }, hint: 'give this NATS user access to $JS.API.STREAM.INFO.' + s.name, cause: e });
  }
  try {
    await jsm.streams.add({ name: s.name, subjects: s.subjects, storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: s.duplicateWindowNs, max_age: s.maxAgeNs, num_replicas: 1 });
  } catch (e) {
    // Two boxes starting at once: the other one created it.
    if (/already in use|exists/i.test(messageOf(e))) return;
    // An edge with the least permissions (src/fleet/permissions.ts) may not create it: the hub does.
    throw new FleetError('FLEET_JETSTREAM', `cannot create the events stream ${s.name}: ${messageOf(e)}`, { context: { stream: s.name }, hint: 'start the hub once (it creates the stream at start); edges only need to read its info, and retry until it exists', cause: e });
  }
}
