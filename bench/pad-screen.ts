/**
 * Screen-replay cues on the wider picture around the face, measured on a labelled photo folder
 * (../shared/data/spoof): does a hand-made, physically motivated cue tell a filmed screen from a
 * live face, per class (live / print / replay) and per source dataset?
 *
 *   npx tsx bench/pad-screen.ts [--photos DIR] [--videos DIR|none] [--video-stride 3] [--block 8] [--out FILE.json]
 *
 * The face is the one `facegate eval --pad` judges (evaluatePad: 2.5g detector at 640 with the
 * large-face retry, the face nearest the centre, EXIF rotation applied); its MiniFASNet score is
 * evaluatePad's. Cues, every one oriented "higher = more screen-like":
 *
 * - moireLuma / moireChroma: a display's pixel grid sampled by the camera's sensor aliases into a
 *   periodic pattern (moire; colour fringes where the sub-pixel stripes beat). Measured on the inner
 *   face at NATIVE resolution (a resized crop averages the pattern away): Welch-averaged power
 *   spectrum of Hann-windowed tiles of a high-passed channel (luma, or the opponent chroma R-G and
 *   (R+G)/2-B), and the largest prominence of a spectral bin over the bins two steps in and out along
 *   its own ray (a periodic pattern is a bump; skin texture, edges and shading decay smoothly).
 *   Bins on the codec block grid are skipped (block artefacts are periodic too): `--block 8` for
 *   JPEG luma blocks (default), 16 also for 4:2:0 chroma blocks and H.264 macroblocks.
 * - frame: a phone, tablet or monitor shown to the camera has a straight bezel edge that crosses the
 *   whole width (or height) of the face on the face's side of it. Per side of the face box, the
 *   longest run of aligned edge pixels (gradient across the line) within 3x the face box, as a
 *   fraction of the face's extent; `frame` = the better of the two opposite pairs (top+bottom,
 *   left+right), each pair scored by its weaker side: an enclosure, not a single line.
 *   `frameSides3`: the third-strongest side (three sides of a device around the face).
 * - veil: screens cannot show black and their glass reflects the room, so a filmed screen's darkest
 *   face pixels (pupils, nostrils, lip line) stay bright: 2nd percentile / median of the inner face's
 *   luma.
 * - glare: share of clipped pixels (any channel >= 250) in the face box: a specular reflection of a
 *   lamp on glass.
 * - moireLuma420 / moireChroma420 (photos): the moire cues again after the photo is re-encoded as
 *   a camera stream would carry it (JPEG q90, 4:2:0 chroma): a cue that only lives in detail a
 *   camera never delivers is no cue for the live pipeline.
 *
 * Videos (--videos, default ../shared/data/spoof_video; `none` to skip, about 5 minutes here): the
 * deciding track of each clip as evalPad picks it, the cues on every `--video-stride`-th frame of
 * it, their median per track; judged with their own "no live refused" threshold and with the
 * photos' (a threshold must hold on both).
 *
 * For each cue: per class and per source the distribution (min, p25, median, p75, max); the rule
 * "refuse if cue > t" with t = the highest live value (no live photo refused by the cue), what it
 * refuses, its margin; and the decision it would make with MiniFASNet (accept if MF >= 0.5 and
 * cue <= t). Runs one ORT thread, sequentially.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { createDetector } from '../src/detect/index.ts';
import { decodeImage } from '../src/image/decode.ts';
import { parseCsv } from '../src/lib/csv.ts';
import { median, quantile } from '../src/lib/stats.ts';
import { DEFAULT_PAD_THRESHOLD, evaluatePad, type PadTrack } from '../src/recognize/evaluate-pad.ts';
import { createLiveness } from '../src/recognize/models.ts';
import type { Box, Face, RgbImage } from '../src/types.ts';
import { powerSpectrum2d } from './dft.ts';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const photosDir = resolve(arg('--photos', '../shared/data/spoof'));
const videosDir = arg('--videos', '../shared/data/spoof_video') === 'none' ? 'none' : resolve(arg('--videos', '../shared/data/spoof_video'));
const videoStride = Number(arg('--video-stride', '3'));
// Codec block grid skipped by the moire cue, in pixels: 8 for JPEG luma blocks; 16 also covers 4:2:0
// chroma blocks (8 subsampled pixels) and H.264 macroblocks.
const blockGrid = Number(arg('--block', '8'));
const outFile = arg('--out', '/tmp/pad-screen.json');

// ---- image helpers ---------------------------------------------------------------------------------
type Channel = (r: number, g: number, b: number) => number;
const luma: Channel = (r, g, b) => 0.299 * r + 0.587 * g + 0.114 * b;
const rg: Channel = (r, g) => r - g;
const yb: Channel = (r, g, b) => (r + g) / 2 - b;

interface Rect { x: number; y: number; w: number; h: number }
/** The inner face: the central part of the detector box (skin, eyes, nose; little hair or background). */
function innerFace(image: RgbImage, box: Box): Rect {
  const bw = box[2] - box[0];
  const bh = box[3] - box[1];
  const x = Math.max(0, Math.round(box[0] + 0.2 * bw));
  const y = Math.max(0, Math.round(box[1] + 0.2 * bh));
  const x2 = Math.min(image.width, Math.round(box[2] - 0.2 * bw));
  const y2 = Math.min(image.height, Math.round(box[3] - 0.2 * bh));
  return { x, y, w: Math.max(0, x2 - x), h: Math.max(0, y2 - y) };
}
function channel(image: RgbImage, r: Rect, f: Channel): Float64Array {
  const out = new Float64Array(r.w * r.h);
  for (let y = 0; y < r.h; y++)
    for (let x = 0; x < r.w; x++) {
      const i = ((r.y + y) * image.width + r.x + x) * 3;
      out[y * r.w + x] = f(image.data[i], image.data[i + 1], image.data[i + 2]);
    }
  return out;
}
/** The channel minus its 5x5 box mean: shading and large structure out, fine texture kept. */
function highPass(v: Float64Array, w: number, h: number): Float64Array {
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 0;
      let n = 0;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          s += v[yy * w + xx];
          n++;
        }
      out[y * w + x] = v[y * w + x] - s / n;
    }
  return out;
}

