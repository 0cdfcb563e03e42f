/**
 * The edge side of anti-passback areas across boxes: watch the hub's passages bucket
 * (src/fleet/passages-kv.ts, written by src/fleet/hub-passages.ts) and hand every passage, and the
 * health of the link behind them, to the gate operator as inputs (`inputs$`: AreaInput, merged by
 * the pure mergeExternalPassage / setAreaSync in src/gates/policy.ts). Nothing here decides or
 * keeps gate state: the operator does.
 *
 * - Start (and each process start: gate state lives in memory): every value in the bucket, then
 *   the changes live. After a reconnection: from the last revision seen + 1, so the passages of
 *   the outage arrive (the bucket keeps the newest per key; replays change nothing).
 * - Fresh = NATS ready, the watch caught up with the bucket, and a live heartbeat of the hub (one
 *   received since then, younger than `fleet.passages.staleAfterMs`). Otherwise stale, with the reason; the gates keep deciding from
 *   local state (their own grants and what arrived before) and every area decision records which.
 * - One warning when the area state goes stale (an outage), one info line when it is fresh again;
 *   never one per decision.
 */
import type { KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Observable, Subject } from 'rxjs';
import type { FleetConfig } from '../config/fleet.ts';
import type { AreaInput, AreaSync, AreaSyncMode } from '../gates/index.ts';
import type { Logger } from '../log.ts';
import { FleetError, messageOf } from './errors.ts';
import { followWhileConnected } from './follow-loop.ts';
import type { NatsLink } from './nats.ts';
import { HEARTBEAT_KEY, openPassageBucket, parseHeartbeat, parsePassage } from './passages-kv.ts';

export interface PassageFollowerStatus {
  readonly mode: Exclude<AreaSyncMode, 'local'>;
  /** When the current mode began. */
  readonly sinceMs: number;
  /** Why the area state is stale; undefined when fresh. */
  readonly reason: string | undefined;
  /** The last bucket revision seen. */
  readonly revision: number;
  /** Passages received (all nodes', this one's own included) and records skipped as bad. */
  readonly passages: number;
  readonly skipped: number;
  /** When the hub last marked the bucket alive, as this box saw it. */
  readonly lastHeartbeatMs: number | undefined;
}

