/**
 * The hub's side of anti-passback areas across boxes: from the gate.granted events it consumes
 * anyway, the last passage per area and person goes to the passages KV bucket, which every edge
 * watches (src/fleet/passage-follower.ts).
 *
 * Why the hub writes and the edges only read:
 * - One writer. Every grant of every node already passes through the hub's consumer in stream
 *   order; comparing capture times and writing the newer passage happens in one place, with a
 *   compare-and-set on the key's revision so a second hub process on the same consumer cannot
 *   overwrite a newer passage with an older one.
 * - Edge permissions stay narrow. An edge publishes its own node's subjects only (the hub takes
 *   node and site from the subject): it needs subscribe rights on the bucket, never write rights,
 *   so a box cannot write (or erase) passages for gates it does not have.
 * - The same event that the hub stores is the passage: no second message from the edge, and an
 *   edge that was offline sends its grants through the outbox as usual; they reach the other
 *   boxes when it is back.
 * Two paths feed the writer: the hub's durable consumer (every grant, in stream order, before
 * the batch goes to PostgreSQL; what an outage held back arrives this way) and a plain NATS
 * subscription on the grant subjects (`follow`) that sees each forwarded grant the moment the
 * edge publishes it, instead of when the consumer's fetch (which waits up to 1 s for a batch to
 * fill) returns. Writes are compare-and-set and newer-wins, so whichever path comes second
 * changes nothing.
 * The price is one more hop (edge -> NATS -> hub -> bucket -> edges) and a dependency on the
 * hub: the hub marks the bucket alive (`hub` key, every heartbeatMs) only while it processes
 * events, so edges see a stopped or stuck hub (PostgreSQL down holds its batches too) as stale
 * area state and say so, while they keep deciding from local state.
 */
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { FleetConfig } from '../config/fleet.ts';
import type { Logger } from '../log.ts';
import { messageOf } from '../fleet/errors.ts';
import type { HubEventRow } from './store.ts';
import { HEARTBEAT_KEY, parsePassage, passageKey, passageOfEvent, type PassageRecord } from '../fleet/passages-kv.ts';
import { parseEventSubject, parseMessageId } from '../fleet/subjects.ts';
import type { BackoffOptions } from '../lib/backoff.ts';
import { retryUntil } from '../lib/retry.ts';

export interface HubPassages {
  /** Use this bucket handle (the hub opens it on each (re)connection). */
  setBucket(kv: KV | undefined): void;
  /**
   * Write the passages of a batch's area grants (newer capture time wins). Resolves true when
   * written, or nothing to write; false when the bucket was not writable within the attempts
   * (logged once per outage; the batch goes on: area state is soft).
   */
  apply(rows: readonly HubEventRow[], keepGoing: () => boolean): Promise<boolean>;
  /**
   * Also write grants as they are published (a core NATS subscription on this connection; the
   * client renews it after a reconnection). Idempotent per connection.
   */
  follow(nc: NatsConnection): void;
  /** Mark the bucket alive, at most every heartbeatMs (call it from the consumer loop). */
  beat(nowMs?: number): void;
  /** Passages written since start. */
  written(): number;
}

/** A batch's passages: 100 ms doubling, 5 attempts (1.5 s of waits), then the batch goes on without them. */
const APPLY_BACKOFF: BackoffOptions = { baseMs: 100, maxMs: 800, factor: 2, jitter: 0 };

/** The newest passage per key of a batch (a person passing twice in one batch is one write). */
export function newestPassages(rows: readonly HubEventRow[]): PassageRecord[] {
  const byKey = new Map<string, PassageRecord>();
  for (const r of rows) {
    const p = passageOfEvent(r.nodeId, r.site, r.eventId, r.body);
    if (!p) continue;
    const k = passageKey(p.area, p.identityId);
    const cur = byKey.get(k);
    if (!cur || p.timeMs > cur.timeMs) byKey.set(k, p);
  }
  return [...byKey.values()];
}

