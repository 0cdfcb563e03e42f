/** What the API server needs from the rest of facegate, and what it offers. */
import type { Observable } from 'rxjs';
import type { Logger } from '../log.ts';
import type { TokenEntry } from './auth.ts';
import type { ServerLimits } from './limits.ts';
import type { Metrics } from './metrics.ts';
import type { Route } from './router.ts';
import type { EventFilter } from './protocol.ts';
import type { UploadLimits } from './upload-slots.ts';

/** An event as the API sees it: the log's envelope, with its monotonic id. */
export interface ApiEvent {
  readonly id: number;
  readonly type: string;
}

export interface EventQuery {
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly types?: readonly string[];
  readonly cameraId?: string;
  readonly gateId?: string;
  readonly identityId?: string;
  /** Fleet origin (a hub's events): `?node=` and `?site=`. A single box's events have none. */
  readonly nodeId?: string;
  readonly site?: string;
  /** asc (default): oldest first; desc: newest first (the dashboard pages backwards). */
  readonly order?: 'asc' | 'desc';
  readonly limit?: number;
}

/** What the API needs of the event log + bus. */
export interface EventFeed {
  lastId(): number;
  /** Every logged event after `sinceId` matching the filter, then live ones: no gap, no duplicate. */
  replayThenLive(sinceId: number, filter: EventFilter): Observable<ApiEvent>;
  /** GET /v1/events: a box answers from its log at once; the fleet hub asks PostgreSQL. */
  query(q: EventQuery): readonly ApiEvent[] | Promise<readonly ApiEvent[]>;
}

/** Outcome of enrolling a photo: what was stored, or why the photo was rejected. */
export interface EnrollOutcome {
  readonly ok: boolean;
  readonly message?: string;
  readonly reason?: string;
}

/**
 * The person's consent as the client states it at enrollment; the box adds when and who
 * (the token id). Required when privacy.requireConsent is on.
 */
export interface ConsentInput {
  /** The notice the person was shown, or a reference to the signed form. */
  readonly text: string;
  readonly method?: string;
  readonly purpose?: string;
  /** ms since the epoch; absent: until withdrawn. */
  readonly expiresAt?: number;
}

/**
 * Identity management. `actor` is the id of the token that asked (never the token): every change
 * is an audit event (identity.created / identity.updated / identity.removed) naming it.
 */
export interface IdentityApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  /**
   * A new identity from its first photo: an identity without a template could never be recognised.
   * `force`: enroll it even when it looks like someone already enrolled (the look-alike check).
   */
  create(input: { name: string; groups: readonly string[]; photo: Buffer; consent?: ConsentInput; force?: boolean }, actor: string): Promise<EnrollOutcome & { identity?: unknown }>;
  /** Rename and/or regroup; resolves to the identity as it is now. */
  /** Rename, regroup, or merge into the metadata (a key set to null is removed: JSON merge patch). */
  update(id: string, changes: { readonly name?: string; readonly groups?: readonly string[]; readonly metadata?: Readonly<Record<string, unknown>> }, actor: string): unknown;
  remove(id: string, actor: string): boolean;
  /** Enroll one photo (bytes) for an identity; resolves to what was stored or a rejection. */
  enrollPhoto(id: string, photo: Buffer, actor: string, opts?: { readonly force?: boolean }): Promise<EnrollOutcome & { templates?: number }>;
  /** Erase a person (docs/privacy.md); undefined when there is no such identity. Absent where erasure is not offered (fleet edges). */
  erase?(id: string, actor: string): Promise<unknown>;
  /** Set (null: clear) when the retention run erases the identity (ms); undefined when there is no such identity. */
  setValidUntil?(id: string, validUntil: number | null, actor: string): unknown;
  /** Subject-access export as a ZIP; undefined when there is no such identity. */
  exportZip?(id: string): Promise<Buffer | undefined>;
}

export interface GateApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  manual(id: string, action: 'open' | 'hold-open' | 'close', by: string, reason: string): Promise<unknown>;
}

/** The newest frame of a camera as JPEG (src/app/live-frames.ts), for the dashboard's live tiles. */
export interface LiveFrameApi {
  latest(cameraId: string): Promise<
    | { readonly ok: true; readonly frame: { readonly jpeg: Buffer; readonly seq: number; readonly capturedAt: number; readonly width: number; readonly height: number; readonly sourceWidth: number; readonly sourceHeight: number } }
    | { readonly ok: false; readonly reason: string; readonly message: string }
  >;
}