// ---- moire: Welch spectrum of native-resolution tiles, radial prominence of single bins ------------
const hannTables = new Map<number, Float64Array>();
/** A periodic Hann window of n samples (cached per size). */
function hannWindow(n: number): Float64Array {
  let w = hannTables.get(n);
  if (!w) {
    w = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n));
    hannTables.set(n, w);
  }
  return w;
}
/** Welch average over half-overlapping tiles of the high-passed channels; undefined when too small. */
function welch(chs: readonly Float64Array[], w: number, h: number, n: number): Float64Array | undefined {
  if (w < n || h < n) return undefined;
  const hann = hannWindow(n);
  const acc = new Float64Array(n * n);
  const tile = new Float64Array(n * n);
  const step = n / 2;
  for (const ch of chs)
    for (let ty = 0; ty + n <= h; ty += step)
      for (let tx = 0; tx + n <= w; tx += step) {
        let mean = 0;
        for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) mean += ch[(ty + y) * w + tx + x];
        mean /= n * n;
        for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) tile[y * n + x] = (ch[(ty + y) * w + tx + x] - mean) * hann[y] * hann[x];
        powerSpectrum2d(tile, n, acc);
      }
  return acc;
}
/**
 * The largest radial prominence: a bin's power over the larger of the powers two bins further in and
 * two bins further out along its own ray (nearest bin). Radius from 3 bins to Nyquist - 2; bins with
 * a frequency component on the codec's block grid (multiples of n / blockGrid) are skipped.
 */
