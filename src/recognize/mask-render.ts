import type { Point, RgbImage } from '../types.ts';

/**
 * Synthetic face masks drawn on the ArcFace-aligned 112x112 crop. Because the crop is aligned to
 * the 5 landmarks, a polygon in template coordinates is a mask placed from the landmarks: it
 * starts on the nose bridge (between the eye line y~52 and the nose tip y~72) and ends below the
 * chin, like a real surgical / FFP2 / cloth mask.
 */
export type MaskShape = 'surgical' | 'ffp2' | 'cloth';
export type Rgb = readonly [number, number, number];

export const MASK_SHAPES: Readonly<Record<MaskShape, readonly Point[]>> = {
  surgical: [[18, 64], [56, 59], [94, 64], [94, 92], [78, 110], [34, 110], [18, 92]],
  ffp2: [[22, 68], [56, 57], [90, 68], [92, 92], [56, 112], [20, 92]],
  cloth: [[14, 62], [56, 60], [98, 62], [98, 98], [56, 112], [14, 98]],
};

export const MASK_COLOURS: Readonly<Record<string, Rgb>> = {
  lightBlue: [160, 205, 230],
  white: [236, 236, 236],
  black: [32, 32, 36],
};

/** The masks enrollment renders: three shapes, three colours (one template each). */
export const ENROLLMENT_MASKS: readonly { shape: MaskShape; colour: Rgb }[] = [
  { shape: 'surgical', colour: MASK_COLOURS.lightBlue },
  { shape: 'ffp2', colour: MASK_COLOURS.white },
  { shape: 'cloth', colour: MASK_COLOURS.black },
];

/** Even-odd point-in-polygon. */
export function insidePolygon(x: number, y: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * A copy of the aligned crop with a mask painted on. A soft vertical shading (darker at the edges)
 * keeps the mask from being a flat patch the embedder could key on.
 */
export function renderMask(aligned: RgbImage, shape: MaskShape, colour: Rgb): RgbImage {
  const k = aligned.width / 112;
  const poly = MASK_SHAPES[shape].map(([x, y]): Point => [x * k, y * k]);
  const out = new Uint8Array(aligned.data);
  for (let y = 0; y < aligned.height; y++) {
    for (let x = 0; x < aligned.width; x++) {
      if (!insidePolygon(x + 0.5, y + 0.5, poly)) continue;
      const shade = 1 - 0.18 * Math.abs((x + 0.5) / aligned.width - 0.5) * 2;
      const o = (y * aligned.width + x) * 3;
      out[o] = Math.round(colour[0] * shade);
      out[o + 1] = Math.round(colour[1] * shade);
      out[o + 2] = Math.round(colour[2] * shade);
    }
  }
  return { data: out, width: aligned.width, height: aligned.height };
}
