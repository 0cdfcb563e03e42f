/**
 * The hub's durable JetStream consumer on the events stream, and the loop that drains it: fetch a
 * batch, write its area grants to the passages bucket, insert it in one PostgreSQL transaction,
 * then ack. A hub killed between the commit and the ack gets the batch again and PostgreSQL's
 * primary key drops it. PostgreSQL down: the batch is held (kept ours with `working()` every third
 * of `fleet.hub.ackWaitMs`, so a crashed hub's batch comes back that soon and a live one's never) and
 * retried with backoff while JetStream keeps the rest; NATS down: the loop waits for the link.
 */
import { AckPolicy, DeliverPolicy, jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HubFleetConfig } from '../config/fleet.ts';
import type { BackoffOptions } from '../lib/backoff.ts';
import { retry } from '../lib/retry.ts';
import { sleep } from '../lib/time.ts';
import type { Logger } from '../log.ts';
import { messageOf } from '../fleet/errors.ts';
import type { NatsLink } from '../fleet/nats.ts';
import { ensureEventsStream, isNotFound, manager } from '../fleet/stream.ts';
import { NS_PER_MS, parseEventSubject } from '../fleet/subjects.ts';
import { rowOf, type BatchStore } from './batches.ts';
import type { PostgresHealth } from './hub-postgres.ts';
import type { HubPassages } from './passages.ts';
import type { HubEventRow } from './store.ts';

/** How often the consume loop checks that its durable consumer still exists (one JetStream API call). */
const CONSUMER_CHECK_MS = 2000;

export interface HubConsumerStats {
  readonly received: number;
  readonly inserted: number;
  /** Messages whose (node, event id) was already stored. */
  readonly duplicates: number;
  /** Times the durable consumer disappeared and was recreated since start. */
  readonly recreated: number;
  readonly lastRecreatedMs: number | undefined;
}

export interface HubConsumer {
  /** The durable consumer, made when missing (at each NATS (re)connection, and by the loop). */
  ensure(nc: NatsConnection): Promise<'exists' | 'created'>;
  /** The consume loop, until `isClosed()`; starts once PostgreSQL has `started`. */
  run(link: NatsLink, started: Promise<void>): Promise<void>;
  stats(): HubConsumerStats;
}

