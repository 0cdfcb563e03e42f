/**
 * Landmark planarity over a track, on synthetic landmark tracks seen by a pinhole camera: a flat
 * picture moved and tilted stays planar, a head that turns does not, a face that does not turn is
 * no evidence either way, and one pixel of landmark noise changes none of that at door face sizes.
 */
import t from 'tap';
import { mulberry32 } from '../../src/lib/random.ts';
import { applyHomography, DEFAULT_PLANARITY, fitHomography, homographyTilt, planarityPair, reprojectionRms, symmetricEigen, trackPlanarity, type Homography } from '../../src/recognize/planarity.ts';
import type { Landmarks, Point } from '../../src/types.ts';

/**
 * A face in its own frame, in inter-ocular distances: eyes and mouth corners on one plane (z = 0),
 * the nose tip half an inter-ocular distance in front of it (towards the camera, -z). A picture of
 * the same face has the nose on the plane.
 */
const HEAD: readonly (readonly [number, number, number])[] = [
  [-0.5, -0.4, 0],
  [0.5, -0.4, 0],
  [0, 0.1, -0.5],
  [-0.4, 0.6, 0],
  [0.4, 0.6, 0],
];
const PICTURE = HEAD.map(([x, y]) => [x, y, 0] as const);

interface Pose {
  readonly yaw: number;
  readonly pitch?: number;
  readonly roll?: number;
  /** Shift in the image, pixels. */
  readonly dx?: number;
  readonly dy?: number;
  /** Distance scale: 1 = the nominal distance, 1.2 = 20% further. */
  readonly depth?: number;
}

const rad = (d: number): number => (d * Math.PI) / 180;

/** The five landmarks of `model` at `pose`, by a pinhole camera (f = 800 px), inter-ocular `iod` px at the nominal distance. */
function project(model: typeof HEAD, pose: Pose, iod: number, noise = 0, rnd: () => number = Math.random): Landmarks {
  const f = 800;
  const z0 = (f / iod) * (pose.depth ?? 1);
  const [cy, sy] = [Math.cos(rad(pose.yaw)), Math.sin(rad(pose.yaw))];
  const [cp, sp] = [Math.cos(rad(pose.pitch ?? 0)), Math.sin(rad(pose.pitch ?? 0))];
  const [cr, sr] = [Math.cos(rad(pose.roll ?? 0)), Math.sin(rad(pose.roll ?? 0))];
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  return model.map(([x0, y0, z0m]) => {
    // roll (in the image plane), then yaw (about the vertical), then pitch (about the horizontal)
    const x1 = cr * x0 - sr * y0;
    const y1 = sr * x0 + cr * y0;
    const x2 = cy * x1 + sy * z0m;
    const z2 = -sy * x1 + cy * z0m;
    const y3 = cp * y1 - sp * z2;
    const z3 = sp * y1 + cp * z2;
    return [640 + (pose.dx ?? 0) + (f * x2) / (z0 + z3) + noise * gauss(), 360 + (pose.dy ?? 0) + (f * y3) / (z0 + z3) + noise * gauss()] as Point;
  }) as unknown as Landmarks;
}

/** A track of `frames` poses from `pose(k)`. */
const track = (model: typeof HEAD, frames: number, pose: (k: number) => Pose, iod: number, noise = 0, seed = 1): Landmarks[] => {
  const rnd = mulberry32(seed);
  return Array.from({ length: frames }, (_, k) => project(model, pose(k), iod, noise, rnd));
};

/** A turn that sweeps yaw from -amp to +amp and back over the track, with a little pitch and drift. */
const sweep = (amp: number, frames: number) => (k: number): Pose => ({ yaw: amp * Math.sin((2 * Math.PI * k) / frames), pitch: 5 * Math.sin((4 * Math.PI * k) / frames), dx: 3 * k, roll: 4 * Math.sin((2 * Math.PI * k) / frames) });

t.test('symmetricEigen diagonalises a symmetric matrix', async (t) => {
  const m = [
    [4, 1, 2],
    [1, 3, 0],
    [2, 0, 5],
  ];
  const { values, vectors } = symmetricEigen(m);
  for (let k = 0; k < 3; k++) {
    const v = vectors[k];
    const mv = m.map((r) => r.reduce((s, x, j) => s + x * v[j], 0));
    for (let i = 0; i < 3; i++) t.ok(Math.abs(mv[i] - values[k] * v[i]) < 1e-9, `M v = lambda v (${k}, ${i})`);
  }
  t.ok(Math.abs(values.reduce((a, b) => a + b, 0) - 12) < 1e-9, 'the trace is kept');
});

