import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { FacegateError, errorMessage } from '../errors.ts';
import { rocCurve, type SortedScores } from './metrics.ts';

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

/**
 * ROC curves as SVG (pure): TAR against FAR on a log axis from the lowest FAR the impostor
 * counts can resolve to 1, so the region access control cares about (FAR 1e-3 and below) gets
 * most of the width.
 */
export function rocSvg(series: readonly RocSeries[], opts: RocPlotOptions = {}): string {
  const width = opts.width ?? ROC_PLOT_DEFAULTS.width;
  const height = opts.height ?? ROC_PLOT_DEFAULTS.height;
  const { left, right, top, bottom } = ROC_MARGINS;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const minImpostors = Math.max(10, ...series.map((s) => s.impostor.length));
  const decades = Math.max(3, Math.ceil(Math.log10(minImpostors)));
  const x = (far: number): number => left + ((Math.log10(Math.max(far, 10 ** -decades)) + decades) / decades) * pw;
  const y = (tar: number): number => top + (1 - tar) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  for (let d = 0; d <= decades; d++) {
    const gx = x(10 ** -d).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${top + ph}" stroke="#dddddd" stroke-width="1"/>`);
    parts.push(`<text x="${gx}" y="${top + ph + 18}" font-family="sans-serif" font-size="12" text-anchor="middle" fill="#333333">${d === 0 ? '1' : `1e-${d}`}</text>`);
  }
  for (let k = 0; k <= 10; k++) {
    const gy = y(k / 10).toFixed(1);
    parts.push(`<line x1="${left}" y1="${gy}" x2="${left + pw}" y2="${gy}" stroke="#dddddd" stroke-width="1"/>`);
    if (k % 2 === 0) parts.push(`<text x="${left - 8}" y="${(Number(gy) + 4).toFixed(1)}" font-family="sans-serif" font-size="12" text-anchor="end" fill="#333333">${(k / 10).toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333333" stroke-width="1"/>`);
  parts.push(`<text x="${left + pw / 2}" y="${height - 15}" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#111111">false accept rate (impostor pairs accepted, log scale)</text>`);
  parts.push(`<text x="16" y="${top + ph / 2}" font-family="sans-serif" font-size="13" text-anchor="middle" fill="#111111" transform="rotate(-90 16 ${top + ph / 2})">true accept rate</text>`);
  if (opts.title) parts.push(`<text x="${left + pw / 2}" y="24" font-family="sans-serif" font-size="15" text-anchor="middle" fill="#111111">${esc(opts.title)}</text>`);
  series.forEach((s, i) => {
    const pts = rocCurve(s.genuine, s.impostor, 240);
    if (pts.length) {
      const path = pts.map((p) => `${x(p.far).toFixed(1)},${y(p.tar).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${path}" fill="none" stroke="${s.colour}" stroke-width="2.5" stroke-linejoin="round"/>`);
    }
    const ly = top + ph - 20 - i * 20;
    parts.push(`<line x1="${left + pw - 370}" y1="${ly}" x2="${left + pw - 340}" y2="${ly}" stroke="${s.colour}" stroke-width="3"/>`);
    parts.push(`<text x="${left + pw - 332}" y="${ly + 4}" font-family="sans-serif" font-size="12" fill="#111111">${esc(s.label)} (${s.genuine.length} genuine / ${s.impostor.length} impostor)</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Render the ROC curves to a PNG file (SVG rasterised by sharp). */
export async function writeRocPng(file: string, series: readonly RocSeries[], opts: RocPlotOptions = {}): Promise<void> {
  let png: Buffer;
  try {
    png = await sharp(Buffer.from(rocSvg(series, opts))).png().toBuffer();
  } catch (e) {
    throw new FacegateError('BAD_ARGUMENT', `cannot render the ROC plot: ${errorMessage(e)}`, { hint: 'sharp needs its SVG support (librsvg) to draw the plot' });
  }
  try {
    await writeFile(file, png);
  } catch (e) {
    throw new FacegateError('BAD_ARGUMENT', `cannot write the ROC plot to ${file}: ${errorMessage(e)}`, { context: { path: file }, hint: 'pass --plot a path in a writable folder' });
  }
}