export interface PassageFollower {
  /** Hot: the current sync state first, then passages and sync changes as they happen. */
  readonly inputs$: Observable<AreaInput>;
  status(): PassageFollowerStatus;
  /** Resolves when the area state is fresh (or rejects after timeoutMs). */
  fresh(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface PassageFollowerOptions {
  readonly fleet: FleetConfig;
  readonly link: NatsLink;
  readonly logger: Logger;
  /** Wall clock (tests may pass their own). */
  readonly now?: () => number;
  /**
   * Whether this box has gates with an anti-passback area now (hot reload may change it). Without
   * any, the area state going stale is logged at debug, not as a warning. Default: yes.
   */
  readonly hasAreaGates?: () => boolean;
}

export function startPassageFollower(opts: PassageFollowerOptions): PassageFollower {
  const f = opts.fleet;
  const link = opts.link;
  const now = opts.now ?? Date.now;
  const log = opts.logger.child({ fleet: 'passages' });
  const staleAfterMs = f.passages.staleAfterMs;
  const hasAreaGates = opts.hasAreaGates ?? (() => true);
  /** Warnings for a box whose gates use areas; debug lines for the others. */
  const warn = (o: Record<string, unknown>, msg: string): void => (hasAreaGates() ? log.warn(o, msg) : log.debug(o, msg));
  const out = new Subject<AreaInput>();
  const startedMs = now();
  let revision = 0;
  let caughtUp = false;
  let lastBeatMs: number | undefined;
  let passages = 0;
  let skipped = 0;
  let watchError: string | undefined;
  let sync: AreaSync = { mode: 'stale', sinceMs: startedMs, reason: 'not yet in sync with the fleet' };
  let everFresh = false;
  let warnedAtStart = false;
  let closed = false;
  let stopWatch: (() => void) | undefined;
  const freshListeners: (() => void)[] = [];

  const staleReason = (t: number): string | undefined => {
    if (!link.current()) return 'NATS not available';
    if (watchError !== undefined) return 'the passages bucket cannot be watched';
    if (!caughtUp) return 'catching up with the fleet area state';
    if (lastBeatMs === undefined) return 'no heartbeat from the hub yet';
    if (t - lastBeatMs > staleAfterMs) return 'the hub is not processing events (down, or PostgreSQL down)';
    return undefined;
  };

  /** Recompute fresh / stale; emit and log on a change. */
  const evaluate = (): void => {
    const t = now();
    const reason = staleReason(t);
    const mode = reason === undefined ? 'fresh' : 'stale';
    if (mode === sync.mode && reason === sync.reason) {
      if (mode === 'stale' && !everFresh && !warnedAtStart && t - startedMs > staleAfterMs) {
        warnedAtStart = true;
        warn({ reason, detail: watchError ?? link.status().lastError }, 'fleet: anti-passback area state not in sync yet; area gates decide from local state');
      }
      return;
    }
    const prev = sync;
    sync = { mode, sinceMs: mode === prev.mode ? prev.sinceMs : t, ...(reason !== undefined ? { reason } : {}) };
    if (mode !== prev.mode) {
      if (mode === 'stale') warn({ reason, detail: watchError ?? link.status().lastError }, 'fleet: anti-passback area state is stale; area gates decide from local state until it is back');
      else log.info({ staleMs: everFresh ? t - prev.sinceMs : undefined, revision }, everFresh ? 'fleet: anti-passback area state fresh again' : 'fleet: anti-passback area state in sync with the fleet');
      if (mode === 'fresh') {
        everFresh = true;
        for (const l of freshListeners.splice(0)) l();
      }
    }
    out.next({ type: 'area.sync', sync });
  };

  const onEntry = (e: KvWatchEntry): void => {
    revision = Math.max(revision, e.revision);
    if (e.operation !== 'PUT') return;
    if (e.key === HEARTBEAT_KEY) {
      // Only a live heartbeat counts: one replayed while catching up may be from before the
      // outage (the hub may have stopped since), and counting it makes the state flap.
      if (caughtUp && parseHeartbeat(e.value)) lastBeatMs = now();
      return;
    }
    try {
      const p = parsePassage(e.key, e.value);
      passages++;
      out.next({ type: 'area.passage', passage: { area: p.area, identityId: p.identityId, gateId: p.gateId, nodeId: p.nodeId, direction: p.direction, timeMs: p.timeMs } });
    } catch (err) {
      skipped++;
      log.warn({ key: e.key, revision: e.revision, detail: messageOf(err) }, 'fleet: a passage record was skipped');
    }
  };

  const follow = async (nc: NatsConnection): Promise<void> => {
    caughtUp = false;
    const kv = await openPassageBucket(nc, f.names.passagesBucket, undefined);
    const status = await kv.status();
    const target = status.streamInfo.state.last_seq;
    const iter = await kv.watch(revision === 0 ? {} : { resumeFromRevision: revision + 1 });
    stopWatch = () => iter.stop();
    // Closed while the watch was being made: stop it here, or it outlives the close.
    if (closed) return iter.stop();
    watchError = undefined;
    log.debug({ bucket: f.names.passagesBucket, from: revision, target }, 'fleet: following the anti-passback area state');
    if (target <= revision || status.values === 0) caughtUp = true;
    evaluate();
    for await (const e of iter) {
      if (closed) break;
      onEntry(e);
      if (!caughtUp && (e.revision >= target || (e.delta ?? 0) === 0)) caughtUp = true;
      evaluate();
    }
  };

  const offLost = link.onLost(() => {
    caughtUp = false;
    lastBeatMs = undefined;
    stopWatch?.();
    evaluate();
  });
  const loop = followWhileConnected(link, 'passages', follow, (err) => {
    if (watchError !== err.describe()) log.debug({ detail: err.describe() }, 'fleet: passages watch failed; retrying');
    watchError = err.describe();
    evaluate();
  });
  const timer = setInterval(evaluate, Math.max(100, Math.min(1000, Math.floor(staleAfterMs / 4))));
  timer.unref();

  return {
    inputs$: new Observable<AreaInput>((subscriber) => {
      subscriber.next({ type: 'area.sync', sync });
      return out.subscribe(subscriber);
    }),
    status: () => ({ mode: sync.mode === 'fresh' ? 'fresh' : 'stale', sinceMs: sync.sinceMs, reason: sync.reason, revision, passages, skipped, lastHeartbeatMs: lastBeatMs }),
    fresh: (timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        if (sync.mode === 'fresh') return resolve();
        const t = setTimeout(() => reject(new FleetError('FLEET_NATS_UNAVAILABLE', `the anti-passback area state was not fresh within ${timeoutMs} ms (${sync.reason ?? ''})`, { hint: watchError ?? link.status().lastError })), timeoutMs);
        freshListeners.push(() => {
          clearTimeout(t);
          resolve();
        });
      }),
    close: async () => {
      closed = true;
      offLost();
      clearInterval(timer);
      stopWatch?.();
      await loop.stop();
      out.complete();
    },
  };
}
