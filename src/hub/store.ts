/**
 * The hub's PostgreSQL store: every event of every node (primary key (node_id, event_id), so a
 * duplicate that slipped past JetStream's window is still dropped), a hub-wide monotonic id for
 * the API's `since`, node status, and the gallery (identities, templates with their model id) as
 * the fleet's source of truth.
 *
 * One object for the hub, its CLI tools and the tests; the work is done by its parts:
 * - schema.ts: numbered migrations (a hub started against a newer schema refuses to run);
 * - store-db.ts: the pool, transactions, the events transactions that assign hub ids in order;
 * - store-ingest.ts: node batches and the dead letters (content PostgreSQL refuses, quarantined);
 * - store-query.ts: GET /v1/events, the API window, counts, node status;
 * - store-gallery.ts: identities and templates, the gallery outbox and its NOTIFY;
 * - store-erasure.ts: the erasure journal, the person's rows found, deleted and tombstoned;
 * - postgres.ts: connection settings; content errors told apart from outages;
 * - audit.ts: the audit events that go into the same transaction as an identity change.
 */
import type pg from 'pg';
import type { PostgresConfig } from '../config/fleet.ts';
import type { Logger } from '../log.ts';
import type { StoredIdentity, StoredTemplate } from '../fleet/gallery-kv.ts';
import type { HubAudit } from './audit.ts';
import { migrate } from './schema.ts';
import { HubDb, type HubEventRow, type InsertedEvent } from './store-db.ts';
import * as erasure from './store-erasure.ts';
import type { HubErasurePlan, HubErasureRow, PersonEventRow } from './store-erasure.ts';
import * as gallery from './store-gallery.ts';
import * as ingest from './store-ingest.ts';
import type { DeadLetter, StoredDeadLetter } from './store-ingest.ts';
import * as query from './store-query.ts';
import type { HubEventQuery, NodeStatus, StoredEvent } from './store-query.ts';

export type { HubAudit, HubAuditEvent } from './audit.ts';
export { prepareAudit } from './audit.ts';
export { classifyPgError, isContentError, isContentSqlState, postgresClientConfig } from './postgres.ts';
export type { HubEventRow, InsertedEvent } from './store-db.ts';
export { GALLERY_CHANNEL } from './store-gallery.ts';
export type { DeadLetter, StoredDeadLetter } from './store-ingest.ts';
export type { HubErasurePlan, HubErasureRow, PersonEventRow } from './store-erasure.ts';
export type { HubEventQuery, NodeStatus, StoredEvent } from './store-query.ts';

export class HubStore {
  readonly pool: pg.Pool;
  private readonly db: HubDb;

  /**
   * The hub's own origin (config fleet.nodeId + site) for the audit events of changes made through
   * this store by a local tool (`facegate enroll --hub`, `hub-identities remove`); absent: none.
   */
  readonly auditOrigin: { readonly nodeId: string; readonly site: string } | undefined;

  constructor(cfg: PostgresConfig, logger: Logger, opts: { readonly auditOrigin?: { readonly nodeId: string; readonly site: string } } = {}) {
    this.auditOrigin = opts.auditOrigin;
    this.db = new HubDb(cfg, logger);
    this.pool = this.db.pool;
  }

  /**
   * Called with the events of each committed transaction of this store (node batches and the
   * hub's audit events), in hub id order, one transaction after the other: the hub's API feed.
   */
  onCommitted(listener: (events: readonly InsertedEvent[]) => void): void {
    this.db.onCommitted(listener);
  }

  /** Apply the missing migrations (in one transaction, under an advisory lock). */
  migrate(): Promise<number> {
    return this.db.tx(migrate);
  }

  // --- events in: node batches, dead letters --------------------------------------------------

  /** A batch in one transaction, duplicates dropped; the new rows with their hub ids, in order. */
  insertEvents(rows: readonly HubEventRow[], nowMs = Date.now()): Promise<InsertedEvent[]> {
    return ingest.insertEvents(this.db, rows, nowMs);
  }

  /** Quarantine messages whose content cannot be stored; returns how many were new. */
  quarantine(letters: readonly DeadLetter[], nowMs = Date.now()): Promise<number> {
    return ingest.quarantine(this.db, letters, nowMs);
  }

  deadLetters(limit = 1000): Promise<StoredDeadLetter[]> {
    return ingest.deadLetters(this.db, limit);
  }

  deadLetterCount(): Promise<number> {
    return ingest.deadLetterCount(this.db);
  }

  // --- events out: queries, the API window, node status -------------------------------------

  queryEvents(q: HubEventQuery): Promise<StoredEvent[]> {
    return query.queryEvents(this.db, q);
  }

