/**
 * The box's storage, opened first so a bad path fails before any model loads: the gallery, the
 * event log and the bus that publishes after the log, face snapshots, and their retention (the
 * run of src/app/retention.ts, at start and every privacy.retention.intervalMinutes). With
 * privacy.encryption on, the key is loaded first and both the gallery and the snapshot folder are
 * unlocked with it: a missing or wrong key stops the start here (PrivacyError), before anything
 * is served.
 */
import type { Config } from '../config/index.ts';
import { EventBus, EventLog, SnapshotStore } from '../events/index.ts';
import { openGallery, type Gallery, type GalleryEncryption } from '../gallery/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { loadKek } from '../privacy/index.ts';
import { startRetention } from './retention.ts';

/** The key-encryption key the config names (undefined with encryption off). */
export function encryptionFor(config: Pick<Config, 'privacy'>, env: NodeJS.ProcessEnv = process.env): GalleryEncryption | undefined {
  const e = config.privacy.encryption;
  if (!e.enabled) return undefined;
  const { kek, source } = loadKek({ keyFile: e.keyFile, keyEnv: e.keyEnv, env });
  return { kek, source };
}

const DAY_MS = 86_400_000;

export interface Storage {
  readonly gallery: Gallery;
  readonly eventLog: EventLog;
  readonly bus: EventBus;
  readonly snapshots: SnapshotStore;
}

/**
 * The gallery, the event log and the snapshot folder a config names, for a command run beside
 * the service (`facegate identities erase|export`): the same files and key, no bus, no timers.
 */
export function openBoxData(config: Config): { gallery: Gallery; eventLog: EventLog; snapshots: SnapshotStore; close(): void } {
  const encryption = encryptionFor(config);
  const gallery = openGallery(config.gallery.db, { create: false, keepCrops: config.privacy.keepEnrollmentCrops, ...(encryption ? { encryption } : {}) });
  let eventLog: EventLog | undefined;
  try {
    eventLog = new EventLog(config.events.db);
    const snapshots = new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * DAY_MS, maxFiles: 100_000, encryption });
    const log = eventLog;
    return { gallery, eventLog: log, snapshots, close: () => (log.close(), gallery.close()) };
  } catch (e) {
    eventLog?.close();
    gallery.close();
    throw e;
  }
}

/** `current`: the config as reloaded, for the settings read per write (privacy.keepEnrollmentCrops). */
export function openStorage(config: Config, log: Logger, lifetime: Lifetime, current: () => Config = () => config): Storage {
  const encryption = encryptionFor(config);
  const gallery = openGallery(config.gallery.db, { negativeMargin: config.recognition.negativeMargin, keepCrops: () => current().privacy.keepEnrollmentCrops, ...(encryption ? { encryption } : {}) });
  lifetime.add('gallery', () => gallery.close());
  if (encryption) log.info({ key: encryption.source }, 'encryption at rest: on');
  if (!config.privacy.keepEnrollmentCrops) {
    // The setting never deletes by itself: say what is still kept and how to remove it.
    const kept = gallery.cropCounts();
    if (kept.crops > 0) log.warn({ crops: kept.crops, identities: kept.identities }, 'privacy.keepEnrollmentCrops is false but enrollment crops from before are still stored: `facegate gallery drop-crops --config FILE` removes them');
  }
  const eventLog = new EventLog(config.events.db, { retention: { maxAgeMs: config.events.retention.maxAgeDays * DAY_MS, maxCount: config.events.retention.maxEvents } });
  lifetime.add('event log', () => eventLog.close());
  const bus = new EventBus(eventLog);
  lifetime.add('event bus', () => bus.close());
  const snapshots = new SnapshotStore(config.events.snapshots.dir, { retentionMs: config.events.snapshots.retentionDays * DAY_MS, maxFiles: 100_000, encryption, blurOthers: () => current().events.snapshots.blurOthers });
  // Plain JPEGs from before encryption was turned on: encrypted in the background (read() serves both meanwhile).
  if (encryption) void snapshots.encryptExisting().then((n) => n && log.info({ files: n }, 'snapshots encrypted'), (err: unknown) => log.warn({ err }, 'encrypting existing snapshots failed'));

  // Retention (src/app/retention.ts): at start, then every privacy.retention.intervalMinutes.
  startRetention({ gallery, eventLog, snapshots, publish: (e) => bus.publish(e), log }, config.privacy.retention, lifetime);
  return { gallery, eventLog, bus, snapshots };
}
