/**
 * The v1 event envelope and its discriminated union of event types, as zod schemas (the single
 * source of the TS types and of src/events/schema.v1.json).
 *
 * Envelope: { v: 1, id, type, time, timeMs, cameraId?, gateId?, trackId?, identityId?, data }.
 * - `id` is assigned by the log (monotonic, never reused); subscribers resume by it.
 * - `time` is the ISO-8601 UTC form of `timeMs` (ms since the epoch), filled in by the log.
 * - The routing ids live on the envelope (so filters and SQL indexes see them); each type says
 *   which of them it requires. Everything else is in `data`.
 * - The envelope is closed (no other keys). `data` objects are open: v1 readers must ignore data
 *   fields they do not know, so fields can be added without a v2.
 */
import { z } from 'zod';
import { DOOR_ALARMS, DOOR_MODES, RELEASE_CAUSES } from '../doors/index.ts';
import { AREA_SYNC_MODES, DENY_REASONS, MANUAL_ACTIONS } from '../gates/index.ts';

/** Snapshot ids: what SnapshotStore creates and accepts (no dots, no slashes, no percent). */
export const SNAPSHOT_ID_PATTERN = /^[a-z0-9_-]{8,64}$/;

const nonEmpty = z.string().min(1).max(256);
// zod 4 numbers are finite (no Infinity, no NaN).
const finite = z.number();
const nonNegative = z.number().min(0);
const box = z.tuple([finite, finite, finite, finite]).describe('[x1, y1, x2, y2] in frame pixels');
const snapshotId = z.string().regex(SNAPSHOT_ID_PATTERN);

const envelope = {
  v: z.literal(1),
  id: z.number().int().positive().describe('monotonic, assigned by the log'),
  time: z.iso.datetime().describe('ISO-8601 UTC form of timeMs'),
  timeMs: nonNegative.describe('ms since the Unix epoch'),
  cameraId: nonEmpty.optional(),
  gateId: nonEmpty.optional(),
  trackId: nonEmpty.optional(),
  identityId: nonEmpty.optional(),
};

const cameraUp = z.strictObject({
  ...envelope,
  type: z.literal('camera.up'),
  cameraId: nonEmpty,
  data: z.looseObject({
    width: z.number().int().positive().optional(),
    height: z.number().int().positive().optional(),
    fps: z.number().positive().optional(),
    attempt: z.number().int().min(0).optional(),
    firstFrameMs: nonNegative.optional(),
  }),
});

const cameraDown = z.strictObject({
  ...envelope,
  type: z.literal('camera.down'),
  cameraId: nonEmpty,
  data: z.looseObject({
    reason: nonEmpty.describe('stable kind: refused, unauthorized, eos, stalled, crashed, ...'),
    message: z.string(),
    hint: z.string().optional(),
    retryInMs: nonNegative.optional(),
    fatal: z.boolean(),
  }),
});

const cameraStalled = z.strictObject({
  ...envelope,
  type: z.literal('camera.stalled'),
  cameraId: nonEmpty,
  data: z.looseObject({ silentMs: nonNegative }),
});

const trackStarted = z.strictObject({
  ...envelope,
  type: z.literal('track.started'),
  cameraId: nonEmpty,
  trackId: nonEmpty,
  data: z.looseObject({ box, score: finite.optional() }),
});

const trackEnded = z.strictObject({
  ...envelope,
  type: z.literal('track.ended'),
  cameraId: nonEmpty,
  trackId: nonEmpty,
  data: z.looseObject({ reason: nonEmpty, durationMs: nonNegative, frameCount: z.number().int().min(0) }),
});

const faceCommon = {
  masked: z.boolean(),
  liveness: finite.optional(),
  quality: finite.optional(),
  box: box.optional(),
  snapshotId: snapshotId.optional(),
};

const faceRecognized = z.strictObject({
  ...envelope,
  type: z.literal('face.recognized'),
  cameraId: nonEmpty,
  trackId: nonEmpty,
  identityId: nonEmpty,
  data: z.looseObject({ name: z.string(), score: finite, ...faceCommon }),
});

const faceUnknown = z.strictObject({
  ...envelope,
  type: z.literal('face.unknown'),
  cameraId: nonEmpty,
  trackId: nonEmpty,
  data: z.looseObject({ unknownId: nonEmpty.optional(), score: finite.optional(), ...faceCommon }),
});

