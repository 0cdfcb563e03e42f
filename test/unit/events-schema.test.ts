import { readFileSync } from 'node:fs';
import t from 'tap';
import { z } from 'zod';
import {
  EVENT_TYPES,
  EventLog,
  EventsError,
  eventJsonSchemaText,
  eventSchema,
  type Event,
  type NewEvent,
} from '../../src/events/index.ts';
import { eventFromActuation, eventFromCameraHealth, eventFromGate, eventFromRecognition, eventFromTrack } from '../../src/pipeline/index.ts';
import type { GateEvent, GateGranted, GateOpened } from '../../src/gates/index.ts';
import type { CameraHealth } from '../../src/ingest/index.ts';
import type { TrackEvent, TrackView } from '../../src/track/index.ts';
import { eventFromDoor } from '../../src/app/doors.ts';
import type { DoorEvent } from '../../src/doors/index.ts';
import { validateJsonSchema } from '../helpers/events-jsonschema.ts';

const SCHEMA_FILE = new URL('../../src/events/schema.v1.json', import.meta.url);
const jsonSchema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const T = Date.parse('2026-03-29T01:30:00.250Z');

const view: TrackView = {
  trackId: 'cam1:3',
  cameraId: 'cam1',
  state: 'confirmed',
  face: { box: [10.5, 20, 110, 140.25], score: 0.91, landmarks: [[40, 60], [80, 60], [60, 85], [45, 110], [75, 110]] },
  box: [11, 21, 109, 139],
  hits: 4,
  ageFrames: 4,
  lostFrames: 0,
  firstSeenAt: T - 400,
  lastSeenAt: T,
};

