/**
 * Bounds on what a config file may hold, and what follows from them. Pure: no I/O, no clock.
 *
 * Why: a config that passes `config check` must not be able to take the service down. A camera
 * URL over 128 KiB made `spawn` fail with E2BIG; 2,000 cameras started at once starved the API for
 * over a minute. So every string and every list has a ceiling (one table, below), the number of
 * cameras has a configurable limit (`limits.maxCameras`), cameras start one after another
 * (`limits.cameraStartStaggerMs`), and configWarnings says when a file asks for more than the
 * measured box can run.
 */
import type { ConfigPath } from './errors.ts';
import { isRecord } from '../lib/records.ts';

/** Largest config file text accepted (10,000 cameras of ~200 bytes each fit with room to spare). */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
/** Deeper than this is no facegate config (the deepest real path is 7 levels). */
export const MAX_CONFIG_DEPTH = 32;
/** At most this many problems are listed; the rest are counted in one last line. */
export const MAX_CONFIG_ISSUES = 100;

/** String lengths, in UTF-16 code units (what `string.length` counts). */
export const MAX_LENGTH = {
  /** Ids (cameras, zones, tokens): slugs. */
  id: 64,
  /** Gate ids: the gates module's own schema allows 128. */
  gateId: 128,
  /** Display names: cameras, gates, identities, groups. */
  name: 200,
  /** Camera and webhook URLs: far below Linux's 128 KiB per-argument limit (E2BIG). */
  url: 4096,
  /** File paths: Linux's PATH_MAX. */
  path: 4096,
  /** gst-launch fragments (a pipeline source, a custom decoder) and command arguments. */
  fragment: 4096,
  /** A browser origin: scheme, host name (at most 253) and port. */
  origin: 300,
  /** A host name or address to bind to. */
  host: 253,
  /** Short words: tiers, patterns, time zones. */
  word: 64,
  /** The webhook HMAC key. */
  secret: 1024,
  /** Any string the table does not name. */
  other: 4096,
} as const;

/** List lengths. */
export const MAX_ITEMS = {
  /** The absolute ceiling of `limits.maxCameras`. */
  cameras: 10_000,
  allowedOrigins: 64,
  tokens: 1000,
  zones: 64,
  polygon: 256,
  gates: 1000,
  gateCameras: 256,
  allowIdentities: 10_000,
  allowGroups: 1000,
  weekly: 64,
  days: 14,
  exceptions: 1000,
  exceptionWindows: 16,
  argv: 64,
  livenessModels: 8,
  /** Any list the table does not name. */
  other: 1000,
} as const;

/** Camera count and start-up; the defaults of the top-level `limits` section. */
export const DEFAULT_MAX_CAMERAS = 64;
export const DEFAULT_CAMERA_START_STAGGER_MS = 200;
export const MAX_CAMERA_START_STAGGER_MS = 60_000;

/**
 * The measured capacity the camera-count warning is based on (`npm run bench -- e2e` on a 2-core
 * box: the figures and their dates are in docs/benchmarks.md).
 */
export const MEASURED_CAPACITY = { cameras: 4, cores: 2, width: 1280, height: 720, fps: 5 } as const;
export const CAMERAS_PER_CORE = MEASURED_CAPACITY.cameras / MEASURED_CAPACITY.cores;

// ---------------------------------------------------------------------------------------------
// The table. A pattern is a config path with `*` for any list index.

