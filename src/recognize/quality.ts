import type { Face, Landmarks, RgbImage } from '../types.ts';

/** Distance between the eye landmarks in pixels: the standard face-size measure for recognition. */
export function interOcularDistance(l: Landmarks): number {
  return Math.hypot(l[1][0] - l[0][0], l[1][1] - l[0][1]);
}

export interface PoseProxies {
  /** Nose offset from the eye midpoint across the face, in eye distances: ~0 frontal, +-0.5 strong turn. */
  readonly yaw: number;
  /** Nose position between the eye line (0) and the mouth line (1), minus the ArcFace template's 0.5. */
  readonly pitch: number;
  /** Eye-line angle in degrees. */
  readonly roll: number;
}

/**
 * Pose from the 5 landmarks alone (no 3-D model): cheap proxies that rank frames of one track,
 * which is all best-shot selection needs.
 */
export function poseProxies(l: Landmarks): PoseProxies {
  const [le, re, nose, lm, rm] = l;
  const ex = re[0] - le[0];
  const ey = re[1] - le[1];
  const eyeDist = Math.hypot(ex, ey) || 1;
  const roll = (Math.atan2(ey, ex) * 180) / Math.PI;
  // Project the nose onto the eye axis and its normal.
  const ux = ex / eyeDist;
  const uy = ey / eyeDist;
  const midEye: [number, number] = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const midMouth: [number, number] = [(lm[0] + rm[0]) / 2, (lm[1] + rm[1]) / 2];
  const nx = nose[0] - midEye[0];
  const ny = nose[1] - midEye[1];
  const yaw = (nx * ux + ny * uy) / eyeDist;
  const faceLen = (midMouth[0] - midEye[0]) * -uy + (midMouth[1] - midEye[1]) * ux || 1;
  const noseDown = nx * -uy + ny * ux;
  const pitch = noseDown / faceLen - 0.5;
  return { yaw, pitch, roll };
}

/**
 * Variance of the 4-neighbour Laplacian of the luma: low on blurred crops. Measured on the aligned
 * crop so values compare across face sizes.
 */
export function laplacianVariance(image: RgbImage): number {
  const { data, width: w, height: h } = image;
  const luma = new Float32Array(w * h);
  for (let i = 0, p = 0; p < luma.length; p++, i += 3) luma[p] = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
  let sum = 0;
  let sum2 = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = y * w + x;
      const lap = luma[p - 1] + luma[p + 1] + luma[p - w] + luma[p + w] - 4 * luma[p];
      sum += lap;
      sum2 += lap * lap;
      n++;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return sum2 / n - mean * mean;
}

export interface FaceQuality {
  readonly score: number;
  readonly detScore: number;
  readonly interOcular: number;
  readonly pose: PoseProxies;
  readonly sharpness: number;
  /** Overall quality in [0, 1]: the product of the factors below. */
  readonly value: number;
}

export interface QualityOptions {
  /** Inter-ocular distance (px) at and above which size stops mattering. */
  readonly fullSizeIod?: number;
  /** Laplacian variance at and above which sharpness stops mattering. */
  readonly fullSharpness?: number;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * One comparable number per face for best-shot selection: detector confidence x size x frontalness
 * x sharpness, each mapped to [0, 1]. The factors multiply so one bad factor (a profile view, a
 * 10 px face, motion blur) sinks the frame however good the others are.
 */
export function faceQuality(face: Face, alignedCrop: RgbImage, opts: QualityOptions = {}): FaceQuality {
  const iod = interOcularDistance(face.landmarks);
  const pose = poseProxies(face.landmarks);
  const sharpness = laplacianVariance(alignedCrop);
  const sizeF = clamp01(iod / (opts.fullSizeIod ?? 40));
  const poseF = clamp01(1 - Math.abs(pose.yaw) / 0.5) * clamp01(1 - Math.abs(pose.pitch) / 0.5) * clamp01(1 - Math.abs(pose.roll) / 45);
  const sharpF = clamp01(sharpness / (opts.fullSharpness ?? 150));
  const detF = clamp01(face.score);
  return { score: face.score, detScore: detF, interOcular: iod, pose, sharpness, value: detF * sizeF * poseF * sharpF };
}