/** One or more samples of every event type, made the way the pipeline makes them. */
function samples(): NewEvent[] {
  const health: CameraHealth[] = [
    { type: 'camera.up', cameraId: 'cam1', at: T, caps: { format: 'RGB', width: 1280, height: 720, fps: 25, stride: 3840 }, pid: 123, firstFrameMs: 850, attempt: 0 },
    { type: 'camera.up', cameraId: 'cam2', at: T, caps: { format: 'RGB', width: 640, height: 480, fps: undefined, stride: 1920 }, pid: undefined, firstFrameMs: 0, attempt: 3 },
    { type: 'camera.down', cameraId: 'cam1', at: T, reason: { kind: 'unauthorized', message: 'rtsp://***@cam/ said 401', hint: 'check the password' }, retryInMs: 2000, fatal: false },
    { type: 'camera.down', cameraId: 'cam1', at: T, reason: { kind: 'eos', message: 'end of stream', hint: undefined }, retryInMs: undefined, fatal: true },
    { type: 'camera.stalled', cameraId: 'cam1', at: T, silentMs: 5001 },
  ];
  const tracks: TrackEvent[] = [
    { type: 'track.started', cameraId: 'cam1', trackId: 'cam1:3', timeMs: T, track: view },
    { type: 'track.ended', cameraId: 'cam1', trackId: 'cam1:3', timeMs: T + 2000, reason: 'lost', durationMs: 1600, frameCount: 40, track: { ...view, state: 'removed' } },
  ];
  const gates: GateEvent[] = [
    { type: 'gate.granted', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:3', identityId: 'alice-id', name: 'Alice', score: 0.71, liveness: 0.97, masked: false, timeMs: T },
    { type: 'gate.denied', reason: 'not-allowed', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:4', identityId: 'mallory-id', name: 'Mallory', score: 0.66, masked: true, timeMs: T },
    { type: 'gate.denied', reason: 'low-confidence', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:5', masked: false, timeMs: T },
    { type: 'gate.opened', gateId: 'front', action: 'hold-open', by: 'guard1', reason: 'fire drill', durationMs: 600_000, timeMs: T },
    { type: 'gate.opened', gateId: 'front', action: 'close', by: 'guard1', reason: 'drill over', timeMs: T },
    // A replay held up to a gate that requires liveness: the evidence that decided, and one where no liveness was read.
    { type: 'gate.denied', reason: 'liveness', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:6', identityId: 'alice-id', name: 'Alice', score: 0.58, liveness: 0.04, livenessEvidence: { score: 0.04, frames: 7, threshold: 0.5, rule: 'median' }, masked: false, timeMs: T },
    { type: 'gate.denied', reason: 'liveness', gateId: 'front', cameraId: 'cam1', trackId: 'cam1:7', livenessEvidence: { score: undefined, frames: 0, threshold: undefined, rule: 'median' }, masked: false, timeMs: T },
  ];
  // Door events as the state machine makes them (src/doors/machine.ts).
  const doors: DoorEvent[] = [
    { type: 'door.released', atMs: T, by: 'grant', untilMs: T + 5000, identityId: 'alice-id' },
    { type: 'door.released', atMs: T, by: 'manual', untilMs: T + 600_000, operator: 'guard1' },
    { type: 'door.released', atMs: T, by: 'mode', untilMs: null },
    { type: 'door.opened', atMs: T + 800, authorised: true },
    { type: 'door.opened', atMs: T + 800, authorised: false },
    { type: 'door.forced_open', atMs: T + 800 },
    { type: 'door.held_open', atMs: T + 30_800, openMs: 30_000 },
    { type: 'door.closed', atMs: T + 40_000, openMs: 39_200, cleared: ['held_open'] },
    { type: 'door.closed', atMs: T + 40_000, openMs: null, cleared: [] },
    { type: 'door.locked', atMs: T + 5000, releasedBy: 'grant' },
    { type: 'door.rex', atMs: T, released: true },
    { type: 'door.rex', atMs: T, released: false },
    { type: 'door.mode_changed', atMs: T, mode: 'lockdown', previous: 'normal', source: 'operator', by: 'guard1', reason: 'incident' },
    { type: 'door.mode_changed', atMs: T, mode: 'unlocked', previous: 'normal', source: 'schedule' },
  ];
  return [
    ...health.map((h) => eventFromCameraHealth(h)!),
    ...tracks.map((e) => eventFromTrack(e)!),
    eventFromRecognition(
      { type: 'face.recognized', cameraId: 'cam1', trackId: 'cam1:3', timeMs: T, identityId: 'alice-id', name: 'Alice', unknownId: undefined, score: 0.71, masked: false, liveness: 0.97, quality: 0.8, box: [10, 20, 110, 140] },
      { snapshotId: '0mn9x2s8g-0123456789' },
    ),
    eventFromRecognition({ type: 'face.unknown', cameraId: 'cam1', trackId: 'cam1:4', timeMs: T, identityId: undefined, name: undefined, unknownId: 'u-17', score: 0.21, masked: true, liveness: undefined, quality: 0.5, box: [1, 2, 3, 4] }),
    eventFromRecognition({ type: 'face.unknown', cameraId: 'cam1', trackId: 'cam1:4', timeMs: T, identityId: undefined, name: undefined, unknownId: undefined, score: undefined, masked: false, liveness: undefined, quality: 0.5, box: [1, 2, 3, 4] }),
    ...gates.map(eventFromGate),
    eventFromActuation(
      { request: { gateId: 'front', action: 'open', event: gates[0] as GateGranted }, result: { ok: true, outcomes: [{ target: 'webhook', ok: true, attempts: 1, status: 204, durationMs: 35 }] } },
      T,
    ),
    eventFromActuation(
      {
        request: { gateId: 'front', action: 'hold-open', event: gates[3] as GateOpened },
        result: { ok: false, outcomes: [{ target: 'webhook', ok: false, attempts: 3, status: 503, error: 'HTTP 503 from https://***@door.local/open', durationMs: 1800 }, { target: 'command', ok: false, attempts: 1, exitCode: null, error: 'killed by SIGTERM', durationMs: 2000 }] },
      },
      T,
    ),
    { type: 'stage.error', timeMs: T, cameraId: 'cam1', data: { stage: 'detect', model: 'scrfd_500m', message: 'session released', suppressed: 0 } },
    { type: 'stage.error', timeMs: T, cameraId: 'cam1', data: { stage: 'recognize', message: 'gallery closed', suppressed: 41 } },
    { type: 'system.health', timeMs: T, data: { status: 'ok', uptimeMs: 1234, rssBytes: 10_000_000, cameras: { cam1: 'up', cam2: 'down' }, details: { fps: 24.5, model: 'scrfd', gpu: false } } },
    { type: 'system.health', timeMs: T, data: { status: 'degraded', message: 'cam2 down' } },
    { type: 'identity.created', timeMs: T, identityId: 'alice-id', data: { actor: 'hr-admin', name: 'Alice', groups: ['staff'], templates: 4 } },
    { type: 'identity.updated', timeMs: T, identityId: 'alice-id', data: { actor: 'hr-admin', name: 'Alice B', groups: ['staff', 'night'] } },
    { type: 'identity.updated', timeMs: T, identityId: 'alice-id', data: { actor: 'hr-admin', templatesAdded: 4 } },
    { type: 'identity.removed', timeMs: T, identityId: 'alice-id', data: { actor: 'hr-admin', name: 'Alice B' } },
    { type: 'unknown.merged', timeMs: T, data: { actor: 'hr-admin', from: 'unk_2', into: 'unk_1', count: 5 } },
    { type: 'unknown.dismissed', timeMs: T, data: { actor: 'hr-admin', unknownId: 'unk_3' } },
    { type: 'identity.erased', timeMs: T, identityId: 'erased:er_0123456789abcdef', data: { actor: 'cli:ops', erasureId: 'er_0123456789abcdef', reason: 'request', templates: 4, crops: 2, unknownClusters: 1, events: 12, snapshots: 5, clearCameras: ['front'] } },
    { type: 'privacy.retention', timeMs: T, data: { unknownClusters: 3, unknownSnapshots: 7, expiredIdentities: 1, events: 120, snapshots: 40, durationMs: 35 } },
    { type: 'config.changed', timeMs: T, data: { actor: 'admin', version: 'v2-9f3a', previous: 'v1-77c0', paths: ['cameras.door.fps'] } },
    ...doors.map((d) => eventFromDoor('front', d)),
    // A lock relay that did not answer: the failed actuation and the door alarm.
    { type: 'gate.actuation_failed', gateId: 'front', timeMs: T, data: { action: 'open', trigger: 'door.released', outcomes: [{ target: 'relay', ok: false, attempts: 1, error: 'relay http://192.0.2.20/rpc: Switch.Set on failed: no answer within 2000 ms', durationMs: 2001 }] } },
    { type: 'door.lock_failed', gateId: 'front', timeMs: T, data: { action: 'release', error: 'relay http://192.0.2.20/rpc: Switch.Set on failed: no answer within 2000 ms' } },
  ];
}

t.test('schema.v1.json is in sync with the zod schema (npx tsx src/events/write-schema.ts)', async (t) => {
  t.equal(readFileSync(SCHEMA_FILE, 'utf8'), eventJsonSchemaText());
  t.equal(jsonSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.equal((jsonSchema.oneOf as unknown[]).length, EVENT_TYPES.length, 'one variant per type');
});

t.test('sample events of every type pass the JSON Schema file and the zod schema', async (t) => {
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  const events = samples().map((s) => log.append(s));
  t.same([...new Set(events.map((e) => e.type))].sort(), [...EVENT_TYPES].sort(), 'every type sampled');
  for (const e of events) {
    const roundTrip = JSON.parse(JSON.stringify(e)) as unknown;
    t.same(validateJsonSchema(jsonSchema, roundTrip), [], `${e.type} #${e.id} valid per schema.v1.json`);
    t.ok(eventSchema.safeParse(roundTrip).success, `${e.type} #${e.id} valid per zod`);
  }
  const recognized = events.find((e) => e.type === 'face.recognized') as Event;
  t.match(recognized, { v: 1, type: 'face.recognized', time: '2026-03-29T01:30:00.250Z', timeMs: T, cameraId: 'cam1', trackId: 'cam1:3', identityId: 'alice-id', data: { name: 'Alice', score: 0.71, snapshotId: '0mn9x2s8g-0123456789' } });
  t.same(Object.keys(recognized), ['v', 'id', 'type', 'time', 'timeMs', 'cameraId', 'trackId', 'identityId', 'data'], 'documented key order');
  const denied = events.find((e) => e.type === 'gate.denied') as Event;
  t.match(denied, { gateId: 'front', identityId: 'mallory-id', data: { reason: 'not-allowed', masked: true } });
});

t.test('the zod schema rebuilt from the JSON file (z.fromJSONSchema) accepts the samples too', async (t) => {
  const fromFile = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  for (const e of samples().map((s) => log.append(s))) t.ok(fromFile.safeParse(JSON.parse(JSON.stringify(e))).success, e.type);
});

t.test('invalid events are rejected by both schemas and by the log', async (t) => {
  const base: Event = { v: 1, id: 7, type: 'camera.stalled', time: '2026-03-29T01:30:00.250Z', timeMs: T, cameraId: 'cam1', data: { silentMs: 10 } };
  const bad: [string, unknown][] = [
    ['missing cameraId', { ...base, cameraId: undefined }],
    ['unknown envelope key', { ...base, extra: 1 }],
    ['id 0', { ...base, id: 0 }],
    ['v 2', { ...base, v: 2 }],
    ['time not ISO', { ...base, time: 'yesterday' }],
    ['negative timeMs', { ...base, timeMs: -1 }],
    ['unknown type', { ...base, type: 'camera.exploded' }],
    ['data missing field', { ...base, data: {} }],
    ['gate.denied bad reason', { v: 1, id: 1, type: 'gate.denied', time: base.time, timeMs: T, gateId: 'g', cameraId: 'c', trackId: 't', data: { reason: 'because', masked: false } }],
    ['gate.granted without identity', { v: 1, id: 1, type: 'gate.granted', time: base.time, timeMs: T, gateId: 'g', cameraId: 'c', trackId: 't', data: { masked: false } }],
    ['gate.opened without by', { v: 1, id: 1, type: 'gate.opened', time: base.time, timeMs: T, gateId: 'g', data: { action: 'open', by: '', reason: 'x' } }],
    ['snapshot id traversal', { v: 1, id: 1, type: 'face.unknown', time: base.time, timeMs: T, cameraId: 'c', trackId: 't', data: { masked: false, snapshotId: '../../etc/passwd' } }],
    ['box of 3', { v: 1, id: 1, type: 'track.started', time: base.time, timeMs: T, cameraId: 'c', trackId: 't', data: { box: [1, 2, 3] } }],
    ['identity.removed without actor', { v: 1, id: 1, type: 'identity.removed', time: base.time, timeMs: T, identityId: 'i', data: { name: 'x' } }],
    ['door.opened without gateId', { v: 1, id: 1, type: 'door.opened', time: base.time, timeMs: T, data: { authorised: true } }],
    ['door.closed with an unknown alarm', { v: 1, id: 1, type: 'door.closed', time: base.time, timeMs: T, gateId: 'g', data: { openMs: 1, cleared: ['tampered'] } }],
    ['door.mode_changed to a made-up mode', { v: 1, id: 1, type: 'door.mode_changed', time: base.time, timeMs: T, gateId: 'g', data: { mode: 'party', previous: 'normal', source: 'operator' } }],
    ['door.released by an unknown cause', { v: 1, id: 1, type: 'door.released', time: base.time, timeMs: T, gateId: 'g', data: { by: 'magic', untilMs: null } }],
    ['identity.created without identityId', { v: 1, id: 1, type: 'identity.created', time: base.time, timeMs: T, data: { actor: 'a', name: 'x', groups: [], templates: 1 } }],
  ];
  const log = new EventLog(':memory:');
  t.teardown(() => log.close());
  for (const [name, value] of bad) {
    t.not(validateJsonSchema(jsonSchema, value).length, 0, `JSON Schema rejects: ${name}`);
    t.notOk(eventSchema.safeParse(value).success, `zod rejects: ${name}`);
    const { v: _v, id: _id, time: _time, ...input } = value as Event;
    if (['id 0', 'v 2', 'time not ISO'].includes(name)) continue; // the log assigns these itself
    t.throws(() => log.append(input as NewEvent), EventsError, `log rejects: ${name}`);
  }
  t.equal(log.count(), 0, 'nothing invalid reached the log');
  t.same(validateJsonSchema(jsonSchema, { ...base, data: { silentMs: 10, newField: 'x' } }), [], 'data is open to new fields');
});

t.test('converters skip what is not logged', async (t) => {
  t.equal(eventFromTrack({ type: 'track.updated', cameraId: 'c', trackId: 'c:1', timeMs: T, track: view }), undefined);
  t.equal(eventFromCameraHealth({ type: 'camera.starting', cameraId: 'c', at: T, attempt: 0, pipeline: 'x' }), undefined);
  t.equal(eventFromCameraHealth({ type: 'camera.ended', cameraId: 'c', at: T }), undefined);
});
