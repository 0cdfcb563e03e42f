/**
 * Zones: polygons in normalised frame coordinates (0..1 from the top-left, as `cameras[].zones`
 * in the config). A gate that names a zone decides only on faces inside it (the area in front of
 * its door); faces elsewhere are tracked and recognised but never open or deny anything.
 * Pure: no I/O, no clock.
 */

export type Point = readonly [number, number];

export interface Zone {
  readonly id: string;
  readonly polygon: readonly Point[];
}

/**
 * Even-odd ray casting. Points exactly on an edge may fall either way (a face centre on the
 * boundary line is a coin toss for a person too); polygons may be concave, not self-intersecting.
 */
export function pointInPolygon(p: Point, polygon: readonly Point[]): boolean {
  const [x, y] = p;
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Ids of the zones that hold a face: its box centre (pixels) normalised by the frame size. The
 * centre, not a corner: a face half across a zone edge counts where most of it is.
 */
export function zonesOfFace(box: readonly [number, number, number, number], frameWidth: number, frameHeight: number, zones: readonly Zone[]): string[] {
  if (!(frameWidth > 0 && frameHeight > 0)) return [];
  const centre: Point = [(box[0] + box[2]) / 2 / frameWidth, (box[1] + box[3]) / 2 / frameHeight];
  return zones.filter((z) => pointInPolygon(centre, z.polygon)).map((z) => z.id);
}
