/**
 * Landmark planarity (src/recognize/planarity.ts) measured per video track on a labelled PAD
 * folder (../shared/data/spoof_video): the residual of the homography fit in eye distances, how far
 * the face turned, the verdict, and the MiniFASNet median beside it, so the two can be compared and
 * combined (refuse only a planar track with enough turn; never refuse for lack of it).
 *
 *   npx tsx bench/pad-planarity.ts [--videos DIR] [--no-videos] [--photos DIR] [--sim-photos N] [--out FILE.json]
 *
 * The deciding track is the one `eval --pad` judges (most frames). Its landmarks are taken from the
 * frames that pass the best-shot quality gate (the frames the pipeline scores), over the whole
 * track and over its first 30 such frames (the pipeline's liveness window). Sequential, 2 ORT threads.
 *
 * Then a simulated print attack on the real detector: live photos of ../shared/data/spoof warped as
 * a flat picture turning away from the camera (a pinhole view of the photo plane), detected frame by
 * frame, so the verdict is measured on SCRFD's own landmarks of a truly planar face
 * (`--sim-photos N`, default 6; 0 skips it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDetector } from '../src/detect/index.ts';
import { median, quantile } from '../src/lib/stats.ts';
import { DEFAULT_BEST_SHOT } from '../src/recognize/bestshot.ts';
import { decodeImage } from '../src/image/decode.ts';
import { largestFace } from '../src/recognize/analyze.ts';
import { applyHomography, fitHomography } from '../src/recognize/planarity.ts';
import type { Landmarks, Point, RgbImage } from '../src/types.ts';
import { evaluatePad, trackScore, type PadTrack } from '../src/recognize/evaluate-pad.ts';
import { createLiveness } from '../src/recognize/models.ts';
import { DEFAULT_PLANARITY, planarityPair, trackPlanarity, type PlanarityOptions, type TrackPlanarity } from '../src/recognize/planarity.ts';
import { interOcularDistance } from '../src/recognize/quality.ts';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const videosDir = resolve(arg('--videos', '../shared/data/spoof_video'));
const outFile = arg('--out', '/tmp/pad-planarity.json');
const THRESHOLD = 0.5;
const WINDOW = 30;

const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true, threads: 2 });
const liveness = await createLiveness(undefined, { threads: 2 });
const tracksOf = new Map<string, readonly PadTrack[]>();
const t0 = performance.now();
const report = process.argv.includes('--no-videos') ? { items: [], problems: {} } : await evaluatePad(videosDir, { detector, liveness }, { threshold: THRESHOLD, onTracks: (file, tracks) => tracksOf.set(file, tracks) });
process.stderr.write(`videos: ${report.items.length} rows, problems ${JSON.stringify(report.problems)} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);

interface Row {
  file: string;
  label: string;
  frames: number;
  iod: number;
  score: number;
  /** Frame-to-frame residual of neighbouring frames: landmark noise plus a little motion. */
  jitter: number;
  /** Tilt between neighbouring frames (noise-driven on a still face). */
  jitterTilt: number;
  tiltP90: number;
  whole: TrackPlanarity;
  window: TrackPlanarity;
  variants: Record<string, TrackPlanarity['verdict']>;
}
const rows: Row[] = [];
const VARIANTS: Record<string, Partial<PlanarityOptions>> = {
  'tilt15': { minTilt: 15 },
  'tilt20': { minTilt: 20 },
  'res0.06': { maxPlanarResidual: 0.06 },
};
for (const it of report.items) {
  const track = (tracksOf.get(it.file) ?? []).find((t) => t.trackId === it.video?.decidingTrack);
  if (!track || !it.label) continue;
  const obs = track.observations.filter((o) => o.quality >= DEFAULT_BEST_SHOT.minQuality);
  const lms = obs.map((o) => o.landmarks);
  const neighbours = lms.slice(1).map((l, k) => planarityPair(lms[k], l)).filter((p) => p !== undefined);
  const all = lms.flatMap((_, i) => lms.slice(i + 2).map((l) => planarityPair(lms[i], l))).filter((p) => p !== undefined);
  rows.push({
    file: it.file,
    label: it.label,
    frames: lms.length,
    iod: median(lms.map(interOcularDistance)),
    score: trackScore(track, 'median'),
    jitter: median(neighbours.map((p) => p.residual)),
    jitterTilt: median(neighbours.map((p) => p.tilt)),
    tiltP90: quantile(all.map((p) => p.tilt), 0.9),
    whole: trackPlanarity(lms),
    window: trackPlanarity(lms.slice(0, WINDOW)),
    variants: Object.fromEntries(Object.entries(VARIANTS).map(([k, v]) => [k, trackPlanarity(lms, { ...DEFAULT_PLANARITY, ...v }).verdict])),
  });
}
writeFileSync(outFile, JSON.stringify(rows, null, 1));