const STRING_LIMITS: ReadonlyMap<string, number> = new Map([
  ['server.bind', MAX_LENGTH.host],
  ['server.tls.cert', MAX_LENGTH.path],
  ['server.tls.key', MAX_LENGTH.path],
  ['server.allowedOrigins.*', MAX_LENGTH.origin],
  ['auth.tokens.*.id', MAX_LENGTH.id],
  ['models.embedder', MAX_LENGTH.name],
  ['models.mask', MAX_LENGTH.name],
  ['models.liveness.models.*', MAX_LENGTH.name],
  ['cameras.*.id', MAX_LENGTH.id],
  ['cameras.*.name', MAX_LENGTH.name],
  ['cameras.*.url', MAX_LENGTH.url],
  ['cameras.*.source.url', MAX_LENGTH.url],
  ['cameras.*.source.path', MAX_LENGTH.path],
  ['cameras.*.source.pattern', MAX_LENGTH.word],
  ['cameras.*.source.pipeline', MAX_LENGTH.fragment],
  ['cameras.*.decoder.custom', MAX_LENGTH.fragment],
  ['cameras.*.detector.tier', MAX_LENGTH.word],
  ['cameras.*.detector.model', MAX_LENGTH.name],
  ['cameras.*.zones.*.id', MAX_LENGTH.id],
  ['gates.*.id', MAX_LENGTH.gateId],
  ['gates.*.name', MAX_LENGTH.name],
  ['gates.*.cameras.*', MAX_LENGTH.gateId],
  ['gates.*.allow.identities.*', MAX_LENGTH.name],
  ['gates.*.allow.groups.*', MAX_LENGTH.name],
  ['gates.*.schedule.timeZone', MAX_LENGTH.word],
  ['gates.*.antiPassback.pairedGateId', MAX_LENGTH.gateId],
  ['gates.*.actuation.webhook.url', MAX_LENGTH.url],
  ['gates.*.actuation.webhook.secret', MAX_LENGTH.secret],
  ['gates.*.actuation.command.argv.*', MAX_LENGTH.fragment],
  ['events.db', MAX_LENGTH.path],
  ['events.snapshots.dir', MAX_LENGTH.path],
  ['gallery.db', MAX_LENGTH.path],
]);

const ARRAY_LIMITS: ReadonlyMap<string, number> = new Map([
  ['server.allowedOrigins', MAX_ITEMS.allowedOrigins],
  ['auth.tokens', MAX_ITEMS.tokens],
  ['models.liveness.models', MAX_ITEMS.livenessModels],
  ['cameras', MAX_ITEMS.cameras],
  ['cameras.*.zones', MAX_ITEMS.zones],
  ['cameras.*.zones.*.polygon', MAX_ITEMS.polygon],
  ['gates', MAX_ITEMS.gates],
  ['gates.*.cameras', MAX_ITEMS.gateCameras],
  ['gates.*.allow.identities', MAX_ITEMS.allowIdentities],
  ['gates.*.allow.groups', MAX_ITEMS.allowGroups],
  ['gates.*.schedule.weekly', MAX_ITEMS.weekly],
  ['gates.*.schedule.weekly.*.days', MAX_ITEMS.days],
  ['gates.*.schedule.exceptions', MAX_ITEMS.exceptions],
  ['gates.*.schedule.exceptions.*.windows', MAX_ITEMS.exceptionWindows],
  ['gates.*.actuation.command.argv', MAX_ITEMS.argv],
]);

const STRING_HINTS: ReadonlyMap<string, string> = new Map([
  ['cameras.*.url', 'a camera URL is scheme, credentials, host, port and path; a longer one cannot be handed to GStreamer'],
  ['cameras.*.source.url', 'a camera URL is scheme, credentials, host, port and path; a longer one cannot be handed to GStreamer'],
  ['cameras.*.id', "use a short slug such as 'front-door'"],
]);

const patternOf = (path: ConfigPath): string => path.map((s) => (typeof s === 'number' ? '*' : s)).join('.');

/** The longest string accepted at `path` (a path into the raw document). */
export function maxStringLength(path: ConfigPath): number {
  return STRING_LIMITS.get(patternOf(path)) ?? MAX_LENGTH.other;
}

/** The longest list accepted at `path`; `cameras` is bounded by `maxCameras` instead. */
export function maxListLength(path: ConfigPath, maxCameras: number): number {
  const p = patternOf(path);
  if (p === 'cameras') return maxCameras;
  return ARRAY_LIMITS.get(p) ?? MAX_ITEMS.other;
}

export interface BoundsIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly hint: string;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** `limits.maxCameras` as the document gives it, or the default when it is missing or invalid. */
export function effectiveMaxCameras(doc: unknown): number {
  const v = isRecord(doc) && isRecord(doc.limits) ? doc.limits.maxCameras : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_ITEMS.cameras ? v : DEFAULT_MAX_CAMERAS;
}

/**
 * Every string, list and nesting level of a document (raw YAML/JSON value, or a parsed Config)
 * that is over its bound. Walks the whole value, known keys or not, and never descends past
 * MAX_CONFIG_DEPTH (so a hostile document cannot exhaust the stack). Messages never quote the
 * value: strings in a config carry passwords.
 */