function prominence(p: Float64Array, n: number): { ratio: number; period: number; angle: number } {
  const at = (fu: number, fv: number): number => {
    const u = ((Math.round(fu) % n) + n) % n;
    const v = ((Math.round(fv) % n) + n) % n;
    return p[v * n + u];
  };
  const grid = Math.max(1, n / blockGrid);
  let best = 0;
  let period = Number.NaN;
  let angle = Number.NaN;
  for (let fv = 0; fv <= n / 2; fv++)
    for (let fu = -n / 2 + 1; fu <= n / 2; fu++) {
      if (fv === 0 && fu <= 0) continue;
      const r = Math.hypot(fu, fv);
      if (r < 3 || r > n / 2 - 2) continue;
      if (Math.abs(fu) % grid === 0 || fv % grid === 0) continue;
      const ux = fu / r;
      const vy = fv / r;
      const inner = at(fu - 2 * ux, fv - 2 * vy);
      const outer = at(fu + 2 * ux, fv + 2 * vy);
      const ratio = at(fu, fv) / Math.max(inner, outer, 1e-9);
      if (ratio > best) {
        best = ratio;
        period = n / r;
        angle = (Math.atan2(fv, fu) * 180) / Math.PI;
      }
    }
  return { ratio: best, period, angle };
}
function moire(image: RgbImage, box: Box): Record<string, number> {
  const r = innerFace(image, box);
  const n = Math.min(r.w, r.h) >= 96 ? 64 : 32;
  const hp = (f: Channel): Float64Array => highPass(channel(image, r, f), r.w, r.h);
  const l = welch([hp(luma)], r.w, r.h, n);
  const c = welch([hp(rg), hp(yb)], r.w, r.h, n);
  const pl = l ? prominence(l, n) : { ratio: Number.NaN, period: Number.NaN, angle: Number.NaN };
  const pc = c ? prominence(c, n) : { ratio: Number.NaN, period: Number.NaN, angle: Number.NaN };
  return { moireLuma: pl.ratio, lumaPeriod: pl.period, lumaAngle: pl.angle, moireChroma: pc.ratio, chromaPeriod: pc.period, chromaAngle: pc.angle, tile: l ? n : 0, tiles: l ? (Math.floor((r.w - n) / (n / 2)) + 1) * (Math.floor((r.h - n) / (n / 2)) + 1) : 0 };
}

// ---- frame: straight bezel edges enclosing the face -------------------------------------------------
/** Grey image scaled so its long side is at most `maxSide` (area average), with the scale used. */
function greyScaled(image: RgbImage, maxSide: number): { g: Float64Array; w: number; h: number; s: number } {
  const s = Math.min(1, maxSide / Math.max(image.width, image.height));
  const w = Math.max(1, Math.round(image.width * s));
  const h = Math.max(1, Math.round(image.height * s));
  const g = new Float64Array(w * h);
  const cnt = new Float64Array(w * h);
  for (let y = 0; y < image.height; y++) {
    const yy = Math.min(h - 1, Math.floor(y * s));
    for (let x = 0; x < image.width; x++) {
      const xx = Math.min(w - 1, Math.floor(x * s));
      const i = (y * image.width + x) * 3;
      g[yy * w + xx] += luma(image.data[i], image.data[i + 1], image.data[i + 2]);
      cnt[yy * w + xx]++;
    }
  }
  for (let i = 0; i < g.length; i++) g[i] /= cnt[i] || 1;
  return { g, w, h, s };
}
/**
 * Per side of the face box, the best straight edge line outside the box within `reach` box sizes,
 * tilted up to about 6 degrees: the longest run of edge pixels along it (gaps of up to 2 px bridged),
 * as a fraction of the face's extent along that side. An edge pixel: Sobel gradient across the line
 * at least `minGrad` grey levels and larger than the gradient along it.
 */
