/**
 * Presentation-attack cues measured on labelled photo and video folders (../shared/data/spoof,
 * ../shared/data/spoof_video): which cue separates live from attacks, per class, with counts.
 *
 *   npx tsx bench/pad-cues.ts [--photos DIR] [--videos DIR] [--out FILE.json]
 *
 * Per face: the MiniFASNet pair with the reference crop (shrinks near the frame edge) and with
 * padded crops that keep the 2.7x / 4x scale (edge-replicated or black); spectral peakiness of the
 * face crop (screen moire). Per video track: per-frame score aggregations (best-shot mean, mean,
 * median, trimmed mean, min), landmark planarity (homography residual of the 5 landmarks between
 * frame pairs, relative to the inter-ocular distance), affine residual, and luminance flicker.
 * Runs with 2 ORT threads, sequentially.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createDetector } from '../src/detect/index.ts';
import { evaluatePad, trackScore, type PadTrack } from '../src/recognize/evaluate-pad.ts';
import { createLiveness, cropResize, type LivenessModel } from '../src/recognize/models.ts';
import { padRates, thresholdAtBpcer, type PadSample } from '../src/recognize/pad-metrics.ts';
import { median, quantile } from '../src/lib/stats.ts';
import { powerSpectrum2d } from './dft.ts';
import type { Face, RgbImage } from '../src/types.ts';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const photosDir = resolve(arg('--photos', '../shared/data/spoof'));
const videosDir = resolve(arg('--videos', '../shared/data/spoof_video'));
const outFile = arg('--out', '/tmp/pad-cues.json');

// ---- spectral peakiness (moire): a 64x64 grey face crop, Hann window, separable DFT -------------
const N = 64;
const hann = Float64Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (N - 1)));
function moireCues(image: RgbImage, face: Face): { hfShare: number; hfPeak: number; lum: number } {
  const crop = cropResize(image, face.box, N);
  const grey = new Float64Array(N * N);
  let mean = 0;
  for (let i = 0; i < N * N; i++) {
    grey[i] = 0.299 * crop.data[i * 3] + 0.587 * crop.data[i * 3 + 1] + 0.114 * crop.data[i * 3 + 2];
    mean += grey[i];
  }
  mean /= N * N;
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) grey[y * N + x] = (grey[y * N + x] - mean) * hann[y] * hann[x];
  const p = powerSpectrum2d(grey, N);
  let total = 0;
  const high: number[] = [];
  for (let v = 0; v < N; v++)
    for (let u = 0; u < N; u++) {
      if (u === 0 && v === 0) continue;
      const fu = u <= N / 2 ? u : N - u;
      const fv = v <= N / 2 ? v : N - v;
      const r = Math.hypot(fu, fv);
      total += p[v * N + u];
      if (r >= N / 8) high.push(p[v * N + u]);
    }
  const hfSum = high.reduce((a, b) => a + b, 0);
  const hfMedian = median(high);
  return { hfShare: hfSum / total, hfPeak: Math.max(...high) / (hfMedian || 1e-9), lum: mean };
}

// ---- landmark planarity: homography (8 dof) and affine (6 dof) fits of 5 points ------------------
type P = readonly [number, number];
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[piv][c])) piv = r;
    if (Math.abs(m[piv][c]) < 1e-12) return undefined;
    [m[c], m[piv]] = [m[piv], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((r, i) => r[n] / r[i]);
}
/** Least squares via normal equations. */
function lsq(rows: number[][], rhs: number[]): number[] | undefined {
  const k = rows[0].length;
  const ata = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const atb = new Array<number>(k).fill(0);
  rows.forEach((r, i) => {
    for (let a = 0; a < k; a++) {
      atb[a] += r[a] * rhs[i];
      for (let b = 0; b < k; b++) ata[a][b] += r[a] * r[b];
    }
  });
  return solve(ata, atb);
}
/** Points centred and scaled to unit RMS distance (Hartley normalisation). */
function normalise(pts: readonly P[]): { pts: P[]; scale: number } {
  const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  const rms = Math.sqrt(pts.reduce((s, p) => s + (p[0] - cx) ** 2 + (p[1] - cy) ** 2, 0) / pts.length) || 1;
  return { pts: pts.map((p) => [(p[0] - cx) / rms, (p[1] - cy) / rms] as P), scale: rms };
}
/** RMS residual (in target units of the normalised frame, times its scale = pixels) of a homography fit. */
function homographyResidual(src: readonly P[], dst: readonly P[]): number {
  const s = normalise(src);
  const d = normalise(dst);
  const rows: number[][] = [];
  const rhs: number[] = [];
  s.pts.forEach(([x, y], i) => {
    const [u, v] = d.pts[i];
    rows.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    rhs.push(u);
    rows.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    rhs.push(v);
  });
  const h = lsq(rows, rhs);
  if (!h) return Number.NaN;
  let e = 0;
  s.pts.forEach(([x, y], i) => {
    const w = h[6] * x + h[7] * y + 1;
    const u = (h[0] * x + h[1] * y + h[2]) / w;
    const v = (h[3] * x + h[4] * y + h[5]) / w;
    e += (u - d.pts[i][0]) ** 2 + (v - d.pts[i][1]) ** 2;
  });
  return Math.sqrt(e / s.pts.length) * d.scale;
}
function affineResidual(src: readonly P[], dst: readonly P[]): number {
  const rows: number[][] = [];
  const rhs: number[] = [];
  const s = normalise(src);
  const d = normalise(dst);
  s.pts.forEach(([x, y], i) => {
    rows.push([x, y, 1, 0, 0, 0]);
    rhs.push(d.pts[i][0]);
    rows.push([0, 0, 0, x, y, 1]);
    rhs.push(d.pts[i][1]);
  });
  const a = lsq(rows, rhs);
  if (!a) return Number.NaN;
  let e = 0;
  s.pts.forEach(([x, y], i) => {
    e += (a[0] * x + a[1] * y + a[2] - d.pts[i][0]) ** 2 + (a[3] * x + a[4] * y + a[5] - d.pts[i][1]) ** 2;
  });
  return Math.sqrt(e / s.pts.length) * d.scale;
}
const iod = (l: readonly P[]): number => Math.hypot(l[1][0] - l[0][0], l[1][1] - l[0][1]);

