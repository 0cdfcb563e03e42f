/**
 * Landmark planarity over a track, pure: does the face move like a flat picture or like a head?
 *
 * A print or a screen showing a still face is a plane: however it is held, tilted or moved, its
 * five landmarks in one frame map onto the same five in any other frame by one homography (a
 * plane seen by a pinhole camera). A real head is not flat: the nose sits in front of the plane of
 * the eyes and mouth corners, so when the head turns (or the camera sees it from another angle)
 * the nose moves against the other four points (parallax) and no homography fits all five.
 *
 * So, per pair of frames: fit a homography to the five points (normalised DLT, least squares on
 * five points), and measure the reprojection residual in units of the inter-ocular distance
 * (independent of face size). Five points give ten equations for eight unknowns: the residual
 * has two degrees of freedom, which is what carries the parallax.
 *
 * A face that does not turn shows no parallax whether it is a head or a picture: in-plane motion
 * (shift, roll, zoom) fits a homography exactly for both. Only out-of-plane rotation tells them
 * apart, so each pair also gets its tilt (the foreshortening of the fitted map at the face), and
 * only pairs that tilt enough count. A track without such pairs has no evidence: the cue says
 * `no-evidence`, never `planar`.
 *
 * What it cannot see: a screen replaying a video of a person who turns their head. The recorded
 * head's parallax is in the picture, so the landmarks on the screen are not planar either. The
 * cue can only catch a still picture (a print, a photo on a screen) that is moved or tilted.
 */
import { median } from '../lib/stats.ts';
import type { Landmarks, Point } from '../types.ts';
import { interOcularDistance } from './quality.ts';

/** Row-major 3x3, mapping [x, y, 1] to [u w, v w, w]. */
export type Homography = readonly [number, number, number, number, number, number, number, number, number];

/**
 * Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations: the DLT needs only
 * the eigenvector of the smallest eigenvalue of A^T A (9x9), and Jacobi is exact enough and short.
 */
export function symmetricEigen(m: readonly (readonly number[])[]): { values: number[]; vectors: number[][] } {
  const n = m.length;
  const a = m.map((r) => [...r]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p];
          const akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k];
          const aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  // Columns of v are the eigenvectors.
  return { values: a.map((r, i) => r[i]), vectors: Array.from({ length: n }, (_, j) => v.map((r) => r[j])) };
}

/**
 * Hartley normalisation: centroid to the origin, mean distance sqrt(2). Without it the DLT mixes
 * pixel coordinates (hundreds) with ones and the smallest eigenvector is dominated by rounding.
 */
function normaliser(pts: readonly Point[]): { t: Homography; inv: Homography } | undefined {
  const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  const mean = pts.reduce((s, p) => s + Math.hypot(p[0] - cx, p[1] - cy), 0) / pts.length;
  if (!(mean > 1e-9)) return undefined;
  const k = Math.SQRT2 / mean;
  return { t: [k, 0, -k * cx, 0, k, -k * cy, 0, 0, 1], inv: [1 / k, 0, cx, 0, 1 / k, cy, 0, 0, 1] };
}

function multiply(a: Homography, b: Homography): Homography {
  const r = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return r as unknown as Homography;
}

export function applyHomography(h: Homography, p: Point): Point {
  const w = h[6] * p[0] + h[7] * p[1] + h[8];
  return [(h[0] * p[0] + h[1] * p[1] + h[2]) / w, (h[3] * p[0] + h[4] * p[1] + h[5]) / w];
}

/**
 * The homography taking `src` onto `dst` (4 or more corresponding points): exact on four, least
 * squares (algebraic, in normalised coordinates) on more. Undefined for degenerate input (fewer
 * than four points, all points coincident, or a map that sends the points to infinity).
 */