function frameSides(image: RgbImage, box: Box, reach = 3, minGrad = 12): { top: number; bottom: number; left: number; right: number } {
  const { g, w, h, s } = greyScaled(image, 480);
  const b = box.map((v) => v * s) as unknown as Box;
  const gx = new Float64Array(w * h);
  const gy = new Float64Array(w * h);
  for (let y = 1; y < h - 1; y++)
    for (let x = 1; x < w - 1; x++) {
      const p = (dx: number, dy: number): number => g[(y + dy) * w + x + dx];
      gx[y * w + x] = (p(1, -1) + 2 * p(1, 0) + p(1, 1) - p(-1, -1) - 2 * p(-1, 0) - p(-1, 1)) / 4;
      gy[y * w + x] = (p(-1, 1) + 2 * p(0, 1) + p(1, 1) - p(-1, -1) - 2 * p(0, -1) - p(1, -1)) / 4;
    }
  const bw = b[2] - b[0];
  const bh = b[3] - b[1];
  const cx = (b[0] + b[2]) / 2;
  const cy = (b[1] + b[3]) / 2;
  const slopes = [-0.1, -0.05, 0, 0.05, 0.1];
  /** Horizontal lines y = y0 + slope * (x - cx) for y0 in [from, to], run length over x in [xa, xb]. */
  const horizontal = (from: number, to: number, xa: number, xb: number, across: Float64Array, along: Float64Array, W: number, H: number): number => {
    let best = 0;
    const lo = Math.max(1, Math.floor(Math.min(from, to)));
    const hi = Math.min(H - 2, Math.ceil(Math.max(from, to)));
    const x0 = Math.max(1, Math.floor(xa));
    const x1 = Math.min(W - 2, Math.ceil(xb));
    for (let y0 = lo; y0 <= hi; y0++)
      for (const slope of slopes) {
        let run = 0;
        let gap = 0;
        let longest = 0;
        for (let x = x0; x <= x1; x++) {
          const y = Math.round(y0 + slope * (x - cx));
          let hit = false;
          for (let dy = -1; dy <= 1 && !hit; dy++) {
            const yy = y + dy;
            if (yy < 1 || yy > H - 2) continue;
            const a = Math.abs(across[yy * W + x]);
            hit = a >= minGrad && a > Math.abs(along[yy * W + x]);
          }
          if (hit) {
            run += 1 + gap;
            gap = 0;
          } else if (run > 0 && gap < 2) gap++;
          else {
            run = 0;
            gap = 0;
          }
          longest = Math.max(longest, run);
        }
        best = Math.max(best, longest);
      }
    return best;
  };
  // Transposed gradients for vertical lines.
  const tgx = new Float64Array(w * h);
  const tgy = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      tgx[x * h + y] = gy[y * w + x];
      tgy[x * h + y] = gx[y * w + x];
    }
  const spanX: [number, number] = [cx - (reach * bw) / 2, cx + (reach * bw) / 2];
  const spanY: [number, number] = [cy - (reach * bh) / 2, cy + (reach * bh) / 2];
  return {
    top: horizontal(b[1] - 0.02 * bh, cy - (reach * bh) / 2, spanX[0], spanX[1], gy, gx, w, h) / bw,
    bottom: horizontal(b[3] + 0.02 * bh, cy + (reach * bh) / 2, spanX[0], spanX[1], gy, gx, w, h) / bw,
    left: horizontal(b[0] - 0.02 * bw, cx - (reach * bw) / 2, spanY[0], spanY[1], tgy, tgx, h, w) / bh,
    right: horizontal(b[2] + 0.02 * bw, cx + (reach * bw) / 2, spanY[0], spanY[1], tgy, tgx, h, w) / bh,
  };
}

// ---- veil and glare ---------------------------------------------------------------------------------
function veilGlare(image: RgbImage, box: Box): { veil: number; glare: number } {
  const r = innerFace(image, box);
  const l = [...channel(image, r, luma)];
  const med = quantile(l, 0.5);
  const x1 = Math.max(0, Math.floor(box[0]));
  const y1 = Math.max(0, Math.floor(box[1]));
  const x2 = Math.min(image.width, Math.ceil(box[2]));
  const y2 = Math.min(image.height, Math.ceil(box[3]));
  let clipped = 0;
  for (let y = y1; y < y2; y++)
    for (let x = x1; x < x2; x++) {
      const i = (y * image.width + x) * 3;
      if (image.data[i] >= 250 || image.data[i + 1] >= 250 || image.data[i + 2] >= 250) clipped++;
    }
  return { veil: med > 0 ? quantile(l, 0.02) / med : Number.NaN, glare: clipped / Math.max(1, (x2 - x1) * (y2 - y1)) };
}

