/**
 * What the access-control pipeline emits, as one union: every stage adds its own kind and passes
 * the others through, so the tail (gates, then publishEvents) is one chain and every failure is
 * an item on the same stream as the faces (the GStreamer bus idea: errors travel as messages,
 * not as exceptions across stages). Pure constructors and mappings; no RxJS here.
 */
import type { ActuationRecord, GateEvent } from '../gates/index.ts';
import type { CameraHealth } from '../ingest/index.ts';
import type { Recognition } from '../recognize/index.ts';
import type { TrackEvent } from '../track/index.ts';

/** A pipeline stage that can fail on one frame while the chain goes on. */
export type PipelineStage = 'detect' | 'recognize';

export interface StageFailure {
  readonly cameraId: string;
  readonly stage: PipelineStage;
  /** The model that failed (a detector or embedder name). */
  readonly model: string;
  readonly error: unknown;
  readonly timeMs: number;
}

export type PipelineItem =
  | { readonly kind: 'camera'; readonly health: CameraHealth }
  | { readonly kind: 'track'; readonly event: TrackEvent }
  | { readonly kind: 'recognition'; readonly recognition: Recognition }
  | { readonly kind: 'gate'; readonly event: GateEvent }
  /** What the door controller did with a grant or a manual action; timeMs: when it finished. */
  | { readonly kind: 'actuation'; readonly record: ActuationRecord; readonly timeMs: number }
  | { readonly kind: 'stage.error'; readonly failure: StageFailure };

export type PipelineKind = PipelineItem['kind'];
export type PipelineItemOf<K extends PipelineKind> = Extract<PipelineItem, { kind: K }>;

export const cameraItem = (health: CameraHealth): PipelineItemOf<'camera'> => ({ kind: 'camera', health });
export const trackItem = (event: TrackEvent): PipelineItemOf<'track'> => ({ kind: 'track', event });
export const recognitionItem = (recognition: Recognition): PipelineItemOf<'recognition'> => ({ kind: 'recognition', recognition });
export const gateItem = (event: GateEvent): PipelineItemOf<'gate'> => ({ kind: 'gate', event });
export const actuationItem = (record: ActuationRecord, timeMs: number): PipelineItemOf<'actuation'> => ({ kind: 'actuation', record, timeMs });
export const stageErrorItem = (failure: StageFailure): PipelineItemOf<'stage.error'> => ({ kind: 'stage.error', failure });