/** A cluster of recurring unknown faces, as the dashboard lists it. */
export interface UnknownCluster {
  readonly id: string;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Face snapshot ids of recent sightings (newest first), for thumbnails. */
  readonly snapshots: readonly string[];
}

/** Unknown-face clusters (admin: name, merge, dismiss). Every change is an audit event naming the actor. */
export interface UnknownsApi {
  list(): readonly UnknownCluster[];
  /** The cluster becomes an identity with its faces as templates; resolves to that identity. */
  name(id: string, input: { readonly name: string; readonly groups: readonly string[]; readonly consent?: ConsentInput }, actor: string): Promise<unknown>;
  /** `from` joins `into` (counts add up, centroids weighted); resolves to the merged cluster. */
  merge(from: string, into: string, actor: string): UnknownCluster | undefined;
  dismiss(id: string, actor: string): boolean;
}

/** Stored enrollment photos of an identity (the face crops), as JPEG. */
export interface PhotoApi {
  list(identityId: string): readonly { readonly id: string; readonly width: number; readonly height: number }[] | undefined;
  jpeg(identityId: string, photoId: string): Promise<Buffer | undefined>;
}

/** What the dashboard's System page shows. */
export interface SystemInfo {
  readonly version: string;
  readonly uptimeMs: number;
  readonly models: Readonly<Record<string, unknown>>;
  readonly executionProvider: string;
  readonly eventLog: { readonly lastId: number; readonly count?: number };
  readonly stages: Readonly<Record<string, { readonly p50Ms?: number; readonly p99Ms?: number; readonly count: number }>>;
  readonly modelRuns: Readonly<Record<string, { readonly p50Ms?: number; readonly p99Ms?: number; readonly count: number }>>;
}

export interface ApiDeps {
  readonly events: EventFeed;
  readonly tokens: () => readonly TokenEntry[];
  readonly metrics: Metrics;
  readonly identities?: IdentityApi;
  readonly gates?: GateApi;
  readonly cameras?: () => readonly unknown[];
  /**
   * The JPEG bytes of a snapshot, decrypted when the store is encrypted (privacy.encryption), or
   * undefined when there is none (404). The one way the API reads a snapshot.
   */
  readonly snapshotBytes?: (id: string, kind: 'face' | 'frame') => Promise<Buffer | undefined>;
  readonly ready?: () => boolean;
  readonly logger?: Logger;
  /** Latest frame per camera (GET /v1/cameras/:id/frame). */
  readonly liveFrames?: LiveFrameApi;
  readonly unknowns?: UnknownsApi;
  readonly photos?: PhotoApi;
  readonly system?: () => Promise<SystemInfo>;
  /** What enrollment asks of the operator (privacy.requireConsent, privacy.consentNotice), read per request. */
  readonly consentPolicy?: () => { readonly required: boolean; readonly notice: string };
  /** Folder of the built dashboard (web/dist); when absent or not built, `/` says how to build it. */
  readonly webRoot?: string;
  /** More /v1 routes from the composition root (the config editor, src/app/config-api.ts). */
  readonly routes?: readonly Route[];
}

export interface ApiOptions {
  readonly bind: string;
  readonly port: number;
  /** The /v1/events WebSocket (config events.outputs.ws.enabled); default on. */
  readonly eventsSocket?: boolean;
  readonly authEnabled?: boolean;
  readonly allowedOrigins?: readonly string[];
  readonly maxMessageBytes?: number;
  readonly sendBufferMessages?: number;
  /** Bytes the socket may hold unsent for one client before it counts as lagging (default 4 MiB). */
  readonly maxBufferedBytes?: number;
  readonly heartbeatMs?: number;
  readonly maxUploadBytes?: number;
  /** Image-decoding requests (photo uploads, naming an unknown) at once and waiting; default 1 + 4, 20 s wait. */
  readonly uploads?: UploadLimits;
  readonly tls?: { readonly cert: string; readonly key: string };
  /** server.limits of the config: connection caps, timeouts, failed-auth rate (defaults: the config's). */
  readonly limits?: ServerLimits;
  /** Log lines per topic per minute for what clients can trigger (bad messages, failed logins; default 10). */
  readonly logLinesPerMinute?: number;
}

export interface ApiServer {
  readonly port: number;
  readonly url: string;
  /** WebSocket clients connected now. */
  readonly clients: () => number;
  /** TCP connections (HTTP + WebSocket) admitted and open now. */
  readonly connections: () => number;
  close(): Promise<void>;
}