const decisionData = {
  name: z.string().optional(),
  score: finite.optional(),
  liveness: finite.optional(),
  livenessEvidence: z
    .looseObject({
      score: finite.optional().describe("the track's liveness score (absent: none was read, the gate failed closed)"),
      frames: z.number().int().min(0).describe('frames the score is taken over'),
      threshold: finite.optional().describe("the threshold applied: the gate's own, else the liveness models' calibrated one"),
      rule: nonEmpty.describe('how the frames became one score (median)'),
    })
    .optional()
    .describe('gates that require liveness only: the evidence the liveness check decided on'),
  masked: z.boolean(),
  area: z
    .looseObject({
      id: nonEmpty.describe('the anti-passback area (antiPassback.area)'),
      direction: z.enum(['entry', 'exit']),
      state: z.enum(AREA_SYNC_MODES).describe("the area state the decision was taken on: local (no fleet), fresh, or stale (fleet link or hub down: local state only)"),
    })
    .optional()
    .describe('gates with an anti-passback area only'),
};

const gateGranted = z.strictObject({
  ...envelope,
  type: z.literal('gate.granted'),
  gateId: nonEmpty,
  cameraId: nonEmpty,
  trackId: nonEmpty,
  identityId: nonEmpty,
  data: z.looseObject(decisionData),
});

const gateDenied = z.strictObject({
  ...envelope,
  type: z.literal('gate.denied'),
  gateId: nonEmpty,
  cameraId: nonEmpty,
  trackId: nonEmpty,
  data: z.looseObject({ reason: z.enum(DENY_REASONS), ...decisionData }),
});

const gateOpened = z.strictObject({
  ...envelope,
  type: z.literal('gate.opened'),
  gateId: nonEmpty,
  data: z.looseObject({
    action: z.enum(MANUAL_ACTIONS),
    by: nonEmpty.describe('the operator who did it'),
    reason: nonEmpty,
    durationMs: nonNegative.optional(),
  }),
});

// What the door controller did with a grant or a manual action: the audit trail of the actuation
// itself (a grant the door never executed must be visible to the operator, not just logged).
const actuationOutcome = z.looseObject({
  target: z.enum(['webhook', 'command', 'relay', 'gpio']).describe('relay / gpio: the door lock (gates[].door.lock.relay or .gpio)'),
  ok: z.boolean(),
  attempts: z.number().int().min(0),
  status: z.number().int().optional().describe('last HTTP status (webhook)'),
  exitCode: z.number().int().nullable().optional().describe('exit code (command); null when killed by a signal'),
  error: z.string().optional().describe('why the last attempt failed (never a secret)'),
  durationMs: nonNegative,
});
const actuationData = {
  action: z.enum(MANUAL_ACTIONS),
  trigger: z.enum(['gate.granted', 'gate.opened', 'door.released', 'door.locked']).describe('the decision or manual action that asked for it; door.*: the door lock relay'),
  triggerId: z.number().int().positive().optional().describe('id of that event in the log'),
  outcomes: z.array(actuationOutcome).max(16),
};
const gateActuated = z.strictObject({
  ...envelope,
  type: z.literal('gate.actuated'),
  gateId: nonEmpty,
  data: z.looseObject(actuationData),
});
const gateActuationFailed = z.strictObject({
  ...envelope,
  type: z.literal('gate.actuation_failed'),
  gateId: nonEmpty,
  data: z.looseObject(actuationData),
});

