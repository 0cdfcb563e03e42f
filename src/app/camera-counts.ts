/**
 * Per-camera frame counts for /metrics (sampled every second) and system.health (every 30 s):
 * one recipe for what "in", "processed" and "lost" mean, and one way to turn the stream's
 * cumulative counters into deltas. Pure apart from reading the counters.
 */
import type { CameraEntry } from '../config/index.ts';
import type { CameraHealth } from '../ingest/index.ts';
import type { CameraCounters } from '../pipeline/index.ts';
import type { AccessControl } from '../../streams/access-control.ts';

export interface CameraCounts {
  /** Frames that reached the detect stage (processed + dropped there). */
  readonly in: number;
  readonly processed: number;
  readonly detectDropped: number;
  readonly recognizeDropped: number;
  /** Frames lost before JS (leaky queue, decoder behind, network). */
  readonly ingestLost: number;
}

export const ZERO_COUNTS: CameraCounts = Object.freeze({ in: 0, processed: 0, detectDropped: 0, recognizeDropped: 0, ingestLost: 0 });

/**
 * Frames a camera lost before JS: the larger of the two ingest estimates (buffer-offset gaps see
 * the leaky queue; PTS gaps see every loss, offsets or not), so nothing is counted twice.
 */
export function ingestLost(c: CameraCounters): number {
  const s = c.ingest?.();
  return s ? Math.max(s.droppedInPipeline, s.missedByPts) : 0;
}

export function cameraCounts(c: CameraCounters): CameraCounts {
  return { in: c.detect.processed + c.detect.dropped, processed: c.detect.processed, detectDropped: c.detect.dropped, recognizeDropped: c.recognize.dropped, ingestLost: ingestLost(c) };
}

/**
 * Counts since the previous call, per camera. A count below the previous one means the camera's
 * counters started again (a restarted or re-added camera): the delta is then the new count, not a
 * negative number or zero. Cameras gone since the previous call are forgotten.
 */
export class CountDeltas {
  private last = new Map<string, CameraCounts>();

  next(now: ReadonlyMap<string, CameraCounts>): Map<string, CameraCounts> {
    const out = new Map<string, CameraCounts>();
    for (const [id, n] of now) {
      const p = this.last.get(id) ?? ZERO_COUNTS;
      const d = (k: keyof CameraCounts): number => (n[k] >= p[k] ? n[k] - p[k] : n[k]);
      out.set(id, { in: d('in'), processed: d('processed'), detectDropped: d('detectDropped'), recognizeDropped: d('recognizeDropped'), ingestLost: d('ingestLost') });
    }
    this.last = new Map(now);
    return out;
  }
}

/** A configured camera as every reader sees it: /v1/cameras, system.health and Home Assistant. */
export interface CameraView {
  readonly id: string;
  readonly name: string;
  /** Its source runs (false: not started yet, ended, or waiting for its start slot to pass). */
  readonly running: boolean;
  readonly status: CameraHealth['type'] | 'starting';
  /** Undefined until the camera first started. */
  readonly counters: CameraCounters | undefined;
}

/** One read of every configured camera, in config order. */
export function cameraViews(entries: readonly CameraEntry[], access: Pick<AccessControl, 'counters' | 'cameraIds'>): CameraView[] {
  const running = new Set(access.cameraIds());
  return entries.map((c) => {
    const counters = access.counters.get(c.id);
    return { id: c.id, name: c.name ?? c.id, running: running.has(c.id), status: counters?.health?.type ?? 'starting', counters };
  });
}

/** The counts of every camera that has counters now (keyed by id), for CountDeltas. */
export function countsOf(access: Pick<AccessControl, 'counters'>): Map<string, CameraCounts> {
  return new Map(access.counters.entries().map(([id, c]) => [id, cameraCounts(c)]));
}
