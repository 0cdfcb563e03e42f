/**
 * What changed between two configs, so hot reload restarts only that: cameras by id (deep
 * compare of each camera), `events.outputs` apart from the rest of `events` (and
 * `events.snapshots.blurOthers`, read at each snapshot, in neither), and every other section as a
 * whole. Pure.
 */
import { CONFIG_SECTIONS, type Config, type ConfigSection } from './schema.ts';

export interface CameraChanges {
  /** Ids in `next` only. */
  readonly added: readonly string[];
  /** Ids in `old` only. */
  readonly removed: readonly string[];
  /** Ids in both whose settings differ (restart that camera). */
  readonly changed: readonly string[];
}

export interface ConfigDiff {
  readonly cameras: CameraChanges;
  readonly server: boolean;
  readonly auth: boolean;
  readonly models: boolean;
  /** `limits` (maxCameras, cameraStartStaggerMs): nothing to restart, read when cameras start. */
  readonly limits: boolean;
  readonly recognition: boolean;
  readonly gates: boolean;
  /** `events` apart from `events.outputs` and `events.snapshots.blurOthers` (the log, the snapshot folder, retention): restart. */
  readonly events: boolean;
  /** `events.outputs` (the MQTT sink): applied at once by restarting the sink from its cursor. */
  readonly outputs: boolean;
  readonly gallery: boolean;
  /** `privacy.encryption` needs a restart (the stores unlock their keys at open); consent is read per enrollment. */
  readonly privacy: boolean;
  readonly logging: boolean;
  /** `fleet`: the forwarder and gallery follower start with the service: restart. */
  readonly fleet: boolean;
  /** The sections that changed, in file order (`cameras` only when a camera was added/removed/changed). */
  readonly sections: readonly ConfigSection[];
  /** Anything at all changed (reordering cameras alone is no change). */
  readonly changed: boolean;
}

/** Structural equality of JSON-like values (plain objects, arrays, primitives). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

export function diffConfig(old: Config, next: Config): ConfigDiff {
  const before = new Map(old.cameras.map((c) => [c.id, c]));
  const after = new Map(next.cameras.map((c) => [c.id, c]));
  const added = [...after.keys()].filter((id) => !before.has(id));
  const removed = [...before.keys()].filter((id) => !after.has(id));
  const changed = [...after.keys()].filter((id) => before.has(id) && !deepEqual(before.get(id), after.get(id)));
  const cameras: CameraChanges = { added, removed, changed };
  const camerasChanged = added.length + removed.length + changed.length > 0;

  const flags = {} as Record<Exclude<ConfigSection, 'cameras'>, boolean>;
  const sections: ConfigSection[] = [];
  for (const s of CONFIG_SECTIONS) {
    if (s === 'cameras') {
      if (camerasChanged) sections.push(s);
      continue;
    }
    flags[s] = !deepEqual(old[s], next[s]);
    if (flags[s]) sections.push(s);
  }
  // The output sinks restart on their own (from their cursors) and the snapshot store reads
  // blurOthers at each save; the rest of `events` needs a restart.
  const outputs = !deepEqual(old.events.outputs, next.events.outputs);
  const restartPart = (e: Config['events']) => ({ ...e, outputs: undefined, snapshots: { ...e.snapshots, blurOthers: undefined } });
  flags.events = !deepEqual(restartPart(old.events), restartPart(next.events));
  return { cameras, ...flags, outputs, sections, changed: sections.length > 0 };
}