export function createHubPassages(o: { readonly fleet: FleetConfig; readonly logger: Logger }): HubPassages {
  const log = o.logger.child({ fleet: 'passages' });
  const hubId = o.fleet.nodeId;
  let kv: KV | undefined;
  let written = 0;
  let lastBeat = 0;
  let beating = false;
  let failing: string | undefined;
  let live: { nc: NatsConnection; sub: Subscription } | undefined;
  const prefix = o.fleet.names.subjectPrefix;

  /** Compare-and-set: write p unless the bucket holds a passage at least as new. */
  const put = async (bucket: KV, p: PassageRecord): Promise<void> => {
    const key = passageKey(p.area, p.identityId);
    const value = JSON.stringify(p);
    for (let attempt = 0; ; attempt++) {
      const cur = await bucket.get(key);
      let revision: number | undefined;
      if (cur && cur.operation === 'PUT') {
        let known: PassageRecord | undefined;
        try {
          known = parsePassage(key, cur.value);
        } catch {
          known = undefined; // a bad value is replaced
        }
        if (known && known.timeMs >= p.timeMs) return;
        revision = cur.revision;
      }
      try {
        if (revision === undefined) await bucket.create(key, value);
        else await bucket.update(key, value, revision);
        written++;
        return;
      } catch (e) {
        // Someone wrote the key in between (another hub): read it again and compare.
        if (attempt >= 4) throw e;
      }
    }
  };

  return {
    setBucket: (b) => {
      kv = b;
    },
    apply: async (rows, keepGoing) => {
      const passages = newestPassages(rows);
      if (passages.length === 0) return true;
      return retryUntil(
        async () => {
          // No bucket yet (NATS down): wait and look again, nothing to report.
          const bucket = kv;
          if (!bucket) return false;
          for (const p of passages) await put(bucket, p);
          if (failing !== undefined) log.info('fleet hub: passages are written again');
          failing = undefined;
          return true;
        },
        {
          backoff: APPLY_BACKOFF,
          maxAttempts: 5,
          stopped: () => !keepGoing(),
          onError: (e) => {
            const detail = messageOf(e);
            if (failing === undefined) log.warn({ detail, bucket: o.fleet.names.passagesBucket }, 'fleet hub: anti-passback passages not written; retrying (edges decide from local state meanwhile)');
            failing = detail;
          },
        },
      );
    },
    follow: (nc) => {
      if (live?.nc === nc && !live.sub.isClosed()) return;
      const sub = nc.subscribe(`${prefix}.*.*.events.gate.granted`);
      live = { nc, sub };
      void (async () => {
        for await (const m of sub) {
          // Node and site from the subject, as the consumer does; the id must agree with it.
          const where = parseEventSubject(m.subject, prefix);
          const id = parseMessageId(m.headers?.get('Nats-Msg-Id') ?? '');
          let body: Record<string, unknown>;
          try {
            body = m.json<Record<string, unknown>>();
          } catch {
            continue;
          }
          if (!where || !id || id.node !== where.node || typeof body !== 'object' || body === null || Number(body.id) !== id.eventId) continue;
          const p = passageOfEvent(where.node, where.site, id.eventId, body);
          const bucket = kv;
          if (!p || !bucket) continue;
          // A failure here is retried by the consumer path, which sees the same grant.
          await put(bucket, p).catch((e: unknown) => log.debug({ detail: messageOf(e) }, 'fleet hub: live passage not written; the consumer will'));
        }
      })();
    },
    beat: (nowMs = Date.now()) => {
      const bucket = kv;
      if (!bucket || beating || nowMs - lastBeat < o.fleet.passages.heartbeatMs) return;
      beating = true;
      bucket
        .put(HEARTBEAT_KEY, JSON.stringify({ v: 1, hub: hubId, timeMs: nowMs }))
        .then(
          () => (lastBeat = nowMs),
          (e: unknown) => log.debug({ detail: messageOf(e) }, 'fleet hub: passages heartbeat not written'),
        )
        .finally(() => (beating = false));
    },
    written: () => written,
  };
}
