/**
 * Motion away from the faces already tracked: pure, on the motion detector's moved-cell mask.
 *
 * While every visible face is recognised and settled, the detector runs only every interval-th
 * frame. Motion alone cannot tell the gate to run sooner: the tracked people move all the time.
 * But a person's own motion stays around their face and below it (head, shoulders, body); motion
 * elsewhere is someone else coming in, who should be found at once rather than at the next
 * interval. So each tracked face claims a zone, one face width to each side, one face height above
 * and everything below it down to the frame's bottom edge; moved cells outside every zone are motion
 * "beside" the tracked faces. The zone is generous on purpose: a settled person waving only costs
 * an early detection, while a zone too tight would make every walking step count.
 */
import type { Box } from '../types.ts';

/** A person's zone around a face box, in face widths (sides) and face heights (above). */
export interface PersonZone {
  readonly sideWidths: number;
  readonly aboveHeights: number;
}

export const DEFAULT_PERSON_ZONE: Readonly<PersonZone> = Object.freeze({ sideWidths: 2, aboveHeights: 1 });

/** Moved cells of one frame (or several, OR-ed): `cells[y * width + x]` is 1 where a cell moved. */
export interface MovedCells {
  readonly cells: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Share of all cells (0..1) that moved outside every face's zone. `faces` are normalised boxes
 * (0..1 of the frame's width and height, the same frame the mask was computed on).
 */
export function motionBesideFaces(moved: MovedCells, faces: readonly Box[], zone: Readonly<PersonZone> = DEFAULT_PERSON_ZONE): number {
  const { cells, width, height } = moved;
  const n = width * height;
  if (n === 0) return 0;
  // Each zone normalised: x in [x1, x2], y from y1 down; a cell belongs to it when its centre does.
  const zones = faces.map(([x1, y1, x2, y2]) => {
    const w = x2 - x1;
    const h = y2 - y1;
    return [x1 - zone.sideWidths * w, y1 - zone.aboveHeights * h, x2 + zone.sideWidths * w] as const;
  });
  let outside = 0;
  for (let y = 0, i = 0; y < height; y++) {
    const cy = (y + 0.5) / height;
    for (let x = 0; x < width; x++, i++) {
      if (cells[i] === 0) continue;
      const cx = (x + 0.5) / width;
      let inZone = false;
      for (const [zx1, zy1, zx2] of zones) {
        if (cx >= zx1 && cx <= zx2 && cy >= zy1) {
          inZone = true;
          break;
        }
      }
      if (!inZone) outside++;
    }
  }
  return outside / n;
}