const f = (v: number | undefined, d = 3): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
process.stdout.write(`\ndefaults: ${JSON.stringify(DEFAULT_PLANARITY)}; MiniFASNet threshold ${THRESHOLD}\n\n`);
process.stdout.write('| video | label | frames | IOD px | MiniFASNet median | jitter (res / tilt) | residual turning / all | tilt max / p90 | turning / parallax / pairs | verdict (whole) | verdict (first 30) | tilt15 / tilt20 / res0.06 |\n');
process.stdout.write('|---|---|---:|---:|---:|---|---|---|---|---|---|---|\n');
for (const r of rows)
  process.stdout.write(
    `| ${r.file.replace(/^.*\//, '')} | ${r.label} | ${r.frames} | ${f(r.iod, 0)} | ${f(r.score)} | ${f(r.jitter)} / ${f(r.jitterTilt, 1)} | ${f(r.whole.residual)} / ${f(r.whole.residualAll)} | ${f(r.whole.maxTilt, 1)} / ${f(r.tiltP90, 1)} | ${r.whole.turningPairs} / ${r.whole.parallaxPairs} / ${r.whole.pairs} | ${r.whole.verdict} | ${r.window.verdict} | ${Object.values(r.variants).join(' / ')} |\n`,
  );
const count = (label: string, pick: (r: Row) => string): string => {
  const c: Record<string, number> = {};
  for (const r of rows.filter((x) => x.label === label)) c[pick(r)] = (c[pick(r)] ?? 0) + 1;
  return JSON.stringify(c);
};
process.stdout.write(`\nverdicts (whole track): live ${count('live', (r) => r.whole.verdict)}, spoof ${count('spoof', (r) => r.whole.verdict)}\n`);
process.stdout.write(`verdicts (first ${WINDOW}): live ${count('live', (r) => r.window.verdict)}, spoof ${count('spoof', (r) => r.window.verdict)}\n`);
// The combination: MiniFASNet median decides; a planar track with enough turn is refused too.
const combined = (r: Row): boolean => r.score >= THRESHOLD && r.whole.verdict !== 'planar';
process.stdout.write(`MiniFASNet alone: live refused ${rows.filter((r) => r.label === 'live' && r.score < THRESHOLD).length}/${rows.filter((r) => r.label === 'live').length}, spoof accepted ${rows.filter((r) => r.label === 'spoof' && r.score >= THRESHOLD).length}/${rows.filter((r) => r.label === 'spoof').length}\n`);
process.stdout.write(`MiniFASNet + refuse planar: live refused ${rows.filter((r) => r.label === 'live' && !combined(r)).length}, spoof accepted ${rows.filter((r) => r.label === 'spoof' && combined(r)).length}\n`);

