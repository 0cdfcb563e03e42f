/**
 * The box's storage, opened first so a bad path fails before any model loads: the gallery, the
 * event log and the bus that publishes after the log, face snapshots, and their retention (pruned
 * at start and hourly).
 */
import type { Config } from '../config/index.ts';
import { EventBus, EventLog, SnapshotStore } from '../events/index.ts';
import { openGallery, type Gallery } from '../gallery/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export interface Storage {
  readonly gallery: Gallery;
  readonly eventLog: EventLog;
  readonly bus: EventBus;
  readonly snapshots: SnapshotStore;
}

export function openStorage(config: Config, log: Logger, lifetime: Lifetime): Storage {
  const gallery = openGallery(config.gallery.db);
  lifetime.add('gallery', () => gallery.close());
  const eventLog = new EventLog(config.events.db, { retention: { maxAgeMs: config.events.retention.maxAgeDays * DAY_MS, maxCount: config.events.retention.maxEvents } });
  lifetime.add('event log', () => eventLog.close());
  const bus = new EventBus(eventLog);
  lifetime.add('event bus', () => bus.close());
  const snapshots = new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * DAY_MS, maxFiles: 100_000 });

  const prune = (): void => {
    try {
      eventLog.prune(Date.now());
      void snapshots.prune(Date.now()).catch((err: unknown) => log.warn({ err }, 'snapshot prune failed'));
    } catch (err) {
      log.warn({ err }, 'event log prune failed');
    }
  };
  prune();
  const pruner = setInterval(prune, PRUNE_EVERY_MS);
  pruner.unref();
  lifetime.add('retention', () => clearInterval(pruner));
  return { gallery, eventLog, bus, snapshots };
}
