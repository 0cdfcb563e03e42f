/**
 * Tracking evaluation helpers (CLEAR-MOT style), pure: match ground truth to tracker output per
 * frame, then count identity switches over a sequence. Used by the tests and by offline
 * evaluation of recorded clips.
 */
import type { Box } from '../types.ts';
import { linearAssignment } from './assignment.ts';
import { iouCostMatrix } from './iou.ts';

export interface GroundTruthBox {
  readonly id: string;
  readonly box: Box;
}

export interface PredictedBox {
  readonly trackId: string;
  readonly box: Box;
}

/**
 * One frame: ground-truth id -> matched track id, or undefined when the object was missed.
 * Objects absent from the frame are simply not keys.
 */
export type GroundTruthMatches = ReadonlyMap<string, string | undefined>;

/** Optimal one-to-one matching of ground truth to predictions by IoU, pairs below minIou rejected. */
export function matchGroundTruth(
  truth: readonly GroundTruthBox[],
  predicted: readonly PredictedBox[],
  minIou = 0.5,
): Map<string, string | undefined> {
  const result = linearAssignment(
    iouCostMatrix(
      truth.map((g) => g.box),
      predicted.map((p) => p.box),
    ),
    1 - minIou,
  );
  const out = new Map<string, string | undefined>(truth.map((g) => [g.id, undefined]));
  for (const [r, c] of result.matches) out.set(truth[r].id, predicted[c].trackId);
  return out;
}

/**
 * Identity switches: a ground-truth object matched to a track id other than the one it was last
 * matched to. Frames where it is missed neither count nor reset the memory, so an object that
 * comes back under its old id after an occlusion costs nothing and one that comes back under a
 * new id costs one.
 */
export function countIdSwitches(frames: readonly GroundTruthMatches[]): number {
  const lastTrack = new Map<string, string>();
  let switches = 0;
  for (const frame of frames) {
    for (const [gtId, trackId] of frame) {
      if (trackId === undefined) continue;
      const previous = lastTrack.get(gtId);
      if (previous !== undefined && previous !== trackId) switches++;
      lastTrack.set(gtId, trackId);
    }
  }
  return switches;
}
