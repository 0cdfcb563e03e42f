/**
 * Pair faces found by two runs over the same image (two providers, two models): each face of
 * `a` with the face of `b` that overlaps it most. For agreement checks (bench providers, the
 * WebGPU tests), not for tracking (src/track matches across frames).
 */
import type { Face } from '../types.ts';
import { iou } from './nms.ts';

export interface FacePair {
  readonly a: Face;
  /** undefined when no face of `b` overlaps it at all. */
  readonly b: Face | undefined;
  readonly iou: number;
}

export function pairFacesByIou(a: readonly Face[], b: readonly Face[]): FacePair[] {
  return a.map((fa) => {
    let best: Face | undefined;
    let bestIou = 0;
    for (const fb of b) {
      const v = iou(fa.box, fb.box);
      if (v > bestIou) [best, bestIou] = [fb, v];
    }
    return { a: fa, b: best, iou: bestIou };
  });
}

/** The largest distance between corresponding landmarks of two faces, in pixels. */
export function maxLandmarkDistance(a: Face, b: Face): number {
  let worst = 0;
  for (let k = 0; k < a.landmarks.length; k++) worst = Math.max(worst, Math.hypot(a.landmarks[k][0] - b.landmarks[k][0], a.landmarks[k][1] - b.landmarks[k][1]));
  return worst;
}
