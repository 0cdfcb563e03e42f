/** Box overlap measures used as the association cost between tracks and detections. */
import type { Box } from '../types.ts';
import { type Matrix, matCreate } from './matrix.ts';

function area(b: Box): number {
  // Inverted or degenerate boxes (a Kalman prediction can produce them) have no area.
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

/** Intersection over union of two [x1, y1, x2, y2] boxes; 0 when either box is empty. */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (!(iw > 0 && ih > 0)) return 0;
  const inter = iw * ih;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** IoU of every box in `rows` against every box in `cols`: a rows.length x cols.length matrix. */
export function iouMatrix(rows: readonly Box[], cols: readonly Box[]): Matrix {
  const m = matCreate(rows.length, cols.length);
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < cols.length; c++) m.data[r * cols.length + c] = iou(rows[r], cols[c]);
  }
  return m;
}

/** 1 - IoU: the cost linearAssignment minimises, so maxCost = 1 - minIou gates weak overlaps. */
export function iouCostMatrix(rows: readonly Box[], cols: readonly Box[]): Matrix {
  const m = iouMatrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = 1 - m.data[i];
  return m;
}