export function boundsIssues(doc: unknown): BoundsIssue[] {
  const out: BoundsIssue[] = [];
  const maxCameras = effectiveMaxCameras(doc);
  const visit = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      const max = maxStringLength(path);
      if (value.length > max) {
        out.push({
          path: [...path],
          message: `too long: ${count(value.length)} characters, at most ${count(max)}`,
          hint: STRING_HINTS.get(patternOf(path)) ?? `shorten it to at most ${count(max)} characters`,
        });
      }
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (path.length >= MAX_CONFIG_DEPTH) {
      out.push({ path: [...path], message: `nested more than ${MAX_CONFIG_DEPTH} levels deep`, hint: 'a facegate config is a few levels deep: check the indentation, or start from config/default.yaml' });
      return;
    }
    if (Array.isArray(value)) {
      const max = maxListLength(path, maxCameras);
      if (value.length > max) {
        const cameras = path.length === 1 && path[0] === 'cameras';
        out.push({
          path: [...path],
          message: cameras ? `${count(value.length)} cameras: more than limits.maxCameras (${count(max)})` : `too many items: ${count(value.length)}, at most ${count(max)}`,
          hint: cameras
            ? `remove cameras, or raise \`limits: { maxCameras: ${Math.min(value.length, MAX_ITEMS.cameras)} }\` (at most ${count(MAX_ITEMS.cameras)}) if this machine can run them: ` +
              `a ${MEASURED_CAPACITY.cores}-core box was measured at ${MEASURED_CAPACITY.cameras} cameras (${MEASURED_CAPACITY.height}p, ${MEASURED_CAPACITY.fps} fps)`
            : `keep at most ${count(max)} items here`,
        });
        // The items are not checked one by one: the list is refused as a whole.
        return;
      }
      value.forEach((item, i) => {
        path.push(i);
        visit(item, path);
        path.pop();
      });
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      path.push(key);
      visit(item, path);
      path.pop();
    }
  };
  visit(doc, []);
  return out;
}

// ---------------------------------------------------------------------------------------------

/**
 * When each camera starts, in ms after the service (or a hot reload) begins starting cameras:
 * camera `index` (0-based, in config order) waits `index * staggerMs`. One after another, so
 * GStreamer children, RTSP handshakes and first decodes do not all land at once.
 */
export function cameraStartDelayMs(index: number, staggerMs: number): number {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`camera index must be a whole number >= 0, got ${index}`);
  if (!Number.isFinite(staggerMs) || staggerMs < 0) throw new RangeError(`staggerMs must be a number >= 0, got ${staggerMs}`);
  return index * staggerMs;
}

/** The start delay of each of `ids`, in their order: a map from camera id to its delay in ms. */
export function cameraStartDelays(ids: readonly string[], staggerMs: number): ReadonlyMap<string, number> {
  return new Map(ids.map((id, i) => [id, cameraStartDelayMs(i, staggerMs)]));
}

export interface CapacityInput {
  readonly cameras: readonly unknown[];
  readonly limits: { readonly cameraStartStaggerMs: number };
}

/**
 * Warnings about the camera count for a box with `cores` CPU cores (os.availableParallelism()):
 * more cameras than CAMERAS_PER_CORE per core, and a start-up that takes longer than a minute.
 */
export function capacityWarnings(config: CapacityInput, cores: number): string[] {
  const out: string[] = [];
  const n = config.cameras.length;
  const c = Math.max(1, Math.floor(cores));
  const fits = Math.max(1, Math.floor(c * CAMERAS_PER_CORE));
  if (n > fits) {
    const m = MEASURED_CAPACITY;
    out.push(
      `${count(n)} cameras on ${c} CPU core${c === 1 ? '' : 's'}: about ${fits} fit here (measured: ${m.cameras} cameras at ${m.height}p / ${m.fps} fps on ${m.cores} cores, ` +
        `~${CAMERAS_PER_CORE} per core); expect dropped frames and slow API answers (lower fps or size, or spread the cameras over more machines)`,
    );
  }
  const startupMs = n > 1 ? cameraStartDelayMs(n - 1, config.limits.cameraStartStaggerMs) : 0;
  if (startupMs > 60_000) {
    out.push(`starting ${count(n)} cameras ${config.limits.cameraStartStaggerMs} ms apart (limits.cameraStartStaggerMs) takes ${Math.round(startupMs / 1000)} s before the last one runs`);
  }
  return out;
}
