/**
 * Pure mappings from what the stages emit to log events (NewEvent: the log adds v, id and time).
 * They only reshape: the log validates on append.
 */
import type { CameraHealth } from '../ingest/index.ts';
import { redactText } from '../redact.ts';
import type { ActuationRecord, GateEvent } from '../gates/index.ts';
import type { Recognition } from '../recognize/index.ts';
import type { TrackEvent } from '../track/index.ts';
import { errorMessage } from '../errors.ts';
import type { NewEvent } from '../events/index.ts';
import type { StageFailure } from './items.ts';

/** Drop keys whose value is undefined (they would vanish in JSON anyway; this keeps objects equal). */
function defined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function eventFromGate(e: GateEvent): NewEvent {
  if (e.type === 'gate.opened') {
    return { type: 'gate.opened', timeMs: e.timeMs, gateId: e.gateId, data: defined({ action: e.action, by: e.by, reason: e.reason, durationMs: e.durationMs }) };
  }
  const routing = defined({ gateId: e.gateId, cameraId: e.cameraId, trackId: e.trackId, identityId: e.identityId });
  const evidence = e.livenessEvidence && defined({ score: e.livenessEvidence.score, frames: e.livenessEvidence.frames, threshold: e.livenessEvidence.threshold, rule: e.livenessEvidence.rule });
  const data = defined({ name: e.name, score: e.score, liveness: e.liveness, livenessEvidence: evidence, masked: e.masked, area: e.area && { id: e.area.id, direction: e.area.direction, state: e.area.state } });
  if (e.type === 'gate.granted') return { type: 'gate.granted', timeMs: e.timeMs, ...routing, identityId: e.identityId as string, data };
  return { type: 'gate.denied', timeMs: e.timeMs, ...routing, data: { reason: e.reason, ...data } };
}

/**
 * gate.actuated / gate.actuation_failed: what the door controller did with a grant or a manual
 * action, with every target's outcome (webhook status, command exit code, attempts). `timeMs` is
 * when the actuation finished.
 */
export function eventFromActuation(record: ActuationRecord, timeMs: number): NewEvent {
  const e = record.request.event;
  const routing = e.type === 'gate.granted' ? defined({ cameraId: e.cameraId, trackId: e.trackId, identityId: e.identityId }) : {};
  const outcomes = record.result.outcomes.map((o) => defined({ target: o.target, ok: o.ok, attempts: o.attempts, status: o.status, exitCode: o.exitCode, error: o.error === undefined ? undefined : redactText(o.error), durationMs: o.durationMs }));
  const data = { action: record.request.action, trigger: e.type, outcomes };
  return record.result.ok ? { type: 'gate.actuated', timeMs, gateId: record.request.gateId, ...routing, data } : { type: 'gate.actuation_failed', timeMs, gateId: record.request.gateId, ...routing, data };
}

/** The fields of a Recognition an event keeps (the frame itself goes to the SnapshotStore). */
export type RecognitionEventInput = Pick<Recognition, 'type' | 'cameraId' | 'trackId' | 'timeMs' | 'identityId' | 'name' | 'unknownId' | 'score' | 'masked' | 'liveness' | 'quality' | 'box'>;

export function eventFromRecognition(r: RecognitionEventInput, extra: { snapshotId?: string | undefined } = {}): NewEvent {
  const common = defined({ masked: r.masked, liveness: r.liveness, quality: r.quality, box: r.box ? ([r.box[0], r.box[1], r.box[2], r.box[3]] as [number, number, number, number]) : undefined, snapshotId: extra.snapshotId });
  if (r.type === 'face.recognized') {
    return { type: 'face.recognized', timeMs: r.timeMs, cameraId: r.cameraId, trackId: r.trackId, identityId: r.identityId as string, data: { name: r.name ?? '', score: r.score as number, ...common } };
  }
  return { type: 'face.unknown', timeMs: r.timeMs, cameraId: r.cameraId, trackId: r.trackId, data: defined({ unknownId: r.unknownId, score: r.score, ...common }) };
}

/** track.started / track.ended; track.updated is not logged (undefined). */
export function eventFromTrack(e: TrackEvent): NewEvent | undefined {
  if (e.type === 'track.started') {
    const b = e.track.face.box;
    return { type: 'track.started', timeMs: e.timeMs, cameraId: e.cameraId, trackId: e.trackId, data: { box: [b[0], b[1], b[2], b[3]], score: e.track.face.score } };
  }
  if (e.type === 'track.ended') {
    return { type: 'track.ended', timeMs: e.timeMs, cameraId: e.cameraId, trackId: e.trackId, data: { reason: e.reason, durationMs: e.durationMs, frameCount: e.frameCount } };
  }
  return undefined;
}

/**
 * camera.up / camera.down / camera.stalled; camera.starting and camera.ended are not logged.
 * Ingest already redacts its reasons; they are redacted again here because this is the last
 * place before the durable log and every viewer (a second line of defence for credentials).
 */
export function eventFromCameraHealth(h: CameraHealth): NewEvent | undefined {
  switch (h.type) {
    case 'camera.up':
      return { type: 'camera.up', timeMs: h.at, cameraId: h.cameraId, data: defined({ width: h.caps.width, height: h.caps.height, fps: h.caps.fps, attempt: h.attempt, firstFrameMs: h.firstFrameMs }) };
    case 'camera.down':
      return { type: 'camera.down', timeMs: h.at, cameraId: h.cameraId, data: defined({ reason: h.reason.kind, message: redactText(h.reason.message), hint: h.reason.hint === undefined ? undefined : redactText(h.reason.hint), retryInMs: h.retryInMs, fatal: h.fatal }) };
    case 'camera.stalled':
      return { type: 'camera.stalled', timeMs: h.at, cameraId: h.cameraId, data: { silentMs: h.silentMs } };
    default:
      return undefined;
  }
}

/**
 * stage.error: a model failed on a frame (the chain went on). `suppressed` is how many failures of
 * the same camera and stage the rate limit swallowed since the last stage.error. The message is
 * redacted (a decoder error can quote the camera URL) and bounded.
 */
export function eventFromStageFailure(f: StageFailure, suppressed: number): NewEvent {
  return { type: 'stage.error', timeMs: f.timeMs, cameraId: f.cameraId, data: { stage: f.stage, model: f.model, message: redactText(errorMessage(f.error)).slice(0, 1000), suppressed } };
}
