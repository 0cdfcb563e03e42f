/**
 * The gallery on the wire: one JetStream KV entry per identity (key = identity id), written by
 * the hub, watched by the edges. The value is the identity with all its templates (model id,
 * masked flag, the embedding as base64 little-endian float32); a delete (tombstone) removes the
 * identity. Enrollment crops stay at the hub (templates are what the edges search).
 */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { FleetError, messageOf } from './errors.ts';

/** One template of a stored identity. */
export interface StoredTemplate {
  readonly id: string;
  readonly modelId: string;
  readonly masked: boolean;
  readonly embedding: Float32Array;
  readonly quality: number | null;
  readonly sourcePhotoSha256: string | null;
}

/** One identity as the hub stores it and the gallery bucket carries it (the replication format). */
export interface StoredIdentity {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly templates: readonly StoredTemplate[];
}

export const GALLERY_RECORD_VERSION = 1;

export interface GalleryRecordTemplate {
  readonly id: string;
  readonly modelId: string;
  readonly masked: boolean;
  /** float32 little-endian, base64. */
  readonly embedding: string;
  readonly quality: number | null;
}

export interface GalleryRecord {
  readonly v: 1;
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly updatedMs: number;
  readonly templates: readonly GalleryRecordTemplate[];
}

export function encodeEmbedding(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function decodeEmbedding(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.length === 0 || b.length % 4 !== 0) throw new FleetError('FLEET_BAD_MESSAGE', `an embedding of ${b.length} bytes is not float32`);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function recordOf(i: StoredIdentity): GalleryRecord {
  return { v: GALLERY_RECORD_VERSION, id: i.id, name: i.name, groups: i.groups, metadata: i.metadata, updatedMs: i.updatedMs, templates: i.templates.map((t) => ({ id: t.id, modelId: t.modelId, masked: t.masked, embedding: encodeEmbedding(t.embedding), quality: t.quality })) };
}

/** Parse and check a KV value; throws FLEET_BAD_MESSAGE naming the key. */
export function parseRecord(key: string, bytes: Uint8Array): GalleryRecord {
  let r: GalleryRecord;
  try {
    r = JSON.parse(Buffer.from(bytes).toString('utf8')) as GalleryRecord;
  } catch (e) {
    throw new FleetError('FLEET_BAD_MESSAGE', `gallery entry ${key} is not JSON: ${messageOf(e)}`, { context: { key } });
  }
  if (r?.v !== 1 || r.id !== key || typeof r.name !== 'string' || !Array.isArray(r.groups) || !Array.isArray(r.templates)) {
    throw new FleetError('FLEET_BAD_MESSAGE', `gallery entry ${key} is not a v1 identity record`, { context: { key }, hint: 'the hub and this edge run different facegate versions?' });
  }
  return r;
}

/**
 * The hub's manifest in the gallery bucket: how many identities the hub has (PostgreSQL), put
 * after each published change and each check of the bucket. An edge that syncs to fewer (or to an
 * empty bucket without a manifest: purged, or no hub yet) says so instead of "in sync".
 * Identity ids never start with `_`, so the key cannot clash with one.
 */
export const GALLERY_MANIFEST_KEY = '_manifest';

export interface GalleryManifest {
  readonly v: 1;
  readonly hub: string;
  readonly identities: number;
  readonly timeMs: number;
}

export function parseManifest(bytes: Uint8Array): GalleryManifest | undefined {
  try {
    const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<GalleryManifest>;
    return r?.v === 1 && typeof r.hub === 'string' && Number.isSafeInteger(r.identities) && (r.identities ?? -1) >= 0 && Number.isFinite(r.timeMs) ? (r as GalleryManifest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An erasure decided at the hub (docs/privacy.md), for every edge to replay on its own gallery,
 * event log and snapshots: key `_erasure.<identity id>` in the gallery bucket, put before the
 * identity's own key is deleted (so an online edge still knows the name when it erases). The
 * bucket keeps it (the newest value per key), so an edge that was offline replays it at its next
 * sync. It names no one: the identity id is a random id, the erasure id the hub's journal row.
 */
export const GALLERY_ERASURE_PREFIX = '_erasure.';

export interface ErasureRecord {
  readonly v: 1;
  readonly erasureId: string;
  readonly identityId: string;
  readonly actor: string;
  readonly reason: 'request' | 'retention';
  readonly timeMs: number;
}

export const erasureKey = (identityId: string): string => `${GALLERY_ERASURE_PREFIX}${identityId}`;

/** Parse an erasure entry; throws FLEET_BAD_MESSAGE naming the key. */
export function parseErasure(key: string, bytes: Uint8Array): ErasureRecord {
  let r: Partial<ErasureRecord>;
  try {
    r = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ErasureRecord>;
  } catch (e) {
    throw new FleetError('FLEET_BAD_MESSAGE', `gallery entry ${key} is not JSON: ${messageOf(e)}`, { context: { key } });
  }
  const ok = r?.v === 1 && typeof r.erasureId === 'string' && r.erasureId.length > 0 && typeof r.identityId === 'string' && key === erasureKey(r.identityId) && typeof r.actor === 'string' && (r.reason === 'request' || r.reason === 'retention') && Number.isFinite(r.timeMs);
  if (!ok) throw new FleetError('FLEET_BAD_MESSAGE', `gallery entry ${key} is not a v1 erasure record`, { context: { key }, hint: 'the hub and this edge run different facegate versions?' });
  return r as ErasureRecord;
}

/** Open (creating when missing) the gallery bucket: history 1 (the latest state per identity). */
export async function openGalleryBucket(nc: NatsConnection, bucket: string, create: boolean): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    return create ? await kvm.create(bucket, { history: 1 }) : await kvm.open(bucket);
  } catch (e) {
    throw new FleetError('FLEET_JETSTREAM', `cannot open the gallery bucket ${bucket}: ${messageOf(e)}`, { context: { bucket }, hint: create ? 'check that JetStream is on and this user may create KV buckets' : 'start the hub once (it creates the bucket), or check fleet.names.galleryBucket', cause: e });
  }
}