t.test('fitHomography recovers a homography: exact on four points, least squares on five', async (t) => {
  const rnd = mulberry32(11);
  for (let trial = 0; trial < 50; trial++) {
    const h: Homography = [1 + 0.3 * (rnd() - 0.5), 0.3 * (rnd() - 0.5), 200 * rnd(), 0.3 * (rnd() - 0.5), 1 + 0.3 * (rnd() - 0.5), 200 * rnd(), 4e-4 * (rnd() - 0.5), 4e-4 * (rnd() - 0.5), 1];
    const src: Point[] = Array.from({ length: 5 }, () => [300 + 200 * rnd(), 200 + 200 * rnd()] as Point);
    const dst = src.map((p) => applyHomography(h, p));
    for (const n of [4, 5]) {
      const fit = fitHomography(src.slice(0, n), dst.slice(0, n));
      if (!fit) {
        t.fail(`trial ${trial}: no fit on ${n} points`);
        continue;
      }
      t.ok(reprojectionRms(fit, src, dst) < 1e-6, `trial ${trial}, ${n} points: every point maps back`);
      for (let i = 0; i < 9; i++) t.ok(Math.abs(fit[i] - h[i]) < 1e-6 * Math.max(1, Math.abs(h[i])), `trial ${trial}, ${n} points: h[${i}]`);
    }
  }
});

t.test('degenerate input has no homography and no pair', async (t) => {
  const p: Point[] = [
    [0, 0],
    [1, 0],
    [0, 1],
  ];
  t.equal(fitHomography(p, p), undefined, 'three points are not enough');
  t.equal(fitHomography([...p, [1, 1]], p), undefined, 'counts must match');
  const same: Point[] = Array.from({ length: 5 }, () => [10, 10] as Point);
  t.equal(fitHomography(same, same), undefined, 'coincident points');
  t.equal(planarityPair(same as unknown as Landmarks, same as unknown as Landmarks), undefined);
  t.same(trackPlanarity([]), { verdict: 'no-evidence', residual: undefined, residualAll: undefined, maxTilt: 0, pairs: 0, turningPairs: 0, parallaxPairs: 0 });
});

t.test('tilt: a plane turned by t reads t; shift, roll and zoom read none', async (t) => {
  const front = project(PICTURE, { yaw: 0 }, 200);
  for (const yaw of [10, 20, 30, 45]) {
    const p = planarityPair(front, project(PICTURE, { yaw }, 200));
    t.ok(p && Math.abs(p.tilt - yaw) < 1.5, `yaw ${yaw}: tilt ${p?.tilt.toFixed(2)}`);
    t.ok(p && p.residual < 1e-6, `yaw ${yaw}: a plane fits exactly (${p?.residual})`);
  }
  const moved = planarityPair(project(HEAD, { yaw: 0 }, 80), project(HEAD, { yaw: 0, roll: 20, dx: 150, dy: -40, depth: 0.7 }, 80));
  t.ok(moved && moved.tilt < 3, `in-plane motion of a head: tilt ${moved?.tilt.toFixed(2)}`);
  const h: Homography = [2, 0, 5, 0, 2, 7, 0, 0, 1];
  t.ok(Math.abs(homographyTilt(h, [3, 4])) < 1e-6, 'a zoom has no tilt');
});

t.test('a head that turns shows parallax the plane of its eyes and mouth cannot fit', async (t) => {
  const front = project(HEAD, { yaw: 0 }, 80);
  let last = 0;
  for (const yaw of [15, 20, 25, 30]) {
    const p = planarityPair(front, project(HEAD, { yaw }, 80));
    t.ok(p && p.residual > DEFAULT_PLANARITY.maxPlanarResidual, `yaw ${yaw}: residual ${p?.residual.toFixed(3)} above ${DEFAULT_PLANARITY.maxPlanarResidual}`);
    t.ok(p && p.residual > last, 'the residual grows with the turn');
    last = p?.residual ?? Infinity;
  }
});

t.test('a picture moved under random poses (random homographies) is planar, with evidence', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = mulberry32(seed);
    const poses = Array.from({ length: 40 }, () => ({ yaw: 70 * (rnd() - 0.5), pitch: 40 * (rnd() - 0.5), roll: 30 * (rnd() - 0.5), dx: 200 * (rnd() - 0.5), dy: 100 * (rnd() - 0.5), depth: 0.8 + 0.4 * rnd() }));
    const r = trackPlanarity(track(PICTURE, 40, (k) => poses[k], 80, 0, seed));
    t.equal(r.verdict, 'planar', `seed ${seed}: ${JSON.stringify(r)}`);
    t.ok((r.residual ?? 1) < 1e-6, 'no noise: the fit is exact');
  }
});

t.test('a head turning 15 to 30 degrees is non-planar', async (t) => {
  for (const amp of [15, 20, 25, 30]) {
    const r = trackPlanarity(track(HEAD, 40, sweep(amp, 40), 80));
    t.equal(r.verdict, 'non-planar', `sweep +-${amp}: ${JSON.stringify(r)}`);
  }
  const oneWay = trackPlanarity(track(HEAD, 30, (k) => ({ yaw: k }), 80));
  t.equal(oneWay.verdict, 'non-planar', `a turn from 0 to 29 degrees: ${JSON.stringify(oneWay)}`);
});

