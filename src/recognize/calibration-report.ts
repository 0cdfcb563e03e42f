/**
 * Calibration from a site's own event log: the best-match scores of recognitions (genuine) and of
 * unknown faces (strangers: face.unknown carries the best gallery score when the gallery had any
 * template to compare with) per camera, against the thresholds in force. The log only holds
 * genuine scores above the threshold and stranger scores below it, so the error rates are
 * estimated from each side's distribution (a normal fit of the score's distance to its
 * threshold), and the top stranger scores say how close a stranger came. Pure: the caller reads
 * the events and the thresholds.
 */
import { quantile } from '../lib/stats.ts';

export interface CalibrationEvent {
  readonly id?: number;
  readonly type: string;
  readonly timeMs: number;
  readonly cameraId?: string;
  readonly identityId?: string;
  readonly data?: { readonly [key: string]: unknown };
}

export interface Thresholds {
  readonly unmasked: number;
  readonly masked: number;
  readonly source?: string;
}

export interface ScoreSample {
  readonly kind: 'genuine' | 'stranger';
  readonly cameraId: string;
  readonly score: number;
  readonly masked: boolean;
  readonly timeMs: number;
  readonly eventId?: number;
  readonly name?: string;
}

/** Histogram bins of cosine similarity: [-0.1, 1.0] in 0.05 steps, out-of-range scores in the end bins. */
export const BIN_LOW = -0.1;
export const BIN_WIDTH = 0.05;
export const BIN_COUNT = 22;

export interface SideSummary {
  readonly count: number;
  /** Counts per bin (BIN_LOW + i * BIN_WIDTH). */
  readonly histogram: readonly number[];
  readonly min: number | null;
  readonly median: number | null;
  readonly max: number | null;
}

export interface Estimate {
  /** Share of strangers expected at or above their threshold (normal fit of score - threshold); null below 2 samples. */
  readonly falseAcceptRate: number | null;
  /** Share of genuine faces expected below their threshold (normal fit; the log holds only accepted ones, so a lower bound); null below 2 samples. */
  readonly falseRejectRate: number | null;
  /** Strangers within `near` below their threshold, and recognitions within `near` above it. */
  readonly strangersNearThreshold: number;
  readonly genuineNearThreshold: number;
}

export interface CameraCalibration {
  readonly cameraId: string;
  readonly genuine: SideSummary;
  readonly stranger: SideSummary;
  readonly estimate: Estimate;
}

export interface TopStranger {
  readonly cameraId: string;
  readonly score: number;
  readonly threshold: number;
  /** threshold - score: how far below the threshold it stayed. */
  readonly gap: number;
  readonly masked: boolean;
  readonly timeMs: number;
  readonly eventId?: number;
}

export interface CalibrationReport {
  readonly thresholds: Thresholds;
  readonly bins: { readonly low: number; readonly width: number; readonly count: number };
  readonly near: number;
  readonly events: { readonly genuine: number; readonly stranger: number; readonly strangerWithoutScore: number };
  readonly fromMs: number | null;
  readonly toMs: number | null;
  readonly overall: Omit<CameraCalibration, 'cameraId'>;
  readonly cameras: readonly CameraCalibration[];
  readonly topStrangers: readonly TopStranger[];
}

/** The score samples of recognition events; face.unknown without a score (an empty gallery) is counted apart. */
export function scoreSamples(events: readonly CalibrationEvent[]): { samples: ScoreSample[]; strangerWithoutScore: number } {
  const samples: ScoreSample[] = [];
  let strangerWithoutScore = 0;
  for (const e of events) {
    if (e.type !== 'face.recognized' && e.type !== 'face.unknown') continue;
    const score = e.data?.score;
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      if (e.type === 'face.unknown') strangerWithoutScore++;
      continue;
    }
    samples.push({
      kind: e.type === 'face.recognized' ? 'genuine' : 'stranger',
      cameraId: e.cameraId ?? '-',
      score,
      masked: e.data?.masked === true,
      timeMs: e.timeMs,
      ...(e.id !== undefined ? { eventId: e.id } : {}),
      ...(typeof e.data?.name === 'string' ? { name: e.data.name } : {}),
    });
  }
  return { samples, strangerWithoutScore };
}

export function binOf(score: number): number {
  const i = Math.floor((score - BIN_LOW) / BIN_WIDTH + 1e-9);
  return i < 0 ? 0 : i >= BIN_COUNT ? BIN_COUNT - 1 : i;
}

/** The standard normal's upper tail P(Z >= z) (Abramowitz-Stegun 7.1.26 erfc, |error| < 1.5e-7). */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

function side(scores: readonly number[]): SideSummary {
  const histogram = new Array<number>(BIN_COUNT).fill(0);
  for (const s of scores) histogram[binOf(s)]++;
  if (!scores.length) return { count: 0, histogram, min: null, median: null, max: null };
  return { count: scores.length, histogram, min: Math.min(...scores), median: quantile(scores, 0.5), max: Math.max(...scores) };
}

const thresholdOf = (s: ScoreSample, t: Thresholds): number => (s.masked ? t.masked : t.unmasked);

/** P(margin >= 0) for margins ~ N(mean, sd); a zero spread puts all the mass on the mean. */
function tailAtOrAbove0(margins: readonly number[]): number | null {
  if (margins.length < 2) return null;
  const { mean, sd } = meanSd(margins);
  if (sd === 0) return mean >= 0 ? 1 : 0;
  return normalTail(-mean / sd);
}

