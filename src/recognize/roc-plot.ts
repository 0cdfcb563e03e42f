import { writeFile } from 'node:fs/promises';
import { FacegateError, errorMessage } from '../errors.ts';
import { rocCurve, type SortedScores } from './metrics.ts';
import { loadSharp } from '../image/sharp.ts';

/** One ROC curve: genuine vs impostor scores (ascending) under a label and a colour. */
export interface RocSeries {
  readonly label: string;
  readonly colour: string;
  readonly genuine: SortedScores;
  readonly impostor: SortedScores;
}

export interface RocPlotOptions {
  readonly width?: number;
  readonly height?: number;
  readonly title?: string;
}

export const ROC_PLOT_DEFAULTS = { width: 800, height: 560 } as const;
/** Plot area margins (px): left, right, top, bottom. */
export const ROC_MARGINS = { left: 70, right: 20, top: 40, bottom: 60 } as const;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One axis of a chart: where a value lands (0 = left/bottom, 1 = right/top), its ticks and title. */
export interface ChartAxis {
  readonly position: (v: number) => number;
  readonly ticks: readonly { readonly value: number; readonly label: string }[];
  readonly title: string;
}

export interface ChartCurve {
  readonly colour: string;
  /** Legend text. */
  readonly legend: string;
  readonly points: readonly (readonly [number, number])[];
  /** Points drawn as dots (operating points). */
  readonly markers?: readonly (readonly [number, number])[];
}

/**
 * A line chart as SVG (pure), the drawing shared by the ROC and DET plots: white page, grid at
 * the ticks, framed plot area, axis titles, one polyline per curve, a legend stacked upward from
 * the bottom right (ROC curves live top-left) or downward from the top right (DET curves bottom-left).
 */
