/**
 * The enrollment quality checks as one pure function: each measure of the photo's face against
 * its threshold, and for a refused photo which check failed, the measured value, the threshold and
 * what to do about it ("move closer: eyes 24 px apart, at least 30 needed"). The measures come from
 * ./quality.ts; the defaults were chosen from the good enrollment photos of ../shared/data
 * (docs/benchmarks.md, enrollment quality).
 */
export type QualityCheck = 'one-face' | 'eye-distance' | 'yaw' | 'pitch' | 'sharpness';

export interface EnrollmentMeasures {
  /** Faces found (after the ambiguity rule: a much smaller background face does not count). */
  readonly faces: number;
  /** Inter-eye distance in the photo's own pixels. */
  readonly eyeDistancePx: number;
  /** Yaw and pitch proxies from the 5 landmarks (./quality.ts poseProxies). */
  readonly yaw: number;
  readonly pitch: number;
  /** Variance of the Laplacian of the aligned 112x112 crop. */
  readonly sharpness: number;
}

export interface QualityThresholds {
  readonly minInterOcular: number;
  readonly maxYaw: number;
  readonly maxPitch: number;
  readonly minSharpness: number;
}

export interface QualityFailure {
  readonly check: QualityCheck;
  readonly value: number;
  readonly threshold: number;
  /** One line: what to do, then the figures. */
  readonly message: string;
  readonly fix: string;
}

const f2 = (v: number): string => v.toFixed(2);

/** Every failed check, in the order an operator should fix them (one face, size, pose, sharpness). */
export function enrollmentQualityFailures(m: EnrollmentMeasures, t: QualityThresholds): QualityFailure[] {
  const out: QualityFailure[] = [];
  if (m.faces !== 1) {
    const fix = m.faces === 0 ? 'use a photo where the face is visible, frontal and well lit' : 'crop the photo to the person, or use a portrait';
    out.push({ check: 'one-face', value: m.faces, threshold: 1, fix, message: m.faces === 0 ? 'no face found: exactly 1 needed' : `${m.faces} faces: exactly 1 needed` });
  }
  if (m.faces === 0) return out;
  if (m.eyeDistancePx < t.minInterOcular) {
    out.push({ check: 'eye-distance', value: m.eyeDistancePx, threshold: t.minInterOcular, fix: 'move closer, or use a higher-resolution photo', message: `move closer: eyes ${Math.round(m.eyeDistancePx)} px apart, at least ${t.minInterOcular} needed` });
  }
  if (Math.abs(m.yaw) > t.maxYaw) {
    out.push({ check: 'yaw', value: m.yaw, threshold: t.maxYaw, fix: 'look straight at the camera', message: `face the camera: head turned ${m.yaw > 0 ? 'to one side' : 'to the other side'} (yaw ${f2(m.yaw)}, at most ${f2(t.maxYaw)} allowed)` });
  }
  if (Math.abs(m.pitch) > t.maxPitch) {
    out.push({ check: 'pitch', value: m.pitch, threshold: t.maxPitch, fix: 'hold the head level, camera at eye height', message: `level the head: tilted ${m.pitch > 0 ? 'down' : 'up'} (pitch ${f2(m.pitch)}, at most ${f2(t.maxPitch)} allowed)` });
  }
  if (m.sharpness < t.minSharpness) {
    out.push({ check: 'sharpness', value: m.sharpness, threshold: t.minSharpness, fix: 'hold still, focus on the face, use more light', message: `too blurry: sharpness ${Math.round(m.sharpness)}, at least ${t.minSharpness} needed` });
  }
  return out;
}