// The door behind a gate (gates[].door, docs/doors.md): lock, contact, request-to-exit and modes.
const doorMode = z.enum(DOOR_MODES);
const doorReleased = z.strictObject({
  ...envelope,
  type: z.literal('door.released'),
  gateId: nonEmpty,
  data: z.looseObject({
    by: z.enum(RELEASE_CAUSES).describe('what released the lock: grant, rex, manual (an operator) or mode (an unlocking mode)'),
    untilMs: nonNegative.nullable().describe('when the release ends; null while a mode keeps the door unlocked'),
    operator: nonEmpty.optional().describe('the operator, for by: manual'),
  }),
});
const doorLocked = z.strictObject({
  ...envelope,
  type: z.literal('door.locked'),
  gateId: nonEmpty,
  data: z.looseObject({ releasedBy: z.enum(RELEASE_CAUSES).describe('what the release that ended was') }),
});
const doorOpened = z.strictObject({
  ...envelope,
  type: z.literal('door.opened'),
  gateId: nonEmpty,
  data: z.looseObject({ authorised: z.boolean().describe('false: nothing released the lock (door.forced_open follows)') }),
});
const doorClosed = z.strictObject({
  ...envelope,
  type: z.literal('door.closed'),
  gateId: nonEmpty,
  data: z.looseObject({
    openMs: nonNegative.nullable().describe('how long the leaf was open; null when the opening was not seen'),
    cleared: z.array(z.enum(DOOR_ALARMS)).max(DOOR_ALARMS.length).describe('the alarms the closing cleared'),
  }),
});
const doorHeldOpen = z.strictObject({
  ...envelope,
  type: z.literal('door.held_open'),
  gateId: nonEmpty,
  data: z.looseObject({ openMs: nonNegative.describe('open this long when the alarm was raised') }),
});
const doorForcedOpen = z.strictObject({
  ...envelope,
  type: z.literal('door.forced_open'),
  gateId: nonEmpty,
  data: z.looseObject({}).describe('the contact opened while nothing released the lock'),
});
const doorRex = z.strictObject({
  ...envelope,
  type: z.literal('door.rex'),
  gateId: nonEmpty,
  data: z.looseObject({ released: z.boolean().describe('false in lockdown: the press was reported, the lock stayed') }),
});
const doorModeChanged = z.strictObject({
  ...envelope,
  type: z.literal('door.mode_changed'),
  gateId: nonEmpty,
  data: z.looseObject({
    mode: doorMode,
    previous: doorMode,
    source: z.enum(['operator', 'schedule']),
    by: nonEmpty.optional().describe('the operator (source: operator)'),
    reason: nonEmpty.optional(),
  }),
});

const doorLockFailed = z.strictObject({
  ...envelope,
  type: z.literal('door.lock_failed'),
  gateId: nonEmpty,
  data: z
    .looseObject({
      action: z.enum(['release', 'lock']),
      error: z.string().max(1000).describe('why the relay did not take it (never a secret)'),
    })
    .describe('a door alarm: the lock relay did not take a command (gate.actuation_failed carries the outcome)'),
});

// A stage failed on a frame or an input (a model run, a gallery search, a gate input): the
// pipeline goes on, and the operator sees it. At most one per camera and stage per window;
// `suppressed` counts the ones folded into this one.
const stageError = z.strictObject({
  ...envelope,
  type: z.literal('stage.error'),
  data: z.looseObject({
    stage: z.enum(['detect', 'recognize', 'gates', 'snapshot']),
    model: z.string().optional(),
    message: z.string().max(1000),
    suppressed: z.number().int().min(0).describe('errors of this camera and stage not reported since the last stage.error'),
  }),
});

const systemHealth = z.strictObject({
  ...envelope,
  type: z.literal('system.health'),
  data: z.looseObject({
    status: z.enum(['ok', 'degraded', 'error']),
    message: z.string().optional(),
    uptimeMs: nonNegative.optional(),
    rssBytes: nonNegative.optional(),
    cameras: z.record(z.string(), z.string()).optional().describe('cameraId -> status'),
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }),
});

// Audit of the gallery: who changed which identity. `actor` is the id of the API token (never the
// token itself) or the name of the local tool that made the change.
const actor = nonEmpty.describe('who made the change: the API token id');
const groups = z.array(z.string().max(256)).max(1000);

const identityCreated = z.strictObject({
  ...envelope,
  type: z.literal('identity.created'),
  identityId: nonEmpty,
  data: z.looseObject({ actor, name: z.string(), groups, templates: z.number().int().min(0).describe('templates stored from the first photo') }),
});

const identityUpdated = z.strictObject({
  ...envelope,
  type: z.literal('identity.updated'),
  identityId: nonEmpty,
  data: z
    .looseObject({
      actor,
      name: z.string().optional().describe('the new name, when renamed'),
      groups: groups.optional().describe('the new groups, when regrouped'),
      templatesAdded: z.number().int().min(0).optional().describe('templates added from an enrolled photo'),
      negativeAnchorsAdded: z.number().int().min(0).optional().describe("'not this person' anchors added from a recognition that was wrong"),
    })
    .describe('what changed; absent fields did not change'),
});

const identityRemoved = z.strictObject({
  ...envelope,
  type: z.literal('identity.removed'),
  identityId: nonEmpty,
  data: z.looseObject({ actor, name: z.string().optional().describe('the name it had') }),
});