// ---- run ----------------------------------------------------------------------------------------------
const CUES = ['moireLuma', 'moireChroma', 'moireLuma420', 'moireChroma420', 'frame', 'frameSides3', 'veil', 'glare'] as const;
const VIDEO_CUES = ['moireLuma', 'moireChroma', 'frame', 'frameSides3', 'veil', 'glare'] as const;
function cues(image: RgbImage, face: Face): Record<string, number> {
  const m = moire(image, face.box);
  const f = frameSides(image, face.box);
  const sides = [f.top, f.bottom, f.left, f.right].map((v) => Math.min(v, 1.5));
  const vg = veilGlare(image, face.box);
  return {
    ...m,
    frame: Math.max(Math.min(sides[0], sides[1]), Math.min(sides[2], sides[3])),
    // Third-strongest side: three sides of a device around the face.
    frameSides3: [...sides].sort((a, b) => b - a)[2],
    top: f.top,
    bottom: f.bottom,
    left: f.left,
    right: f.right,
    ...vg,
    faceW: face.box[2] - face.box[0],
    imgW: image.width,
    imgH: image.height,
  };
}
/**
 * The moire cues again after the photo went through what a camera stream does to it: JPEG at
 * quality 90 with 4:2:0 chroma (H.264 and MJPEG cameras subsample chroma the same way), so a cue
 * that lives in fine chroma detail a camera never delivers shows here.
 */
async function cameraPath(image: RgbImage, face: Face): Promise<Record<string, number>> {
  const jpeg = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer();
  const m = moire((await decodeImage(jpeg)).image, face.box);
  return { moireLuma420: m.moireLuma, moireChroma420: m.moireChroma, chroma420Period: m.chromaPeriod };
}

function sources(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const [header = [], ...rows] = parseCsv(readFileSync(join(dir, 'labels.csv'), 'utf8'));
  const fi = header.indexOf('file');
  const si = header.indexOf('source_repo');
  for (const r of rows) out.set((r[fi] ?? '').trim(), si >= 0 ? (r[si] ?? '').trim().replace(/\/.*/, '') : '?');
  return out;
}

interface Row { file: string; cls: string; context: string; source: string; mf: number; c: Record<string, number> }
const fmt = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(3)) : '-');
const dist = (vs: number[]): string => {
  const f = vs.filter(Number.isFinite);
  if (!f.length) return 'n=0';
  return `n=${String(f.length).padStart(2)} ${[0, 0.25, 0.5, 0.75, 1].map((q) => fmt(quantile(f, q)).padStart(7)).join(' ')}`;
};
const mfAccepted = (r: Row): boolean => r.mf >= DEFAULT_PAD_THRESHOLD;

