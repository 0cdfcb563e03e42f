/**
 * A fetched batch of event messages into PostgreSQL: each message checked and turned into a row
 * (node and site from the subject, never from a header), the batch stored in one transaction, and
 * a message PostgreSQL refuses for its content (a NUL or a lone surrogate that jsonb cannot hold)
 * quarantined in dead_letters with the reason and its raw bytes: poison, not an outage.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { FleetConfig } from '../config/fleet.ts';
import type { Logger } from '../log.ts';
import type { FleetError } from '../fleet/errors.ts';
import { HEADER_VERSION, parseEventSubject, parseMessageId } from '../fleet/subjects.ts';
import { findBadText } from '../lib/text.ts';
import { isContentError, type DeadLetter, type HubEventRow, type HubStore, type InsertedEvent } from './store.ts';

export interface HubDeadLetterSummary {
  readonly subject: string;
  readonly nodeId: string | undefined;
  readonly eventId: number | undefined;
  readonly reason: string;
  readonly atMs: number;
}

/** A message's row, or undefined when it is not a facegate event this hub may store. */
export function rowOf(m: JsMsg, fleet: Pick<FleetConfig, 'nodeId' | 'names'>): HubEventRow | undefined {
  // Node and site come from the subject (what NATS permissions govern), never from a header.
  const where = parseEventSubject(m.subject, fleet.names.subjectPrefix);
  const id = parseMessageId(m.headers?.get('Nats-Msg-Id') ?? '');
  let body: Record<string, unknown>;
  try {
    body = m.json<Record<string, unknown>>();
  } catch {
    return undefined;
  }
  if (!where || typeof body !== 'object' || body === null) return undefined;
  // The hub's own origin (its audit events): no edge may speak for it.
  if (where.node === fleet.nodeId) return undefined;
  const eventId = Number(body.id);
  if (!Number.isSafeInteger(eventId) || eventId <= 0 || (id && (id.node !== where.node || id.eventId !== eventId))) return undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return { nodeId: where.node, site: where.site, eventId, type: String(body.type ?? where.type), timeMs: Number(body.timeMs ?? 0), cameraId: str(body.cameraId), gateId: str(body.gateId), identityId: str(body.identityId), body, version: m.headers?.get(HEADER_VERSION) || undefined };
}

/** Why PostgreSQL refused a row, for a person: the field with a NUL / lone surrogate, else its own words. */
export function refusal(r: HubEventRow, e: FleetError): string {
  let bad: ReturnType<typeof findBadText>;
  try {
    bad = findBadText(r.body) ?? findBadText({ node: r.nodeId, site: r.site, version: r.version });
  } catch {
    // findBadText recurses: a body nested too deeply for it is described by `e` already.
  }
  if (!bad) return e.message;
  return `${bad.path || 'event'}: ${bad.kind === 'nul' ? 'NUL (U+0000)' : 'lone surrogate'} at index ${bad.index} (PostgreSQL text and jsonb cannot hold it)`;
}

function deadLetterOf(m: JsMsg, row: HubEventRow, reason: string): DeadLetter {
  const headers: Record<string, string> = {};
  for (const k of m.headers?.keys() ?? []) headers[k] = m.headers?.get(k) ?? '';
  return { subject: m.subject, streamSeq: m.seq, nodeId: row.nodeId, site: row.site, eventId: row.eventId, msgId: m.headers?.get('Nats-Msg-Id') || undefined, headers, reason, raw: m.data };
}

export interface BatchStore {
  /**
   * Store a batch in one transaction. When PostgreSQL refuses it for its content (SQLSTATE class
   * 22 / 54, or a body that cannot be serialised), the rows go one by one: those refused are
   * poison and go to dead_letters with the reason and their raw bytes, the others are stored.
   * Poison is rare, so the fast path stays one transaction per batch, and what is quarantined is
   * exactly what PostgreSQL refused (no guessing ahead of it). A content error never counts as an
   * outage; any other error is thrown (the caller holds the batch and retries; the search is
   * redone then, and a redelivered dead letter is not a second row).
   */
  store(good: readonly { m: JsMsg; row: HubEventRow }[]): Promise<{ added: InsertedEvent[]; refused: number }>;
  /** Dead letters PostgreSQL holds (read at start, then counted), and the newest this process quarantined. */
  deadLetters(): { readonly count: number; readonly last: HubDeadLetterSummary | undefined };
  setDeadLetterCount(n: number): void;
}

export function createBatchStore(store: HubStore, log: Logger): BatchStore {
  let deadLetterCount = 0;
  let lastDeadLetter: HubDeadLetterSummary | undefined;
  return {
    store: async (good) => {
      const poison: { m: JsMsg; row: HubEventRow; reason: string }[] = [];
      let added: InsertedEvent[];
      let refused = 0;
      try {
        added = await store.insertEvents(good.map((g) => g.row));
      } catch (e) {
        if (!isContentError(e)) throw e;
        added = [];
        for (const g of good) {
          try {
            added.push(...(await store.insertEvents([g.row])));
          } catch (e1) {
            if (!isContentError(e1)) throw e1;
            refused++;
            poison.push({ ...g, reason: refusal(g.row, e1) });
          }
        }
      }
      if (poison.length > 0) {
        deadLetterCount += await store.quarantine(poison.map((p) => deadLetterOf(p.m, p.row, p.reason)));
        for (const p of poison) {
          lastDeadLetter = { subject: p.m.subject, nodeId: p.row.nodeId, eventId: p.row.eventId, reason: p.reason, atMs: Date.now() };
          log.error({ subject: p.m.subject, seq: p.m.seq, node: p.row.nodeId, site: p.row.site, eventId: p.row.eventId, reason: p.reason, deadLetters: deadLetterCount }, 'fleet hub: an event PostgreSQL cannot store was quarantined in dead_letters (the other events go on); see the table for the raw message');
        }
      }
      return { added, refused };
    },
    deadLetters: () => ({ count: deadLetterCount, last: lastDeadLetter }),
    setDeadLetterCount: (n) => {
      deadLetterCount = n;
    },
  };
}