function summarise(samples: readonly ScoreSample[], t: Thresholds, near: number): Omit<CameraCalibration, 'cameraId'> {
  const genuine = samples.filter((s) => s.kind === 'genuine');
  const stranger = samples.filter((s) => s.kind === 'stranger');
  const gMargins = genuine.map((s) => s.score - thresholdOf(s, t));
  const sMargins = stranger.map((s) => s.score - thresholdOf(s, t));
  const genuineAccepted = tailAtOrAbove0(gMargins);
  const frr = genuineAccepted === null ? null : 1 - genuineAccepted;
  return {
    genuine: side(genuine.map((s) => s.score)),
    stranger: side(stranger.map((s) => s.score)),
    estimate: {
      falseAcceptRate: tailAtOrAbove0(sMargins),
      falseRejectRate: frr,
      strangersNearThreshold: sMargins.filter((m) => m < 0 && m >= -near).length,
      genuineNearThreshold: gMargins.filter((m) => m >= 0 && m < near).length,
    },
  };
}

export interface CalibrationOptions {
  /** How close to the threshold counts as near (default 0.05). */
  readonly near?: number;
  /** Top stranger scores to list (default 10). */
  readonly top?: number;
}

export function calibrationReport(events: readonly CalibrationEvent[], thresholds: Thresholds, opts: CalibrationOptions = {}): CalibrationReport {
  const near = opts.near ?? 0.05;
  const { samples, strangerWithoutScore } = scoreSamples(events);
  const cameraIds = [...new Set(samples.map((s) => s.cameraId))].sort();
  const times = samples.map((s) => s.timeMs);
  const topStrangers = samples
    .filter((s) => s.kind === 'stranger')
    .map((s) => ({ s, gap: thresholdOf(s, thresholds) - s.score }))
    .sort((a, b) => a.gap - b.gap || b.s.timeMs - a.s.timeMs)
    .slice(0, opts.top ?? 10)
    .map(({ s, gap }) => ({ cameraId: s.cameraId, score: s.score, threshold: thresholdOf(s, thresholds), gap, masked: s.masked, timeMs: s.timeMs, ...(s.eventId !== undefined ? { eventId: s.eventId } : {}) }));
  return {
    thresholds,
    bins: { low: BIN_LOW, width: BIN_WIDTH, count: BIN_COUNT },
    near,
    events: { genuine: samples.filter((s) => s.kind === 'genuine').length, stranger: samples.filter((s) => s.kind === 'stranger').length, strangerWithoutScore },
    fromMs: times.length ? Math.min(...times) : null,
    toMs: times.length ? Math.max(...times) : null,
    overall: summarise(samples, thresholds, near),
    cameras: cameraIds.map((cameraId) => ({ cameraId, ...summarise(samples.filter((s) => s.cameraId === cameraId), thresholds, near) })),
    topStrangers,
  };
}

const pct = (v: number | null): string => (v === null ? 'n/a (fewer than 2 samples)' : `${(v * 100).toFixed(v < 0.001 ? 4 : 2)} %`);
const f3 = (v: number | null): string => (v === null ? '-' : v.toFixed(3));

/** A text histogram: one line per non-empty bin. */
function histogramLines(h: SideSummary, label: string): string[] {
  if (!h.count) return [`  ${label}: none`];
  const peak = Math.max(...h.histogram);
  const out = [`  ${label}: ${h.count} (min ${f3(h.min)}, median ${f3(h.median)}, max ${f3(h.max)})`];
  h.histogram.forEach((n, i) => {
    if (!n) return;
    const lo = BIN_LOW + i * BIN_WIDTH;
    out.push(`    ${lo.toFixed(2).padStart(5)}..${(lo + BIN_WIDTH).toFixed(2).padEnd(5)} ${'#'.repeat(Math.max(1, Math.round((n / peak) * 40)))} ${n}`);
  });
  return out;
}

/** The report as text for the terminal. */
export function formatCalibrationReport(r: CalibrationReport): string {
  const lines: string[] = [];
  lines.push(`thresholds in force: unmasked ${r.thresholds.unmasked}, masked ${r.thresholds.masked}${r.thresholds.source ? ` (${r.thresholds.source})` : ''}`);
  lines.push(`events: ${r.events.genuine} recognitions, ${r.events.stranger} strangers with a score${r.events.strangerWithoutScore ? ` (${r.events.strangerWithoutScore} without: empty gallery)` : ''}${r.fromMs !== null && r.toMs !== null ? `, ${new Date(r.fromMs).toISOString()} to ${new Date(r.toMs).toISOString()}` : ''}`);
  const block = (title: string, c: Omit<CameraCalibration, 'cameraId'>): void => {
    lines.push('', title);
    lines.push(...histogramLines(c.genuine, 'genuine (face.recognized)'));
    lines.push(...histogramLines(c.stranger, 'strangers (face.unknown best score)'));
    lines.push(`  estimated false accept rate: ${pct(c.estimate.falseAcceptRate)}; false reject rate: ${pct(c.estimate.falseRejectRate)} (lower bound: rejected faces are not in the log)`);
    lines.push(`  within ${r.near} of the threshold: ${c.estimate.strangersNearThreshold} stranger(s) below, ${c.estimate.genuineNearThreshold} recognition(s) above`);
  };
  block('all cameras', r.overall);
  if (r.cameras.length > 1) for (const c of r.cameras) block(`camera ${c.cameraId}`, c);
  lines.push('', 'how close did a stranger come (top stranger scores):');
  if (!r.topStrangers.length) lines.push('  no stranger with a score yet');
  for (const s of r.topStrangers) lines.push(`  ${s.score.toFixed(3)} on ${s.cameraId}${s.masked ? ' (masked)' : ''}, ${s.gap.toFixed(3)} below the threshold ${s.threshold}, ${new Date(s.timeMs).toISOString()}${s.eventId !== undefined ? ` (event ${s.eventId})` : ''}`);
  return `${lines.join('\n')}\n`;
}