/** Per track: residuals over frame pairs at least `gap` frames apart, relative to the inter-ocular distance. */
function planarity(track: PadTrack, gap = 3): { homMedian: number; homP90: number; affMedian: number; pairs: number } {
  const obs = track.observations;
  const hom: number[] = [];
  const aff: number[] = [];
  for (let i = 0; i < obs.length; i++)
    for (let j = i + gap; j < obs.length; j += gap) {
      const a = obs[i].landmarks as readonly P[];
      const b = obs[j].landmarks as readonly P[];
      const size = (iod(a) + iod(b)) / 2;
      hom.push(homographyResidual(a, b) / size);
      aff.push(affineResidual(a, b) / size);
    }
  return { homMedian: median(hom), homP90: quantile(hom, 0.9), affMedian: median(aff), pairs: hom.length };
}

/** Frame-to-frame luminance change of the face crop relative to its mean (flicker), per track. */
function flicker(track: PadTrack): number {
  const l = track.observations.map((o) => o.extra.lum);
  if (l.length < 3) return Number.NaN;
  const d: number[] = [];
  for (let i = 1; i < l.length; i++) d.push(Math.abs(l[i] - l[i - 1]));
  return median(d) / (l.reduce((a, b) => a + b, 0) / l.length);
}

// ---- run -----------------------------------------------------------------------------------------
const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true, threads: 2 });
const liveness = await createLiveness(undefined, { threads: 2 });
const padEdge: LivenessModel = await createLiveness(undefined, { threads: 2, crop: 'pad-edge' });
const padBlack: LivenessModel = await createLiveness(undefined, { threads: 2, crop: 'pad-black' });
const onFace = async (image: RgbImage, face: Face): Promise<Record<string, number>> => {
  const m = moireCues(image, face);
  const edgeScale = Math.min(face.box[0], face.box[1], image.width - face.box[2], image.height - face.box[3]) / Math.max(face.box[2] - face.box[0], face.box[3] - face.box[1]);
  return { padEdge: await padEdge.realProbability(image, face.box), padBlack: await padBlack.realProbability(image, face.box), ...m, margin: edgeScale };
};

