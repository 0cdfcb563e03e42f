/**
 * The loop both KV followers (gallery, anti-passback passages) run: follow the bucket on the
 * link's current connection, retry after a failure with backoff (250 ms doubling to 5 s) while
 * that connection lasts, and start again on the next connection. Errors go to `onError` (as
 * FleetErrors, the follower decides how loud); stop() ends it and waits for the loop (<= 2 s).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { BackoffOptions } from '../lib/backoff.ts';
import { retryUntil } from '../lib/retry.ts';
import { FleetError, messageOf } from './errors.ts';
import type { NatsLink } from './nats.ts';

/** 250 ms doubling to 5 s, no jitter: one follower per process, nothing to spread. */
const FOLLOW_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 5000, factor: 2, jitter: 0 };

export interface FollowLoop {
  /** Stop following; the current watch must be stopped by the caller (its iterator). */
  stop(): Promise<void>;
}

export function followWhileConnected(link: NatsLink, what: string, follow: (nc: NatsConnection) => Promise<void>, onError: (err: FleetError) => void): FollowLoop {
  let running: Promise<void> | undefined;
  let closed = false;
  const run = (nc: NatsConnection): void => {
    if (running || closed) return;
    running = (async () => {
      // A watch that ends without an error is followed again too: each round counts as a failure.
      await retryUntil(
        async () => {
          try {
            await follow(nc);
          } catch (e) {
            onError(e instanceof FleetError ? e : new FleetError('FLEET_JETSTREAM', `${what} watch failed: ${messageOf(e)}`, { cause: e }));
          }
          return false;
        },
        { backoff: FOLLOW_BACKOFF, stopped: () => closed || link.current() !== nc },
      );
    })().finally(() => {
      running = undefined;
      // Reconnected while we were winding down: start again.
      const now = link.current();
      if (now && !closed) run(now);
    });
  };
  const offReady = link.onReady((nc) => run(nc));
  const c = link.current();
  if (c) run(c);
  return {
    stop: async () => {
      closed = true;
      offReady();
      await Promise.race([running, new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
}
