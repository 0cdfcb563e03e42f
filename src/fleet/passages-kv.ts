/**
 * Anti-passback areas on the wire: one JetStream KV bucket (`fleet.names.passagesBucket`) holding
 * the last passage per area and person, written by the hub only, watched by the edges.
 *
 * - Key: `<sha256(area)[:32]>.<sha256(identity id)[:32]>` (hex). Always valid subject tokens
 *   whatever an identity id holds, the identity never appears in a subject, and an edge could
 *   watch one area's keys (`<area hash>.>`). The value carries both names in clear.
 * - Value: the passage (area, identity, gate, node, site, direction, capture time, event id).
 * - `hub`: the hub's heartbeat, put every `fleet.passages.heartbeatMs` while it processes events;
 *   an edge whose heartbeat is older than `staleAfterMs` counts its area state stale.
 * - The bucket keeps one value per key (history 1) for `fleet.passages.ttlHours`.
 */
import { createHash } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ExternalPassage } from '../gates/index.ts';
import { FleetError, messageOf } from './errors.ts';

export const PASSAGE_RECORD_VERSION = 1;
export const HEARTBEAT_KEY = 'hub';

export interface PassageRecord extends ExternalPassage {
  readonly v: 1;
  readonly site: string;
  /** The gate.granted event's id in that node's log. */
  readonly eventId: number;
}

export interface HeartbeatRecord {
  readonly v: 1;
  readonly hub: string;
  readonly timeMs: number;
}

const hash = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 32);

export function passageKey(area: string, identityId: string): string {
  return `${hash(area)}.${hash(identityId)}`;
}

/** The keys of one area (a watch filter). */
export function areaKeys(area: string): string {
  return `${hash(area)}.>`;
}

const isDirection = (v: unknown): v is 'entry' | 'exit' => v === 'entry' || v === 'exit';
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Parse and check a passage value; throws FLEET_BAD_MESSAGE naming the key. */
export function parsePassage(key: string, bytes: Uint8Array): PassageRecord {
  let r: Partial<PassageRecord>;
  try {
    r = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<PassageRecord>;
  } catch (e) {
    throw new FleetError('FLEET_BAD_MESSAGE', `passage ${key} is not JSON: ${messageOf(e)}`, { context: { key } });
  }
  const ok = r?.v === 1 && nonEmpty(r.area) && nonEmpty(r.identityId) && nonEmpty(r.gateId) && nonEmpty(r.nodeId) && typeof r.site === 'string' && isDirection(r.direction) && Number.isFinite(r.timeMs) && Number.isSafeInteger(r.eventId);
  if (!ok || passageKey(r.area as string, r.identityId as string) !== key) {
    throw new FleetError('FLEET_BAD_MESSAGE', `passage ${key} is not a v1 passage record for its key`, { context: { key }, hint: 'the hub and this edge run different facegate versions?' });
  }
  return r as PassageRecord;
}

/**
 * The passage a forwarded gate.granted event stands for, or undefined when it is not an area
 * grant (a gate without `antiPassback.area`, or a box before areas existed).
 */
export function passageOfEvent(node: string, site: string, eventId: number, body: Readonly<Record<string, unknown>>): PassageRecord | undefined {
  if (body.type !== 'gate.granted') return undefined;
  const data = body.data;
  if (typeof data !== 'object' || data === null) return undefined;
  const area = (data as { area?: unknown }).area;
  if (typeof area !== 'object' || area === null) return undefined;
  const { id, direction } = area as { id?: unknown; direction?: unknown };
  const timeMs = Number(body.timeMs);
  if (!nonEmpty(id) || !isDirection(direction) || !nonEmpty(body.identityId) || !nonEmpty(body.gateId) || !Number.isFinite(timeMs)) return undefined;
  return { v: PASSAGE_RECORD_VERSION, area: id, identityId: body.identityId, gateId: body.gateId, nodeId: node, site, direction, timeMs, eventId };
}

export function parseHeartbeat(bytes: Uint8Array): HeartbeatRecord | undefined {
  try {
    const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<HeartbeatRecord>;
    return r?.v === 1 && typeof r.hub === 'string' && Number.isFinite(r.timeMs) ? (r as HeartbeatRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Open the passages bucket; the hub creates it (history 1, values expire after `ttlMs`). A bucket
 * made earlier with another TTL is used as it is (logged by the caller).
 */
export async function openPassageBucket(nc: NatsConnection, bucket: string, create: { ttlMs: number } | undefined): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    if (!create) return await kvm.open(bucket);
    try {
      return await kvm.create(bucket, { history: 1, ttl: create.ttlMs });
    } catch (e) {
      // Created before with other limits: use it (the TTL is a retention detail).
      const kv = await kvm.open(bucket).catch(() => undefined);
      if (kv) return kv;
      throw e;
    }
  } catch (e) {
    throw new FleetError('FLEET_JETSTREAM', `cannot open the passages bucket ${bucket}: ${messageOf(e)}`, {
      context: { bucket },
      hint: create ? 'check that JetStream is on and this user may create KV buckets' : 'start the hub once (it creates the bucket), check fleet.names.passagesBucket, and give this edge subscribe rights on $KV.<bucket>.>',
      cause: e,
    });
  }
}