  eventsAfter(hubId: number, limit: number): Promise<StoredEvent[]> {
    return query.eventsAfter(this.db, hubId, limit);
  }

  recentEvents(limit: number): Promise<StoredEvent[]> {
    return query.recentEvents(this.db, limit);
  }

  eventCount(nodeId?: string): Promise<number> {
    return query.eventCount(this.db, nodeId);
  }

  eventIds(nodeId: string): Promise<number[]> {
    return query.eventIds(this.db, nodeId);
  }

  nodes(): Promise<NodeStatus[]> {
    return query.nodes(this.db);
  }

  // --- gallery (source of truth) -------------------------------------------------------------

  putIdentity(i: StoredIdentity, audit?: HubAudit): Promise<void> {
    return gallery.putIdentity(this.db, i, audit);
  }

  updateIdentity(id: string, changes: { readonly name?: string; readonly groups?: readonly string[] }, nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
    return gallery.updateIdentity(this.db, id, changes, nowMs, audit);
  }

  addTemplates(id: string, templates: readonly StoredTemplate[], nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
    return gallery.addTemplates(this.db, id, templates, nowMs, audit);
  }

  removeIdentity(id: string, audit?: HubAudit): Promise<boolean> {
    return gallery.removeIdentity(this.db, id, audit);
  }

  getIdentity(id: string): Promise<StoredIdentity | undefined> {
    return gallery.getIdentity(this.db, id);
  }

  identities(ids?: readonly string[]): Promise<StoredIdentity[]> {
    return gallery.identities(this.db, ids);
  }

  identityIds(): Promise<string[]> {
    return gallery.identityIds(this.db);
  }

  pendingGallery(limit = 500): Promise<{ seq: number; identityId: string; op: 'put' | 'delete' }[]> {
    return gallery.pendingGallery(this.db, limit);
  }

  galleryPublished(seqUpTo: number): Promise<void> {
    return gallery.galleryPublished(this.db, seqUpTo);
  }

  identitySummaries(ids?: readonly string[]): ReturnType<typeof gallery.identitySummaries> {
    return gallery.identitySummaries(this.db, ids);
  }

  identityIdsByName(name: string): Promise<string[]> {
    return gallery.identityIdsByName(this.db, name);
  }

  /** LISTEN for gallery changes (reconnecting every `retryMs`); returns how to stop. */
  listenGallery(onNotify: (identityId: string | undefined) => void, retryMs: number, logger: Logger): () => Promise<void> {
    return gallery.listenGallery(this.db, onNotify, retryMs, logger);
  }

  // --- erasure (erasure.ts orchestrates; docs/privacy.md) ------------------------------------

  beginErasure(identityId: string, o: { readonly id: string; readonly actor: string; readonly reason: 'request' | 'retention'; readonly nowMs: number }): Promise<HubErasureRow | undefined> {
    return erasure.beginErasure(this.db, identityId, o);
  }

  erasure(id: string): Promise<HubErasureRow | undefined> {
    return erasure.erasure(this.db, id);
  }

  finishedErasure(identityId: string): Promise<HubErasureRow | undefined> {
    return erasure.finishedErasure(this.db, identityId);
  }

  pendingErasures(): Promise<HubErasureRow[]> {
    return erasure.pendingErasures(this.db);
  }

  allErasures(): Promise<HubErasureRow[]> {
    return erasure.allErasures(this.db);
  }

  unpublishedErasures(): Promise<HubErasureRow[]> {
    return erasure.unpublishedErasures(this.db);
  }

  erasurePublished(id: string, nowMs = Date.now()): Promise<void> {
    return erasure.erasurePublished(this.db, id, nowMs);
  }

  personEvents(identityId: string, name: string | null): Promise<PersonEventRow[]> {
    return erasure.personEvents(this.db, identityId, name);
  }

  templateCount(identityId: string): Promise<number> {
    return erasure.templateCount(this.db, identityId);
  }

  saveErasurePlan(id: string, plan: HubErasurePlan): Promise<HubErasurePlan> {
    return erasure.savePlan(this.db, id, plan);
  }

  eraseIdentityRows(identityId: string): Promise<boolean> {
    return erasure.eraseIdentityRows(this.db, identityId);
  }

  tombstoneEvents(hubIds: readonly number[], token: string): ReturnType<typeof erasure.tombstoneEvents> {
    return erasure.tombstoneEvents(this.db, hubIds, token);
  }

  tombstonedRows(token: string): ReturnType<typeof erasure.tombstonedRows> {
    return erasure.tombstonedRows(this.db, token);
  }

  finishErasure(id: string, receipt: unknown, audit: HubAudit, nowMs = Date.now()): Promise<InsertedEvent[]> {
    return erasure.finishErasure(this.db, id, receipt, audit, nowMs);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