interface TrackRow { file: string; label: string; attack: string; tracks: number; frames: number; cues: Record<string, number> }
const photoRows: { file: string; label: string; attack: string; context?: string; shrink: number; padEdge: number; padBlack: number; hfShare: number; hfPeak: number; margin: number }[] = [];
const trackRows: TrackRow[] = [];
const extras = new Map<string, Record<string, number>>();
const t0 = performance.now();
const photos = await evaluatePad(photosDir, { detector, liveness }, {
  threshold: 0.5,
  onFace: async (image, face, ctx) => {
    const e = await onFace(image, face);
    extras.set(ctx.file, e);
    return e;
  },
});
for (const it of photos.items) {
  const e = extras.get(it.file);
  if (it.score === undefined || !e || !it.label) continue;
  photoRows.push({ file: it.file, label: it.label, attack: it.attack, context: it.context, shrink: it.score, padEdge: e.padEdge, padBlack: e.padBlack, hfShare: e.hfShare, hfPeak: e.hfPeak, margin: e.margin });
}
process.stderr.write(`photos: ${photoRows.length} judged, problems ${JSON.stringify(photos.problems)} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);

const tracksOf = new Map<string, readonly PadTrack[]>();
const videos = await evaluatePad(videosDir, { detector, liveness }, { threshold: 0.5, onFace: (image, face) => onFace(image, face), onTracks: (file, tracks) => tracksOf.set(file, tracks) });
for (const it of videos.items) {
  const tracks = tracksOf.get(it.file) ?? [];
  const track = tracks.find((t) => t.trackId === it.video?.decidingTrack);
  if (!track || !it.label) {
    trackRows.push({ file: it.file, label: it.label ?? '?', attack: it.attack, tracks: tracks.length, frames: it.video?.frames ?? 0, cues: {} });
    continue;
  }
  const pl = planarity(track);
  const obs = track.observations;
  const agg = (k: 'score' | 'padEdge' | 'padBlack', how: 'mean' | 'median' | 'trimmed-mean' | 'min'): number =>
    trackScore({ trackId: track.trackId, observations: obs.map((o) => ({ ...o, score: k === 'score' ? o.score : o.extra[k] })) }, how);
  trackRows.push({
    file: it.file,
    label: it.label,
    attack: it.attack,
    tracks: tracks.length,
    frames: it.video?.frames ?? 0,
    cues: {
      trackFrames: obs.length,
      bestShotFrames: obs.filter((o) => o.bestShot).length,
      bestShot: trackScore(track, 'best-shot'),
      mean: agg('score', 'mean'),
      median: agg('score', 'median'),
      trimmed: agg('score', 'trimmed-mean'),
      min: agg('score', 'min'),
      padEdgeMean: agg('padEdge', 'mean'),
      padEdgeMedian: agg('padEdge', 'median'),
      padBlackMean: agg('padBlack', 'mean'),
      homMedian: pl.homMedian,
      homP90: pl.homP90,
      affMedian: pl.affMedian,
      flicker: flicker(track),
      hfShare: median(obs.map((o) => o.extra.hfShare)),
      hfPeak: median(obs.map((o) => o.extra.hfPeak)),
      marginMin: Math.min(...obs.map((o) => o.extra.margin)),
    },
  });
}
process.stderr.write(`videos: ${trackRows.length} rows, problems ${JSON.stringify(videos.problems)} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
writeFileSync(outFile, JSON.stringify({ photos: photoRows, videos: trackRows, photoProblems: photos.items.filter((i) => i.problem), videoProblems: videos.items.filter((i) => i.problem) }, null, 1));

// ---- summary -------------------------------------------------------------------------------------
const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
function summarise(title: string, rows: readonly { label: string; attack: string; context?: string }[], key: (r: never) => number): void {
  const samples: PadSample[] = rows.map((r) => ({ label: r.label as 'live' | 'spoof', attack: r.attack, score: key(r as never), context: r.context }));
  const t5 = thresholdAtBpcer(samples.filter((s) => s.label === 'live').map((s) => s.score), 0.05);
  const at = (t: number): string => {
    const r = padRates(samples, t);
    return `live refused ${r.liveRefused}/${r.counts.live}; ${Object.entries(r.attacksAccepted).map(([a, n]) => `${a} accepted ${n}/${r.counts.attacks[a]}`).join('; ')}`;
  };
  const byClass = [...new Set(samples.map((s) => (s.label === 'live' ? `live${s.context ? `/${s.context}` : ''}` : `${s.attack}${s.context ? `/${s.context}` : ''}`)))].sort().map((c) => {
    const v = samples.filter((s) => (s.label === 'live' ? `live${s.context ? `/${s.context}` : ''}` : `${s.attack}${s.context ? `/${s.context}` : ''}`) === c).map((s) => s.score);
    return `${c} n=${v.length} min/med/max ${f3(Math.min(...v))}/${f3(median(v))}/${f3(Math.max(...v))}`;
  });
  process.stdout.write(`\n## ${title}\n  ${byClass.join('\n  ')}\n  at 0.5: ${at(0.5)}\n  at BPCER<=5% (t=${f3(t5)}): ${at(t5)}\n`);
}
summarise('photos: MiniFASNet pair, reference crop (shrink)', photoRows, (r: { shrink: number }) => r.shrink);
summarise('photos: MiniFASNet pair, padded crop (edge pixels)', photoRows, (r: { padEdge: number }) => r.padEdge);
summarise('photos: MiniFASNet pair, padded crop (black)', photoRows, (r: { padBlack: number }) => r.padBlack);
summarise('photos: high-frequency share (higher = more live?)', photoRows, (r: { hfShare: number }) => -r.hfShare);
summarise('photos: high-frequency peakiness (negated: peaky = screen)', photoRows, (r: { hfPeak: number }) => -r.hfPeak);
const judged = trackRows.filter((r) => r.cues.mean !== undefined);
for (const k of ['bestShot', 'mean', 'median', 'trimmed', 'min', 'padEdgeMean', 'padEdgeMedian', 'padBlackMean', 'homMedian', 'homP90', 'affMedian', 'flicker', 'hfShare', 'hfPeak']) {
  summarise(`video tracks: ${k}`, judged, (r: TrackRow) => r.cues[k]);
}
process.stdout.write('\n## per video\n');
for (const r of trackRows) process.stdout.write(`${r.label.padEnd(5)} ${r.file.padEnd(42)} tracks ${r.tracks} frames ${r.frames} ${Object.entries(r.cues).map(([k, v]) => `${k}=${f3(v)}`).join(' ')}\n`);
process.stdout.write('\n## photos near the edge (margin < 0.85: the 2.7x crop shrinks)\n');
for (const r of photoRows.filter((p) => p.margin < 0.85)) process.stdout.write(`${r.label} ${r.attack} ${r.context ?? ''} ${r.file}: shrink ${f3(r.shrink)} padEdge ${f3(r.padEdge)} padBlack ${f3(r.padBlack)} margin ${f3(r.margin)}\n`);
await Promise.all([detector.close(), liveness.close(), padEdge.close(), padBlack.close()]);