t.test('a face that does not turn is no evidence, head or picture, still or moving in the image plane', async (t) => {
  const still = (): Pose => ({ yaw: 0 });
  const inPlane = (k: number): Pose => ({ yaw: 0, roll: 15 * Math.sin(k / 4), dx: 8 * k, dy: 3 * k, depth: 1 + 0.01 * k });
  for (const model of [HEAD, PICTURE])
    for (const pose of [still, inPlane]) {
      const r = trackPlanarity(track(model, 40, pose, 80));
      t.equal(r.verdict, 'no-evidence', `${model === HEAD ? 'head' : 'picture'}, ${pose === still ? 'still' : 'in-plane motion'}: ${JSON.stringify(r)}`);
    }
  const small = trackPlanarity(track(PICTURE, 40, sweep(8, 40), 80));
  t.equal(small.verdict, 'no-evidence', `a picture turned +-8 degrees is too little to tell: ${JSON.stringify(small)}`);
});

/**
 * Noise model: SCRFD landmarks jitter by about a pixel on a sharp face. With 1 px Gaussian noise on
 * every coordinate of both frames, a five-point homography fit leaves a residual of about 0.9 px
 * RMS (2 residual degrees of freedom of 10): 0.013 inter-ocular distances at 60 px between the
 * eyes, 0.033 in one pair of a hundred. A track's median over its turning pairs stays far under
 * maxPlanarResidual (0.04), while a head turned by 25 degrees, the least turn that counts, leaves
 * about 0.09. Noise also fakes tilt (foreshortening is only 1 - cos(t)): 16 degrees in a typical
 * pair of a still face at 60 px, 26 in one of a hundred. minTilt (25) with minTurningShare (20% of
 * the pairs) keeps a still face at no-evidence. Faces of 60 and 100 px between the eyes are
 * checked (a door camera's recognisable faces); below about 40 px one pixel is too much noise.
 */
t.test('one pixel of landmark noise at door face sizes: verdicts hold', async (t) => {
  for (const iod of [60, 100])
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = mulberry32(100 + seed);
      const poses = Array.from({ length: 40 }, () => ({ yaw: 70 * (rnd() - 0.5), pitch: 30 * (rnd() - 0.5), roll: 20 * (rnd() - 0.5), dx: 100 * (rnd() - 0.5), dy: 60 * (rnd() - 0.5) }));
      const picture = trackPlanarity(track(PICTURE, 40, (k) => poses[k], iod, 1, seed));
      t.equal(picture.verdict, 'planar', `iod ${iod}, seed ${seed}: a moving picture stays planar: ${JSON.stringify(picture)}`);
      const head = trackPlanarity(track(HEAD, 40, sweep(20, 40), iod, 1, seed));
      t.equal(head.verdict, 'non-planar', `iod ${iod}, seed ${seed}: a turning head stays non-planar: ${JSON.stringify(head)}`);
      for (const model of [HEAD, PICTURE]) {
        const still = trackPlanarity(track(model, 40, () => ({ yaw: 0 }), iod, 1, seed));
        t.equal(still.verdict, 'no-evidence', `iod ${iod}, seed ${seed}: a still ${model === HEAD ? 'head' : 'picture'} is no evidence: ${JSON.stringify(still)}`);
      }
    }
});

t.test('the noise model behind maxPlanarResidual: 1 px noise leaves about 0.9 px RMS on a plane', async (t) => {
  // Two residual degrees of freedom of ten coordinates, noise in both frames: E[sum r^2] ~ 2 x 2 sigma^2,
  // so the RMS over five points is about sqrt(4 / 5) = 0.9 sigma.
  const rnd = mulberry32(5);
  const rms: number[] = [];
  for (let k = 0; k < 400; k++) {
    const p = planarityPair(project(PICTURE, { yaw: 0 }, 60, 1, rnd), project(PICTURE, { yaw: 30 * rnd() }, 60, 1, rnd));
    if (p) rms.push(p.residual * 60);
  }
  const meanSquare = rms.reduce((s, r) => s + r * r, 0) / rms.length;
  t.ok(Math.sqrt(meanSquare) > 0.7 && Math.sqrt(meanSquare) < 1.1, `RMS residual ${Math.sqrt(meanSquare).toFixed(2)} px`);
  const sorted = [...rms].sort((a, b) => a - b);
  t.ok(sorted[Math.floor(0.99 * sorted.length)] / 60 < DEFAULT_PLANARITY.maxPlanarResidual, 'one pair in a hundred stays under the threshold at 60 px');
});