export function chartSvg(x: ChartAxis, y: ChartAxis, curves: readonly ChartCurve[], opts: RocPlotOptions & { readonly legend?: 'bottom' | 'top' } = {}): string {
  const width = opts.width ?? ROC_PLOT_DEFAULTS.width;
  const height = opts.height ?? ROC_PLOT_DEFAULTS.height;
  const { left, right, top, bottom } = ROC_MARGINS;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const px = (v: number): number => left + Math.min(1, Math.max(0, x.position(v))) * pw;
  const py = (v: number): number => top + (1 - Math.min(1, Math.max(0, y.position(v)))) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  for (const t of x.ticks) {
    const gx = px(t.value).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${top + ph}" stroke="#dddddd" stroke-width="1"/>`);
    parts.push(`<text x="${gx}" y="${top + ph + 18}" font-family="sans-serif" font-size="12" text-anchor="middle" fill="#333333">${esc(t.label)}</text>`);
  }
  for (const t of y.ticks) {
    const gy = py(t.value).toFixed(1);
    parts.push(`<line x1="${left}" y1="${gy}" x2="${left + pw}" y2="${gy}" stroke="#dddddd" stroke-width="1"/>`);
    if (t.label) parts.push(`<text x="${left - 8}" y="${(Number(gy) + 4).toFixed(1)}" font-family="sans-serif" font-size="12" text-anchor="end" fill="#333333">${esc(t.label)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333333" stroke-width="1"/>`);
  parts.push(`<text x="${left + pw / 2}" y="${height - 15}" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#111111">${esc(x.title)}</text>`);
  parts.push(`<text x="16" y="${top + ph / 2}" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#111111" transform="rotate(-90 16 ${top + ph / 2})">${esc(y.title)}</text>`);
  if (opts.title) parts.push(`<text x="${left + pw / 2}" y="24" font-family="sans-serif" font-size="15" text-anchor="middle" fill="#111111">${esc(opts.title)}</text>`);
  curves.forEach((c, i) => {
    if (c.points.length) {
      const path = c.points.map(([vx, vy]) => `${px(vx).toFixed(1)},${py(vy).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${path}" fill="none" stroke="${c.colour}" stroke-width="2.5" stroke-linejoin="round"/>`);
    }
    for (const [mx, my] of c.markers ?? []) parts.push(`<circle cx="${px(mx).toFixed(1)}" cy="${py(my).toFixed(1)}" r="5" fill="${c.colour}" stroke="#111111" stroke-width="1"/>`);
    const ly = opts.legend === 'top' ? top + 20 + i * 20 : top + ph - 20 - i * 20;
    parts.push(`<line x1="${left + pw - 370}" y1="${ly}" x2="${left + pw - 340}" y2="${ly}" stroke="${c.colour}" stroke-width="3"/>`);
    parts.push(`<text x="${left + pw - 332}" y="${ly + 4}" font-family="sans-serif" font-size="12" fill="#111111">${esc(c.legend)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * ROC curves as SVG (pure): TAR against FAR on a log axis from the lowest FAR the impostor
 * counts can resolve to 1, so the region access control cares about (FAR 1e-3 and below) gets
 * most of the width.
 */
export function rocSvg(series: readonly RocSeries[], opts: RocPlotOptions = {}): string {
  const minImpostors = Math.max(10, ...series.map((s) => s.impostor.length));
  const decades = Math.max(3, Math.ceil(Math.log10(minImpostors)));
  const x: ChartAxis = {
    position: (far) => (Math.log10(Math.max(far, 10 ** -decades)) + decades) / decades,
    ticks: Array.from({ length: decades + 1 }, (_, d) => ({ value: 10 ** -d, label: d === 0 ? '1' : `1e-${d}` })),
    title: 'false accept rate (impostor pairs accepted, log scale)',
  };
  const y: ChartAxis = { position: (tar) => tar, ticks: Array.from({ length: 11 }, (_, k) => ({ value: k / 10, label: k % 2 === 0 ? (k / 10).toFixed(1) : '' })), title: 'true accept rate' };
  const curves = series.map((s) => ({
    colour: s.colour,
    legend: `${s.label} (${s.genuine.length} genuine / ${s.impostor.length} impostor)`,
    points: rocCurve(s.genuine, s.impostor, 240).map((p) => [p.far, p.tar] as const),
  }));
  return chartSvg(x, y, curves, opts);
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function probit(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628274631];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -probit(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** One DET curve: (APCER, BPCER) points of an attack type, and the operating point marked. */
export interface DetSeries {
  readonly label: string;
  readonly colour: string;
  readonly points: readonly { readonly apcer: number; readonly bpcer: number }[];
  readonly operating?: { readonly apcer: number; readonly bpcer: number };
}

const DET_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95];
const DET_LO = 0.005;
const DET_HI = 0.995;

/**
 * DET curves as SVG (pure): BPCER against APCER, both on normal-deviate (probit) scales from 0.5%
 * to 99.5% as ISO/IEC 30107-3 plots them; rates of 0 or 1 are drawn on the border.
 */
export function detSvg(series: readonly DetSeries[], opts: RocPlotOptions = {}): string {
  const span = probit(DET_HI) - probit(DET_LO);
  const axis = (title: string): ChartAxis => ({
    position: (p) => (probit(Math.min(DET_HI, Math.max(DET_LO, p))) - probit(DET_LO)) / span,
    ticks: DET_TICKS.map((v) => ({ value: v, label: `${+(v * 100).toFixed(1)}%` })),
    title,
  });
  const curves = series.map((s) => ({
    colour: s.colour,
    legend: s.label,
    points: s.points.map((p) => [p.apcer, p.bpcer] as const),
    markers: s.operating ? [[s.operating.apcer, s.operating.bpcer] as const] : [],
  }));
  return chartSvg(axis('APCER (attack presentations accepted, probit scale)'), axis('BPCER (live presentations refused)'), curves, { ...opts, legend: 'top' });
}

/** An SVG rasterised by sharp and written as PNG; `what` names the plot in errors. */
async function writeSvgPng(file: string, svg: string, what: string): Promise<void> {
  let png: Buffer;
  try {
    png = await (await loadSharp())(Buffer.from(svg)).png().toBuffer();
  } catch (e) {
    throw new FacegateError('BAD_ARGUMENT', `cannot render the ${what} plot: ${errorMessage(e)}`, { hint: 'sharp needs its SVG support (librsvg) to draw the plot' });
  }
  try {
    await writeFile(file, png);
  } catch (e) {
    throw new FacegateError('BAD_ARGUMENT', `cannot write the ${what} plot to ${file}: ${errorMessage(e)}`, { context: { path: file }, hint: 'pass --plot a path in a writable folder' });
  }
}

/** Render DET curves to a PNG file. */
export async function writeDetPng(file: string, series: readonly DetSeries[], opts: RocPlotOptions = {}): Promise<void> {
  await writeSvgPng(file, detSvg(series, opts), 'DET');
}

/** Render the ROC curves to a PNG file (SVG rasterised by sharp). */
export async function writeRocPng(file: string, series: readonly RocSeries[], opts: RocPlotOptions = {}): Promise<void> {
  await writeSvgPng(file, rocSvg(series, opts), 'ROC');
}