/** Distributions per class and source, the no-live-refused rule per cue, and (given) a threshold set elsewhere. */
function printReport(title: string, rows: readonly Row[], cueNames: readonly string[], given?: Readonly<Record<string, number>>): Record<string, number> {
  console.log(`\n===== ${title}: ${rows.length} judged =====`);
  const classes = [...new Set(rows.map((r) => r.cls))].sort((a, b) => (a === 'live' ? -1 : b === 'live' ? 1 : a.localeCompare(b)));
  console.log(`per class: n min p25 median p75 max`);
  for (const cue of cueNames) for (const cls of classes) console.log(`${cue.padEnd(15)} ${cls.padEnd(7)} ${dist(rows.filter((r) => r.cls === cls).map((r) => r.c[cue]))}`);

  console.log(`\nper source, median [min-max]`);
  const srcs = [...new Set(rows.map((r) => r.source))];
  for (const cue of cueNames)
    for (const src of srcs) {
      const part = (cls: string): string => {
        const v = rows.filter((r) => r.source === src && r.cls === cls).map((r) => r.c[cue]).filter(Number.isFinite);
        return v.length ? `${fmt(quantile(v, 0.5))} [${fmt(Math.min(...v))}-${fmt(Math.max(...v))}] n=${v.length}` : '-';
      };
      console.log(`${cue.padEnd(15)} ${src.padEnd(14)} ${classes.map((cls) => `${cls} ${part(cls).padEnd(28)}`).join(' ')}`);
    }

  console.log(`\nrule "refuse if cue > t", t = highest live value (no live refused by the cue)`);
  const ts: Record<string, number> = {};
  const attacks = rows.filter((r) => r.cls !== 'live');
  const count = (cls: string, rs: readonly Row[]): string => `${rs.filter((r) => r.cls === cls).length}/${attacks.filter((r) => r.cls === cls).length}`;
  const rule = (cue: string, t: number, label: string): void => {
    const refused = attacks.filter((r) => r.c[cue] > t);
    const liveRefused = rows.filter((r) => r.cls === 'live' && r.c[cue] > t);
    const lowest = refused.length ? Math.min(...refused.map((r) => r.c[cue])) : Number.NaN;
    const mfMissed = attacks.filter(mfAccepted);
    const kept = rows.filter((r) => mfAccepted(r) && !(r.c[cue] > t));
    const liveN = rows.filter((r) => r.cls === 'live').length;
    const attackCounts = classes.filter((c) => c !== 'live').map((c) => `${c} ${count(c, refused)}`).join(' ');
    const withMf = classes.filter((c) => c !== 'live').map((c) => `${c} accepted ${count(c, kept)}`).join(', ');
    console.log(
      `${cue.padEnd(15)} ${label} t=${fmt(t)}: cue refuses live ${liveRefused.length}/${liveN}, ${attackCounts}; lowest refused attack ${fmt(lowest)} (margin ${fmt(lowest - t)}, x${fmt(lowest / t)}); ` +
        `MF-accepted attacks refused ${mfMissed.filter((r) => r.c[cue] > t).length}/${mfMissed.length}; with MF: live refused ${rows.filter((r) => r.cls === 'live' && !kept.includes(r)).length}/${liveN}, ${withMf}`,
    );
  };
  for (const cue of cueNames) {
    const live = rows.filter((r) => r.cls === 'live' && Number.isFinite(r.c[cue])).map((r) => r.c[cue]);
    if (!live.length) continue;
    ts[cue] = Math.max(...live);
    rule(cue, ts[cue], 'own  ');
    if (given?.[cue] !== undefined) rule(cue, given[cue], 'given');
  }

  console.log(`\nthe highest live presentations per cue`);
  for (const cue of cueNames) {
    const top = rows.filter((r) => r.cls === 'live' && Number.isFinite(r.c[cue])).sort((a, b) => b.c[cue] - a.c[cue]).slice(0, 4);
    console.log(`${cue.padEnd(15)} ${top.map((r) => `${r.file.replace(/^live\/live_/, '')} ${fmt(r.c[cue])}`).join(', ')}`);
  }
  return ts;
}

const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true, threads: 1 });
const liveness = await createLiveness(undefined, { threads: 1 });

// Photos: one face each.
const photoSource = sources(photosDir);
const measured = new Map<string, Record<string, number>>();
const t0 = performance.now();
let cueMs = 0;
const report = await evaluatePad(photosDir, { detector, liveness }, {
  threshold: DEFAULT_PAD_THRESHOLD,
  onFace: async (image, face, ctx) => {
    const t = performance.now();
    const c = { ...cues(image, face), ...(await cameraPath(image, face)) };
    cueMs += performance.now() - t;
    measured.set(ctx.file, c);
    return c;
  },
});
const rows: Row[] = [];
for (const it of report.items) {
  const c = measured.get(it.file);
  if (it.score === undefined || !c || !it.label) continue;
  rows.push({ file: it.file, cls: it.label === 'live' ? 'live' : it.attack, context: it.context ?? '', source: photoSource.get(it.file) ?? '?', mf: it.score, c });
}
process.stderr.write(`${rows.length} photos judged, problems ${JSON.stringify(report.problems)}; ${((performance.now() - t0) / 1000).toFixed(0)} s, cues ${(cueMs / 1000).toFixed(1)} s\n`);
const photoT = printReport(`photos ${photosDir}`, rows, CUES);

