/**
 * The retention run (docs/privacy.md): what has expired goes, by category, and every run is
 * audited as a `privacy.retention` event with its counts.
 *
 * - identities past their validUntil (visitors): erased like a request (src/app/erasure.ts), each
 *   with its own identity.erased receipt; erasures a kill left pending are completed first;
 * - unknown faces: clusters not seen for privacy.retention.unknownHours, and the snapshots of the
 *   face.unknown sightings older than that (strangers are kept the shortest);
 * - events and the remaining snapshots: events.retention and events.snapshots, as before.
 *
 * The clock is a parameter (tests inject it); the policy is pure (retentionCutoffs, window).
 */
import type { Event, EventLog, NewEventOf, SnapshotStore } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { eraseIdentity, resumeErasures } from './erasure.ts';

const HOUR_MS = 3_600_000;

export interface RetentionSettings {
  readonly unknownHours: number;
  readonly intervalMinutes: number;
}

/** What a run at `nowMs` removes. Pure. */
export function retentionCutoffs(nowMs: number, s: Pick<RetentionSettings, 'unknownHours'>): { unknownBeforeMs: number } {
  return { unknownBeforeMs: nowMs - s.unknownHours * HOUR_MS };
}

/**
 * The face.unknown events whose snapshots a run looks at: everything older than the cutoff on the
 * first run of a process, then only what became old since the previous run (with one interval of
 * overlap, for events logged late). Pure.
 */
export function unknownSnapshotWindow(previousCutoffMs: number | undefined, cutoffMs: number, intervalMs: number): { fromMs: number | undefined; toMs: number } {
  return { fromMs: previousCutoffMs === undefined ? undefined : previousCutoffMs - intervalMs, toMs: cutoffMs };
}

export interface RetentionDeps {
  readonly gallery: Gallery;
  readonly eventLog: EventLog;
  readonly snapshots: SnapshotStore;
  readonly publish: (event: NewEventOf<'identity.erased' | 'privacy.retention'>) => Event | void;
  readonly log?: Logger | undefined;
}

export type RetentionReport = NewEventOf<'privacy.retention'>['data'];

const PAGE = 10_000;

/** One run at `nowMs`. `state.previousCutoffMs` carries the window between runs of one process. */
export async function runRetention(d: RetentionDeps, s: RetentionSettings, nowMs: number, state: { previousCutoffMs?: number } = {}): Promise<RetentionReport> {
  const started = Date.now();
  const erasure = { gallery: d.gallery, eventLog: d.eventLog, snapshots: d.snapshots, publish: d.publish, now: () => nowMs };
  await resumeErasures(erasure);
  let expiredIdentities = 0;
  for (const { id } of d.gallery.expiredIdentities(nowMs)) {
    try {
      await eraseIdentity(erasure, id, { actor: 'retention', reason: 'retention' });
      expiredIdentities++;
    } catch (err) {
      d.log?.warn({ err, identityId: id }, 'retention: erasing an expired identity failed (retried at the next run)');
    }
  }

  const { unknownBeforeMs } = retentionCutoffs(nowMs, s);
  const unknownClusters = d.gallery.pruneUnknowns(unknownBeforeMs);
  const w = unknownSnapshotWindow(state.previousCutoffMs, unknownBeforeMs, s.intervalMinutes * 60_000);
  let unknownSnapshots = 0;
  for (let fromMs = w.fromMs, more = true; more; ) {
    const page = d.eventLog.query({ types: ['face.unknown'], ...(fromMs !== undefined ? { fromMs } : {}), toMs: w.toMs, limit: PAGE });
    for (const e of page) {
      const id = (e.data as { snapshotId?: unknown }).snapshotId;
      if (typeof id === 'string' && (await d.snapshots.remove(id))) unknownSnapshots++;
    }
    more = page.length === PAGE;
    // Pages by time: the next starts at the last one's time (its events again: removes are idempotent).
    if (more) fromMs = page[page.length - 1].timeMs + (page[page.length - 1].timeMs === fromMs ? 1 : 0);
  }
  state.previousCutoffMs = unknownBeforeMs;

  const pruned = d.eventLog.prune(nowMs);
  const snaps = await d.snapshots.prune(nowMs);
  const report: RetentionReport = { unknownClusters, unknownSnapshots, expiredIdentities, events: pruned.byAge + pruned.byCount, snapshots: snaps.removed, durationMs: Date.now() - started };
  d.publish({ type: 'privacy.retention', timeMs: nowMs, data: report });
  return report;
}

/**
 * The periodic run, registered on the service's Lifetime: at start, then every intervalMinutes.
 * Runs never overlap; a failed run is logged and the next one tries again.
 */
export function startRetention(d: RetentionDeps & { readonly log: Logger }, s: RetentionSettings, lifetime: Lifetime, clock: () => number = Date.now): { runNow(): Promise<RetentionReport | undefined> } {
  const state: { previousCutoffMs?: number } = {};
  let running: Promise<RetentionReport | undefined> | undefined;
  const runNow = (): Promise<RetentionReport | undefined> => {
    running ??= runRetention(d, s, clock(), state)
      .then(
        (r) => {
          if (r.unknownClusters || r.unknownSnapshots || r.expiredIdentities || r.events || r.snapshots) d.log.info(r, 'retention run');
          return r;
        },
        (err: unknown) => {
          d.log.warn({ err }, 'retention run failed (retried at the next run)');
          return undefined;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  void runNow();
  const timer = setInterval(() => void runNow(), s.intervalMinutes * 60_000);
  timer.unref();
  lifetime.add('retention', async () => {
    clearInterval(timer);
    await running;
  });
  return { runNow };
}