// ---- simulated print: a photo as a plane turning in front of a pinhole camera ----------------------
const simPhotos = Number(arg('--sim-photos', '6'));
const photosDir = resolve(arg('--photos', '../shared/data/spoof'));
/** The photo as a plane at the focal distance (1 photo px = 1 output px when facing), turned by yaw/pitch, shifted by dx. */
function viewOfPlane(img: RgbImage, yaw: number, pitch: number, dx: number, out: { w: number; h: number }): RgbImage {
  const f = 900;
  const r = Math.PI / 180;
  const corners: Point[] = [[0, 0], [img.width, 0], [img.width, img.height], [0, img.height]];
  const proj = corners.map(([u, v]): Point => {
    const x = u - img.width / 2;
    const y = v - img.height / 2;
    const x1 = Math.cos(yaw * r) * x;
    const z1 = -Math.sin(yaw * r) * x;
    const y2 = Math.cos(pitch * r) * y - Math.sin(pitch * r) * z1;
    const z2 = Math.sin(pitch * r) * y + Math.cos(pitch * r) * z1 + f;
    return [out.w / 2 + dx + (f * x1) / z2, out.h / 2 + (f * y2) / z2];
  });
  const back = fitHomography(proj, corners);
  if (!back) throw new Error('degenerate view');
  const data = new Uint8Array(out.w * out.h * 3).fill(128);
  for (let y = 0; y < out.h; y++)
    for (let x = 0; x < out.w; x++) {
      const [u, v] = applyHomography(back, [x + 0.5, y + 0.5]);
      const fx = u - 0.5;
      const fy = v - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      if (x0 < 0 || y0 < 0 || x0 + 1 >= img.width || y0 + 1 >= img.height) continue;
      const ax = fx - x0;
      const ay = fy - y0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number): number => img.data[(yy * img.width + xx) * 3 + c];
        data[(y * out.w + x) * 3 + c] = Math.round((1 - ay) * ((1 - ax) * p(y0, x0) + ax * p(y0, x0 + 1)) + ay * ((1 - ax) * p(y0 + 1, x0) + ax * p(y0 + 1, x0 + 1)));
      }
    }
  return { data, width: out.w, height: out.h };
}
if (simPhotos > 0) {
  const live = readFileSync(join(photosDir, 'labels.csv'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.includes(',live,') && l.endsWith(',full')).map((l) => l.split(',')[0]);
  const picks = live.filter((_, i) => i % Math.max(1, Math.floor(live.length / simPhotos)) === 0).slice(0, simPhotos);
  const FRAMES = 30;
  const motions: Record<string, (k: number) => [number, number, number]> = {
    'turn 0 -> 35 deg': (k) => [(35 * k) / (FRAMES - 1), 3 * Math.sin(k / 3), 2 * k],
    'sweep +-30 deg': (k) => [30 * Math.sin((2 * Math.PI * k) / FRAMES), 5 * Math.sin((4 * Math.PI * k) / FRAMES), 0],
    'still (shift only)': (k) => [0, 0, 3 * k],
  };
  process.stdout.write('\n| simulated print (live photo as a plane) | motion | frames with a face | IOD px | residual turning / all | turning / parallax / pairs | verdict |\n|---|---|---:|---:|---|---|---|\n');
  const tally: Record<string, Record<string, number>> = {};
  for (const file of picks) {
    const img = (await decodeImage(join(photosDir, file))).image;
    for (const [name, motion] of Object.entries(motions)) {
      const lms: Landmarks[] = [];
      for (let k = 0; k < FRAMES; k++) {
        const [yaw, pitch, dx] = motion(k);
        const view = viewOfPlane(img, yaw, pitch, dx, { w: Math.round(img.width * 1.4), h: Math.round(img.height * 1.2) });
        const face = largestFace(await detector.detect(view));
        if (face) lms.push(face.landmarks);
      }
      const r = trackPlanarity(lms);
      (tally[name] ??= {})[r.verdict] = (tally[name]?.[r.verdict] ?? 0) + 1;
      process.stdout.write(`| ${file.replace(/^.*\//, '')} | ${name} | ${lms.length} | ${f(median(lms.map(interOcularDistance)), 0)} | ${f(r.residual)} / ${f(r.residualAll)} | ${r.turningPairs} / ${r.parallaxPairs} / ${r.pairs} | ${r.verdict} |\n`);
    }
  }
  process.stdout.write(`\nsimulated prints, verdicts per motion: ${JSON.stringify(tally)}\n`);
}
await Promise.all([detector.close(), liveness.close()]);