console.log(`\nreplays and the live photos nearest them (MF score, then cues)`);
const show = rows.filter((r) => r.cls === 'replay' || (r.cls === 'live' && (r.source !== 'imironica' || r.mf < 0.7)));
console.log(`${'file'.padEnd(52)} ${'mf'.padStart(6)} ${CUES.map((c) => c.slice(0, 9).padStart(9)).join(' ')}  size face`);
for (const r of show.sort((a, b) => a.cls.localeCompare(b.cls) || a.source.localeCompare(b.source)))
  console.log(
    `${r.file.padEnd(52)} ${fmt(r.mf).padStart(6)} ${CUES.map((c) => fmt(r.c[c]).padStart(9)).join(' ')}  ${r.c.imgW}x${r.c.imgH} ${fmt(r.c.faceW)} ` +
      `period luma ${fmt(r.c.lumaPeriod)} chroma ${fmt(r.c.chromaPeriod)} @${fmt(r.c.chromaAngle)} (4:2:0 ${fmt(r.c.chroma420Period)}) tiles ${r.c.tile}x${r.c.tiles}`,
  );

// Videos: the deciding track, cues on every `videoStride`-th face of a file, median per track (the
// pipeline's rule for a track's liveness).
const videoRows: Row[] = [];
if (videosDir !== 'none') {
  const t1 = performance.now();
  const videoSource = sources(videosDir);
  const seen = new Map<string, number>();
  const tracksOf = new Map<string, readonly PadTrack[]>();
  const videos = await evaluatePad(videosDir, { detector, liveness }, {
    threshold: DEFAULT_PAD_THRESHOLD,
    onFace: (image, face, ctx) => {
      const k = `${ctx.file}#${ctx.trackId ?? ''}`;
      const i = seen.get(k) ?? 0;
      seen.set(k, i + 1);
      return i % videoStride === 0 ? cues(image, face) : {};
    },
    onTracks: (file, tracks) => tracksOf.set(file, tracks),
  });
  for (const it of videos.items) {
    const track = (tracksOf.get(it.file) ?? []).find((t) => t.trackId === it.video?.decidingTrack);
    if (!track || it.score === undefined || !it.label) continue;
    const c: Record<string, number> = {};
    for (const cue of [...VIDEO_CUES, 'faceW', 'imgW', 'imgH']) {
      const v = track.observations.map((o) => o.extra[cue]).filter((x): x is number => Number.isFinite(x));
      c[cue] = v.length ? median(v) : Number.NaN;
    }
    c.framesMeasured = track.observations.filter((o) => Number.isFinite(o.extra.moireLuma)).length;
    videoRows.push({ file: it.file, cls: it.label === 'live' ? 'live' : it.attack, context: '', source: videoSource.get(it.file) ?? '?', mf: it.score, c });
  }
  process.stderr.write(`${videoRows.length} videos judged; ${((performance.now() - t1) / 1000).toFixed(0)} s\n`);
  printReport(`videos ${videosDir} (median of the deciding track's cue every ${videoStride} frames); "given" = the photos' t`, videoRows, VIDEO_CUES, photoT);
  console.log(`\nper video (MF median, then cues)`);
  for (const r of videoRows) console.log(`${r.file.padEnd(48)} ${fmt(r.mf).padStart(6)} ${VIDEO_CUES.map((c) => fmt(r.c[c]).padStart(9)).join(' ')}  ${r.c.imgW}x${r.c.imgH} face ${fmt(r.c.faceW)} frames ${r.c.framesMeasured}`);
}

writeFileSync(outFile, JSON.stringify({ photos: photosDir, videos: videosDir, rows, videoRows }, null, 1));
process.stderr.write(`rows written to ${outFile}\n`);