export function createHubConsumer(p: {
  readonly fleet: HubFleetConfig;
  readonly batches: BatchStore;
  readonly passages: HubPassages;
  readonly pg: PostgresHealth;
  readonly log: Logger;
  readonly backoff: BackoffOptions;
  readonly batchSize: number;
  readonly isClosed: () => boolean;
}): HubConsumer {
  const { fleet: f, log, isClosed } = p;
  let received = 0;
  let inserted = 0;
  let duplicates = 0;

  /**
   * A consumer deleted behind the hub's back (an operator, a credential with JetStream API rights)
   * makes fetch quietly return nothing, forever: so the consume loop checks it every
   * CONSUMER_CHECK_MS and after a failed fetch, and one that disappeared after this process saw it
   * is recreated from JetStream's last known ack floor (what follows is replayed; PostgreSQL's
   * primary key drops what was already stored), with an error line and a count in status and metrics.
   */
  let consumerSeen = false;
  let recreated = 0;
  let lostMs: number | undefined;
  let ackFloor = 0;
  let checkedMs = 0;
  const ackWaitMs = f.hub.ackWaitMs;
  const ackWaitNs = ackWaitMs * NS_PER_MS;
  const ensure = async (nc: NatsConnection): Promise<'exists' | 'created'> => {
    const jsm = await manager(nc);
    const stream = f.names.eventsStream;
    const name = f.names.hubConsumer;
    try {
      const info = await jsm.consumers.info(stream, name);
      ackFloor = info.ack_floor.stream_seq;
      consumerSeen = true;
      // A durable made with another ack wait (an older default, a changed config) takes this one.
      // Not fatal: the consumer works with its old wait (only a crashed hub's batch comes later).
      if (info.config.ack_wait !== ackWaitNs) {
        try {
          await jsm.consumers.update(stream, name, { ack_wait: ackWaitNs });
          log.info({ stream, consumer: name, ackWaitMs }, 'fleet hub: durable consumer ack wait updated');
        } catch (e) {
          log.warn({ stream, consumer: name, ackWaitMs, err: messageOf(e) }, `fleet hub: could not set the durable consumer's ack wait to ${ackWaitMs} ms (it keeps ${(info.config.ack_wait ?? 0) / NS_PER_MS} ms); fix: let the hub's NATS user update consumers of ${stream}, or delete the consumer ${name} once for the hub to make it again`);
        }
      }
      return 'exists';
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    await ensureEventsStream(nc, f);
    // The floor belongs to this stream only while the stream still reaches it (not one recreated).
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const from = consumerSeen && ackFloor > 0 && ackFloor <= last ? ackFloor + 1 : undefined;
    await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ...(from ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from } : { deliver_policy: DeliverPolicy.All }), ack_wait: ackWaitNs, max_ack_pending: 20_000 });
    if (consumerSeen) {
      recreated++;
      lostMs = Date.now();
      log.error({ stream, consumer: name, fromSeq: from ?? 1, recreated }, `fleet hub: the durable consumer ${name} of ${stream} disappeared (deleted by someone with JetStream API rights?); recreated, replaying from stream sequence ${from ?? 1} (duplicates are dropped by PostgreSQL). Check who may use $JS.API.CONSUMER.DELETE: edges must not (README "Edge permissions")`);
    } else log.info({ stream, consumer: name }, 'fleet hub: durable consumer created');
    consumerSeen = true;
    return 'created';
  };

  const run = async (link: NatsLink, started: Promise<void>): Promise<void> => {
    await started;
    // One consumer handle per connection (getting it is a JetStream API round trip).
    let consumer: { nc: NatsConnection; c: Consumer } | undefined;
    /** One fetch on the link's connection (waiting for one first); undefined once the hub closes. */
    const fetchBatch = async (): Promise<{ nc: NatsConnection; msgs: JsMsg[] } | undefined> => {
      let nc = link.current();
      while (!nc) {
        if (isClosed()) return undefined;
        await sleep(100, { unref: true });
        nc = link.current();
      }
      // The edges' area state is fresh while this loop turns (not while PostgreSQL holds a batch).
      p.passages.beat();
      if (Date.now() - checkedMs >= CONSUMER_CHECK_MS) {
        checkedMs = Date.now();
        if ((await ensure(nc)) === 'created') consumer = undefined;
      }
      if (!consumer || consumer.nc !== nc) consumer = { nc, c: await jetstream(nc).consumers.get(f.names.eventsStream, f.names.hubConsumer) };
      const msgs: JsMsg[] = [];
      const batch = await consumer.c.fetch({ max_messages: p.batchSize, expires: 1000 });
      for await (const m of batch) msgs.push(m);
      return { nc, msgs };
    };
    const fetchBackoff: BackoffOptions = { ...p.backoff, baseMs: 100, maxMs: 2000 };
    const fetchFailed = (e: unknown): void => {
      consumer = undefined;
      // A fetch that fails may mean the consumer is gone: look at once on the next turn.
      checkedMs = 0;
      if (!isClosed()) log.debug({ err: messageOf(e) }, 'fleet hub: fetch failed; retrying');
    };

    while (!isClosed()) {
      const fetched = await retry(fetchBatch, { backoff: fetchBackoff, stopped: isClosed, onError: fetchFailed });
      if (!fetched.ok || !fetched.value) return;
      const { nc, msgs } = fetched.value;
      if (msgs.length === 0) continue;
      received += msgs.length;
      const good: { m: JsMsg; row: HubEventRow }[] = [];
      const bad: JsMsg[] = [];
      for (const m of msgs) {
        const row = rowOf(m, f);
        if (row) good.push({ m, row });
        else bad.push(m);
      }
      for (const m of bad) {
        log.warn({ subject: m.subject, seq: m.seq }, `fleet hub: a message that is not a facegate event${parseEventSubject(m.subject, f.names.subjectPrefix)?.node === f.nodeId ? ` (it claims the hub's own node id '${f.nodeId}')` : ''}; dropped`);
        m.term();
      }
      // The batch is ours until acked: JetStream hears so every third of the ack wait (passages
      // and PostgreSQL may be slow or down), and redelivers it only once this process is gone.
      const holding = setInterval(() => {
        try {
          for (const g of good) g.m.working();
        } catch {
          // The connection is gone: these messages come again after the ack wait.
        }
      }, Math.max(250, Math.floor(ackWaitMs / 3)));
      try {
        if (!(await storeBatch(nc, good))) continue;
      } finally {
        clearInterval(holding);
      }
      if (isClosed()) return;
      for (const g of good) g.m.ack();
      await nc.flush().catch(() => undefined);
    }

    /** Passages, then PostgreSQL; false when the link went away meanwhile (no ack: JetStream redelivers). */
    async function storeBatch(nc: NatsConnection, good: readonly { m: JsMsg; row: HubEventRow }[]): Promise<boolean> {
      const rows = good.map((g) => g.row);
      // Area grants to the passages bucket first: they do not wait for PostgreSQL. The link lost
      // meanwhile: no ack (JetStream redelivers the batch; writing a passage again changes nothing).
      if (!(await p.passages.apply(rows, () => !isClosed() && link.current() === nc)) && link.current() !== nc) return false;
      const stored = await retry(() => p.batches.store(good), { backoff: p.backoff, stopped: isClosed, onError: (e) => p.pg.failed(e) });
      if (stored.ok) {
        p.pg.ok();
        inserted += stored.value.added.length;
        duplicates += rows.length - stored.value.refused - stored.value.added.length;
      }
      return true;
    }
  };

  return { ensure, run, stats: () => ({ received, inserted, duplicates, recreated, lastRecreatedMs: lostMs }) };
}