export function fitHomography(src: readonly Point[], dst: readonly Point[]): Homography | undefined {
  if (src.length < 4 || src.length !== dst.length) return undefined;
  const ns = normaliser(src);
  const nd = normaliser(dst);
  if (!ns || !nd) return undefined;
  const ata = Array.from({ length: 9 }, () => new Array<number>(9).fill(0));
  const addRow = (r: readonly number[]): void => {
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) ata[i][j] += r[i] * r[j];
  };
  for (let i = 0; i < src.length; i++) {
    const [x, y] = applyHomography(ns.t, src[i]);
    const [u, v] = applyHomography(nd.t, dst[i]);
    addRow([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
    addRow([x, y, 1, 0, 0, 0, -u * x, -u * y, -u]);
  }
  const { values, vectors } = symmetricEigen(ata);
  let k = 0;
  for (let i = 1; i < 9; i++) if (values[i] < values[k]) k = i;
  const hn = vectors[k] as unknown as Homography;
  const h = multiply(multiply(nd.inv, hn), ns.t);
  const scale = Math.abs(h[8]) > 1e-12 ? h[8] : Math.hypot(...h);
  const out = h.map((x) => x / scale) as unknown as Homography;
  return out.every(Number.isFinite) ? out : undefined;
}

/** RMS distance between each dst point and its src point mapped by h (pixels of the dst frame). */
export function reprojectionRms(h: Homography, src: readonly Point[], dst: readonly Point[]): number {
  let e = 0;
  for (let i = 0; i < src.length; i++) {
    const [u, v] = applyHomography(h, src[i]);
    e += (u - dst[i][0]) ** 2 + (v - dst[i][1]) ** 2;
  }
  return Math.sqrt(e / src.length);
}

/**
 * Out-of-plane rotation implied by a homography near a point, in degrees: a plane turned by an
 * angle t away from the camera is foreshortened by cos(t) across the turn, so the ratio of the
 * local map's singular values is cos(t). Shift, roll and zoom leave the ratio at 1: they turn
 * nothing out of the image plane and give no parallax to a head either.
 */
export function homographyTilt(h: Homography, at: Point): number {
  const [x, y] = at;
  const w = h[6] * x + h[7] * y + h[8];
  const u = (h[0] * x + h[1] * y + h[2]) / w;
  const v = (h[3] * x + h[4] * y + h[5]) / w;
  const a = (h[0] - u * h[6]) / w;
  const b = (h[1] - u * h[7]) / w;
  const c = (h[3] - v * h[6]) / w;
  const d = (h[4] - v * h[7]) / w;
  const sq = a * a + b * b + c * c + d * d;
  const det = a * d - b * c;
  const disc = Math.sqrt(Math.max(0, sq * sq - 4 * det * det));
  const s1 = Math.sqrt((sq + disc) / 2);
  const s2 = Math.sqrt(Math.max(0, (sq - disc) / 2));
  if (!(s1 > 0)) return Number.NaN;
  return (Math.acos(Math.min(1, s2 / s1)) * 180) / Math.PI;
}

/** One pair of frames of a track: how well one homography fits, and how much the face turned. */
export interface PlanarityPair {
  readonly from: number;
  readonly to: number;
  /** RMS reprojection residual of the five landmarks, in inter-ocular distances of the `to` frame. */
  readonly residual: number;
  /** Out-of-plane rotation between the two frames, degrees (see homographyTilt). */
  readonly tilt: number;
}

const centroid = (pts: readonly Point[]): Point => [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];

/** The pair's fit; undefined when no homography can be fitted (degenerate landmarks). */
export function planarityPair(a: Landmarks, b: Landmarks, from = 0, to = 1): PlanarityPair | undefined {
  const h = fitHomography(a, b);
  const iod = interOcularDistance(b);
  if (!h || !(iod > 0)) return undefined;
  const residual = reprojectionRms(h, a, b) / iod;
  const tilt = homographyTilt(h, centroid(a));
  return Number.isFinite(residual) && Number.isFinite(tilt) ? { from, to, residual, tilt } : undefined;
}

export interface PlanarityOptions {
  /**
   * Pairs that turned less than this (degrees) are no evidence: a head and a picture look alike.
   * Foreshortening is cos(tilt), so a small turn changes the shape by a few percent, which landmark
   * noise fakes easily: one pixel of noise at 60 px between the eyes makes a still face "tilt" by
   * 16 degrees in a typical pair and 26 in one pair of a hundred (docs/liveness.md).
   */
  readonly minTilt: number;
  /**
   * Share of the pairs that must turn at least minTilt (or show parallax) for a verdict. Noise
   * makes a few pairs of a still face tilt far; a face that really turns does so in many pairs.
   */
  readonly minTurningShare: number;
  /**
   * Median residual (inter-ocular distances) over the turning pairs under which the track moved
   * like a plane. It must sit above what landmark noise gives a plane and below the parallax a
   * head shows at `minTilt` (docs/liveness.md has both).
   */
  readonly maxPlanarResidual: number;
  /** Turning pairs needed before the track has evidence: one pair can be one bad landmark. */
  readonly minPairs: number;
  /** Frames between the two of a pair at least: neighbouring frames barely move. */
  readonly minGap: number;
  /** Frames used as references, evenly spread, bounding the cost to refs x frames fits. */
  readonly maxRefs: number;
}

export const DEFAULT_PLANARITY: PlanarityOptions = { minTilt: 25, minTurningShare: 0.2, maxPlanarResidual: 0.04, minPairs: 5, minGap: 2, maxRefs: 10 };

export type PlanarityVerdict = 'planar' | 'non-planar' | 'no-evidence';

export interface TrackPlanarity {
  readonly verdict: PlanarityVerdict;
  /** Median residual over the turning pairs (undefined without any). */
  readonly residual: number | undefined;
  /** Median residual over every pair (what noise and in-plane motion give; a diagnostic). */
  readonly residualAll: number | undefined;
  /** Largest tilt of any pair (one noisy pair can tilt far: a diagnostic, not the gate). */
  readonly maxTilt: number;
  /** Pairs fitted, those that turned at least minTilt, and those whose residual is above maxPlanarResidual. */
  readonly pairs: number;
  readonly turningPairs: number;
  readonly parallaxPairs: number;
}

/**
 * The track's verdict from its landmarks in frame order. References are spread over the track so
 * a turn anywhere in it is compared with frames before and after; each reference is paired with
 * every later frame at least `minGap` away.
 *
 * - `non-planar` when the turning pairs leave parallax, or when many pairs do at all: a head that
 *   sweeps from one side to the other is foreshortened alike at both ends (cos(-t) = cos(t)), so
 *   its tilt can read small while its nose moved far against the rest.
 * - `planar` only with enough turning pairs and little residual over them: a turn a head could not
 *   have made without parallax.
 * - `no-evidence` otherwise: a face that did not turn (or too little) says nothing, and the caller
 *   must not read it as an attack.
 */
export function trackPlanarity(landmarks: readonly Landmarks[], opts: PlanarityOptions = DEFAULT_PLANARITY): TrackPlanarity {
  const n = landmarks.length;
  const refs = Math.max(1, Math.min(n, Math.floor(opts.maxRefs)));
  const refIdx = [...new Set(Array.from({ length: refs }, (_, k) => Math.round((k * (n - 1)) / Math.max(1, refs - 1))))].filter((i) => i < n);
  const pairs: PlanarityPair[] = [];
  for (const i of refIdx)
    for (let j = i + Math.max(1, opts.minGap); j < n; j++) {
      const p = planarityPair(landmarks[i], landmarks[j], i, j);
      if (p) pairs.push(p);
    }
  const enough = (count: number): boolean => count >= opts.minPairs && count >= opts.minTurningShare * pairs.length;
  const turning = pairs.filter((p) => p.tilt >= opts.minTilt);
  const parallax = pairs.filter((p) => p.residual > opts.maxPlanarResidual).length;
  const residual = turning.length ? median(turning.map((p) => p.residual)) : undefined;
  const verdict: PlanarityVerdict =
    enough(turning.length) && residual !== undefined ? (residual <= opts.maxPlanarResidual ? 'planar' : 'non-planar') : enough(parallax) ? 'non-planar' : 'no-evidence';
  return {
    verdict,
    residual,
    residualAll: pairs.length ? median(pairs.map((p) => p.residual)) : undefined,
    maxTilt: pairs.length ? Math.max(...pairs.map((p) => p.tilt)) : 0,
    pairs: pairs.length,
    turningPairs: turning.length,
    parallaxPairs: parallax,
  };
}
