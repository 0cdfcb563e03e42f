import type { Landmarks, Point, RgbImage } from '../types.ts';

/** The standard ArcFace 112x112 5-point template (InsightFace `arcface_dst`). */
export const ARCFACE_TEMPLATE_112: Landmarks = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** A 2x3 affine matrix [a, b, tx, c, d, ty]: x' = a x + b y + tx, y' = c x + d y + ty. */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) taking `src` onto
 * `dst`: Umeyama's estimator restricted to proper rotations. In 2-D it has this closed form —
 * the reflection case Umeyama corrects with sign(det) never arises because the rotation is
 * parametrised as [a -b; b a].
 */
export function umeyama(src: readonly Point[], dst: readonly Point[]): Affine {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new RangeError(`umeyama needs >= 2 point pairs of equal count, got ${n} and ${dst.length}`);
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i][0];
    sy += src[i][1];
    dx += dst[i][0];
    dy += dst[i][1];
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let dotSum = 0;
  let crossSum = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const xs = src[i][0] - sx;
    const ys = src[i][1] - sy;
    const xd = dst[i][0] - dx;
    const yd = dst[i][1] - dy;
    dotSum += xs * xd + ys * yd;
    crossSum += xs * yd - ys * xd;
    norm += xs * xs + ys * ys;
  }
  if (norm === 0) throw new RangeError('umeyama: source points are all identical');
  const a = dotSum / norm; // scale * cos(theta)
  const b = crossSum / norm; // scale * sin(theta)
  return [a, -b, dx - (a * sx - b * sy), b, a, dy - (b * sx + a * sy)];
}

export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (det === 0) throw new RangeError('affine matrix is singular');
  const ia = m[4] / det;
  const ib = -m[1] / det;
  const ic = -m[3] / det;
  const id = m[0] / det;
  return [ia, ib, -(ia * m[2] + ib * m[5]), ic, id, -(ic * m[2] + id * m[5])];
}

/**
 * Warp `image` by `m` (source -> destination) into a width x height RGB image, bilinear,
 * black outside the source (cv2.warpAffine's defaults, which the embedders were trained with).
 */
export function warpAffine(image: RgbImage, m: Affine, width: number, height: number): RgbImage {
  const inv = invertAffine(m);
  const out = new Uint8Array(width * height * 3);
  const { data, width: sw, height: sh } = image;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const x = inv[0] * u + inv[1] * v + inv[2];
      const y = inv[3] * u + inv[4] * v + inv[5];
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const fx = x - x0;
      const fy = y - y0;
      const o = (v * width + u) * 3;
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = 0; k < 4; k++) {
          const xi = x0 + (k & 1);
          const yi = y0 + (k >> 1);
          if (xi < 0 || yi < 0 || xi >= sw || yi >= sh) continue;
          const w = (k & 1 ? fx : 1 - fx) * (k >> 1 ? fy : 1 - fy);
          acc += w * data[(yi * sw + xi) * 3 + c];
        }
        out[o + c] = acc < 0 ? 0 : acc > 255 ? 255 : Math.round(acc);
      }
    }
  }
  return { data: out, width, height };
}

/** Align a face to the ArcFace 112x112 template from its 5 landmarks (full-resolution frame). */
export function alignFace(image: RgbImage, landmarks: Landmarks, size = 112): { crop: RgbImage; transform: Affine } {
  const k = size / 112;
  const dst = ARCFACE_TEMPLATE_112.map(([x, y]): Point => [x * k, y * k]);
  const transform = umeyama(landmarks, dst);
  return { crop: warpAffine(image, transform, size, size), transform };
}
