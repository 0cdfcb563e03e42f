/**
 * The hub's PostgreSQL side at start and while it runs: whether it is up (one warning when an
 * outage begins or its reason changes, one info line when it ends), the start (migrate, then load
 * the API's window, retried with backoff until it works, never stopping the API), and the API feed
 * fed from the store: every committed event (the nodes' batches and the hub's own audit events) in
 * hub id order, those committed before the window is loaded held for it, and what other processes
 * committed (their audit events) caught up on their NOTIFY.
 */
import type { BackoffOptions } from '../lib/backoff.ts';
import { retry } from '../lib/retry.ts';
import type { Logger } from '../log.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';
import { toHubEvent, type HubEvent, HubFeed } from './feed.ts';
import type { HubStore, StoredEvent } from './store.ts';

export const toFeed = (rows: readonly StoredEvent[]): HubEvent[] => rows.map((r) => toHubEvent(r.hubId, r.nodeId, r.site, r.body));

/** A feed over the store: GET /v1/events reads PostgreSQL, replay older than the window pages from it. */
export function hubFeedOf(store: HubStore, windowSize: number): HubFeed {
  return new HubFeed(
    windowSize,
    async (q) => toFeed(await store.queryEvents(q)),
    async (after, limit) => toFeed(await store.eventsAfter(after, limit)),
  );
}

export class PostgresHealth {
  private error: FleetError | undefined;
  private logged: string | undefined;
  private startedOk = false;

  constructor(private readonly log: Logger) {}

  /** Migrated and the window loaded (the hub may read and publish from PostgreSQL). */
  started(): boolean {
    return this.startedOk;
  }

  /** Started and the last use worked (status, metrics). */
  healthy(): boolean {
    return this.startedOk && this.error === undefined;
  }

  lastError(): FleetError | undefined {
    return this.error;
  }

  failed(e: unknown): void {
    this.error = e instanceof FleetError ? e : new FleetError('FLEET_POSTGRES_UNAVAILABLE', messageOf(e), { cause: e });
    if (this.logged !== this.error.message) {
      this.logged = this.error.message;
      this.log.warn({ code: this.error.code, detail: this.error.describe() }, 'fleet hub: PostgreSQL not available; retrying');
    }
  }

  ok(): void {
    if (this.logged !== undefined) this.log.info('fleet hub: PostgreSQL available again');
    this.logged = undefined;
    this.error = undefined;
  }

  markStarted(): void {
    this.startedOk = true;
  }
}

export interface HubPostgres {
  readonly health: PostgresHealth;
  /**
   * Migrate, then load the API's window, retried with backoff until it works; resolves then (or
   * when the hub closes first). Called once, after the API holds its port.
   */
  start(): Promise<void>;
  /** Push what other processes committed since the feed's last id (on their NOTIFY). */
  catchUp(): void;
}

/** The feed follows the store from now on; nothing touches PostgreSQL until start(). */
export function createHubPostgres(p: {
  readonly store: HubStore;
  readonly feed: HubFeed;
  readonly log: Logger;
  readonly backoff: BackoffOptions;
  readonly isClosed: () => boolean;
  /** The dead letters PostgreSQL holds, read at start. */
  readonly onDeadLetterCount: (n: number) => void;
}): HubPostgres {
  const { store, feed, log } = p;
  const health = new PostgresHealth(log);
  let windowLoaded = false;
  const early: HubEvent[] = [];
  store.onCommitted((added) => {
    const events = added.map((a) => toHubEvent(a.hubId, a.row.nodeId, a.row.site, a.row.body));
    if (windowLoaded) feed.push(events);
    else early.push(...events);
  });

  let started: Promise<void> | undefined;
  const start = (): Promise<void> =>
    (started ??= retry(
      async () => {
        await store.migrate();
        p.onDeadLetterCount(await store.deadLetterCount());
        const recent = await store.recentEvents(feed.capacity);
        feed.push(toFeed(recent));
        windowLoaded = true;
        feed.push(early.splice(0));
        health.markStarted();
        health.ok();
        log.info({ events: feed.size(), lastId: feed.lastId() }, 'fleet hub: PostgreSQL ready');
      },
      { backoff: p.backoff, stopped: p.isClosed, onError: (e) => health.failed(e) },
    ).then(() => undefined));

  // Events another process committed (`enroll --hub`, `hub-identities remove`: their audit events)
  // reach the feed, and so the WebSocket, on the gallery NOTIFY that comes with them. Hub ids are
  // assigned in commit order under the events lock, so reading after the feed's last id misses
  // nothing; an event this process pushes as well is ignored by the feed the second time.
  let catchingUp: Promise<void> = Promise.resolve();
  const catchUp = (): void => {
    catchingUp = catchingUp
      .then(async () => {
        for (;;) {
          const rows = await store.eventsAfter(feed.lastId(), 1000);
          feed.push(toFeed(rows));
          if (rows.length < 1000) return;
        }
      })
      .catch((e: unknown) => log.debug({ detail: messageOf(e) }, 'fleet hub: feed catch-up failed (next NOTIFY retries)'));
  };

  return { health, start, catchUp };
}