// Audit of unknown-face clusters (the dashboard's Unknowns page): naming one is identity.created.
const unknownId = z.string().min(1).max(128);

const unknownMerged = z.strictObject({
  ...envelope,
  type: z.literal('unknown.merged'),
  data: z.looseObject({ actor, from: unknownId.describe('the cluster merged away'), into: unknownId.describe('the cluster that holds both now'), count: z.number().int().min(0).describe('sightings of the merged cluster') }),
});

const unknownDismissed = z.strictObject({
  ...envelope,
  type: z.literal('unknown.dismissed'),
  data: z.looseObject({ actor, unknownId }),
});

// Erasure on request or by retention (docs/privacy.md): the receipt, with counts only. It never
// carries the name; identityId is the tombstone the person's past events now carry.
const count = z.number().int().min(0);
const identityErased = z.strictObject({
  ...envelope,
  type: z.literal('identity.erased'),
  identityId: nonEmpty.describe("the tombstone ('erased:<erasure id>') that replaced the person's id in past events"),
  data: z.looseObject({
    actor,
    erasureId: nonEmpty.describe('the erasure journal row (the gallery): what a fleet replay follows'),
    reason: z.enum(['request', 'retention']).describe('request: by an operator; retention: the identity reached its validUntil'),
    templates: count,
    crops: count,
    unknownClusters: count.describe('unknown-face clusters that had become this person'),
    events: count.describe('past events rewritten with the tombstone (decisions kept)'),
    snapshots: count.describe('snapshots (face + frame) deleted'),
    clearCameras: z.array(nonEmpty).max(1000).describe("cameras whose retained MQTT last_face and snapshot showed this person (cleared by the MQTT sink)"),
  }),
});

// One retention run (docs/privacy.md): what it removed, by category.
const privacyRetention = z.strictObject({
  ...envelope,
  type: z.literal('privacy.retention'),
  data: z.looseObject({
    unknownClusters: count.describe('unknown-face clusters not seen for privacy.retention.unknownHours'),
    unknownSnapshots: count.describe("their face.unknown events' snapshots"),
    expiredIdentities: count.describe('identities past their validUntil, erased (each with its own identity.erased)'),
    events: count.describe('events past events.retention'),
    snapshots: count.describe('snapshots past events.snapshots.retentionDays'),
    durationMs: nonNegative,
  }),
});

// A change to the config file from the API or the dashboard (the file stays the source of truth).
const configChanged = z.strictObject({
  ...envelope,
  type: z.literal('config.changed'),
  data: z.looseObject({
    actor,
    version: nonEmpty.describe('the new version (the etag the API returns)'),
    previous: nonEmpty.describe('the version it replaced'),
    paths: z.array(z.string().max(512)).max(1000).describe("the config paths that changed, e.g. 'cameras.door'"),
    rollback: z.boolean().optional().describe('true when the change restored an earlier version'),
  }),
});

export const eventSchema = z.discriminatedUnion('type', [
  cameraUp,
  cameraDown,
  cameraStalled,
  trackStarted,
  trackEnded,
  faceRecognized,
  faceUnknown,
  gateGranted,
  gateDenied,
  gateOpened,
  gateActuated,
  gateActuationFailed,
  doorReleased,
  doorLocked,
  doorOpened,
  doorClosed,
  doorHeldOpen,
  doorForcedOpen,
  doorRex,
  doorModeChanged,
  doorLockFailed,
  stageError,
  systemHealth,
  identityCreated,
  identityUpdated,
  identityRemoved,
  unknownMerged,
  unknownDismissed,
  identityErased,
  privacyRetention,
  configChanged,
]);

export type Event = z.output<typeof eventSchema>;
export type EventType = Event['type'];
export type EventOf<T extends EventType> = Extract<Event, { type: T }>;

export const EVENT_TYPES: readonly EventType[] = eventSchema.options.map((o) => o.shape.type.value);

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a producer hands to the log: an event without the fields the log assigns (v, id, time). */
export type NewEvent = DistributiveOmit<Event, 'v' | 'id' | 'time'>;
export type NewEventOf<T extends EventType> = Extract<NewEvent, { type: T }>;

/** Routing ids an event can carry on its envelope. */
export type EventRouting = Pick<Event, 'cameraId' | 'gateId' | 'trackId' | 'identityId'>;
