/** What the API server needs from the rest of facegate, and what it offers. */
import type { Observable } from 'rxjs';
import type { Logger } from '../log.ts';
import type { TokenEntry } from './auth.ts';
import type { ServerLimits } from './limits.ts';
import type { Metrics } from './metrics.ts';
import type { EventFilter } from './protocol.ts';

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
  readonly limit?: number;
}

/** What the API needs of the event log + bus. */
export interface EventFeed {
  lastId(): number;
  /** Every logged event after `sinceId` matching the filter, then live ones: no gap, no duplicate. */
  replayThenLive(sinceId: number, filter: EventFilter): Observable<ApiEvent>;
  query(q: EventQuery): readonly ApiEvent[];
}

/** Outcome of enrolling a photo: what was stored, or why the photo was rejected. */
export interface EnrollOutcome {
  readonly ok: boolean;
  readonly message?: string;
  readonly reason?: string;
}

/**
 * Identity management. `actor` is the id of the token that asked (never the token): every change
 * is an audit event (identity.created / identity.updated / identity.removed) naming it.
 */
export interface IdentityApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  /** A new identity from its first photo: an identity without a template could never be recognised. */
  create(input: { name: string; groups: readonly string[]; photo: Buffer }, actor: string): Promise<EnrollOutcome & { identity?: unknown }>;
  /** Rename and/or regroup; resolves to the identity as it is now. */
  update(id: string, changes: { readonly name?: string; readonly groups?: readonly string[] }, actor: string): unknown;
  remove(id: string, actor: string): boolean;
  /** Enroll one photo (bytes) for an identity; resolves to what was stored or a rejection. */
  enrollPhoto(id: string, photo: Buffer, actor: string): Promise<EnrollOutcome & { templates?: number }>;
}

export interface GateApi {
  list(): readonly unknown[];
  get(id: string): unknown;
  manual(id: string, action: 'open' | 'hold-open' | 'close', by: string, reason: string): Promise<unknown>;
}

export interface ApiDeps {
  readonly events: EventFeed;
  readonly tokens: () => readonly TokenEntry[];
  readonly metrics: Metrics;
  readonly identities?: IdentityApi;
  readonly gates?: GateApi;
  readonly cameras?: () => readonly unknown[];
  /** Absolute path of a snapshot JPEG by id, or undefined (ids are validated by the store). */
  readonly snapshotPath?: (id: string, kind: 'face' | 'frame') => string | undefined;
  readonly ready?: () => boolean;
  readonly logger?: Logger;
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
