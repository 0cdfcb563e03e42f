import type { Box } from '../types.ts';

export function boxArea(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

export function iou(a: Box, b: Box): number {
  const ix = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

/**
 * Greedy non-maximum suppression: keep the best-scoring box, drop every box overlapping it by more
 * than `iouThreshold`, repeat. Returns kept indices in descending score order.
 */
export function nms(boxes: readonly Box[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  const order = boxes.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const suppressed = new Uint8Array(boxes.length);
  const keep: number[] = [];
  for (let oi = 0; oi < order.length; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    for (let oj = oi + 1; oj < order.length; oj++) {
      const j = order[oj];
      if (!suppressed[j] && iou(boxes[i], boxes[j]) > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}
