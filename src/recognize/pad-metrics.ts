/**
 * Presentation-attack detection metrics in ISO/IEC 30107-3 terms, pure.
 *
 * A score is the probability that the presentation is bona fide (a live person): a presentation is
 * accepted as live when score >= threshold.
 * - APCER(attack type): share of that type's attack presentations accepted as live.
 * - BPCER: share of bona fide presentations refused.
 * - ACER: (worst APCER + BPCER) / 2, the usual single figure (the standard itself asks for APCER per
 *   attack type and BPCER side by side, which is what the report leads with).
 * Presentations the system could not judge (no face found) are not errors of the classifier: they
 * are counted apart as non-responses (the standard's APNRR / BPNRR), never folded into the rates.
 */
import { median } from '../lib/stats.ts';

export type PadLabel = 'live' | 'spoof';

export interface PadSample {
  readonly label: PadLabel;
  /** `none` for live presentations; `print`, `replay`, `mask`, ... for attacks. */
  readonly attack: string;
  readonly score: number;
  /** Capture context (e.g. `full` / `tight`), for the breakdown; undefined when the data has none. */
  readonly context?: string | undefined;
}

export interface PadCounts {
  readonly live: number;
  readonly spoof: number;
  /** Attack presentations per attack type. */
  readonly attacks: Readonly<Record<string, number>>;
}

export interface PadRates {
  readonly counts: PadCounts;
  /** NaN when there is no live sample. */
  readonly bpcer: number;
  /** Live presentations refused at the threshold. */
  readonly liveRefused: number;
  readonly apcer: Readonly<Record<string, number>>;
  /** Attack presentations accepted at the threshold, per attack type. */
  readonly attacksAccepted: Readonly<Record<string, number>>;
  /** The attack type with the highest APCER (ties: the first in name order); undefined with no attacks. */
  readonly worstAttack: string | undefined;
  readonly worstApcer: number;
  readonly acer: number;
}

export const isAccepted = (score: number, threshold: number): boolean => score >= threshold;

/** APCER per attack type, BPCER and ACER at one threshold. */
export function padRates(samples: readonly PadSample[], threshold: number): PadRates {
  let live = 0;
  let liveRefused = 0;
  const attacks: Record<string, number> = {};
  const accepted: Record<string, number> = {};
  for (const s of samples) {
    if (s.label === 'live') {
      live++;
      if (!isAccepted(s.score, threshold)) liveRefused++;
    } else {
      attacks[s.attack] = (attacks[s.attack] ?? 0) + 1;
      accepted[s.attack] = (accepted[s.attack] ?? 0) + (isAccepted(s.score, threshold) ? 1 : 0);
    }
  }
  const names = Object.keys(attacks).sort();
  const apcer: Record<string, number> = {};
  const attacksAccepted: Record<string, number> = {};
  let worstAttack: string | undefined;
  let worstApcer = Number.NaN;
  for (const a of names) {
    apcer[a] = accepted[a] / attacks[a];
    attacksAccepted[a] = accepted[a];
    if (worstAttack === undefined || apcer[a] > worstApcer) {
      worstAttack = a;
      worstApcer = apcer[a];
    }
  }
  const spoof = names.reduce((n, a) => n + attacks[a], 0);
  const bpcer = live ? liveRefused / live : Number.NaN;
  const sortedAttacks: Record<string, number> = {};
  for (const a of names) sortedAttacks[a] = attacks[a];
  return { counts: { live, spoof, attacks: sortedAttacks }, bpcer, liveRefused, apcer, attacksAccepted, worstAttack, worstApcer, acer: (worstApcer + bpcer) / 2 };
}

/**
 * The highest threshold whose BPCER is at most `bpcer` (the most attacks refused for that cost to
 * live people): with n live scores sorted ascending, k = floor(bpcer * n) of them may be refused,
 * so the threshold is the (k+1)-th lowest live score (ties refuse fewer). NaN with no live score.
 */
export function thresholdAtBpcer(liveScores: readonly number[], bpcer: number): number {
  if (!liveScores.length) return Number.NaN;
  const sorted = [...liveScores].sort((a, b) => a - b);
  const k = Math.min(sorted.length - 1, Math.max(0, Math.floor(bpcer * sorted.length + 1e-9)));
  return sorted[k];
}

export interface DetPoint {
  readonly threshold: number;
  readonly apcer: number;
  readonly bpcer: number;
}

/**
 * DET points of one attack type against the live presentations: (APCER, BPCER) at every
 * threshold where either changes (each distinct score, plus one above the highest).
 */
export function detPoints(live: readonly number[], attack: readonly number[]): DetPoint[] {
  if (!live.length || !attack.length) return [];
  const thresholds = [...new Set([...live, ...attack])].sort((a, b) => a - b);
  thresholds.push(Number.POSITIVE_INFINITY);
  return thresholds.map((t) => ({
    threshold: t,
    apcer: attack.filter((s) => isAccepted(s, t)).length / attack.length,
    bpcer: live.filter((s) => !isAccepted(s, t)).length / live.length,
  }));
}

export interface PadReportCore extends PadRates {
  readonly threshold: number;
  /** The highest threshold keeping BPCER at or under 5%, and the rates there. */
  readonly atBpcer5: { readonly threshold: number; readonly apcer: Readonly<Record<string, number>>; readonly worstApcer: number; readonly bpcer: number };
  /** Rates per capture context, when the data names contexts. */
  readonly contexts: Readonly<Record<string, PadRates>> | undefined;
}

export const BPCER_TARGET = 0.05;

/** The whole report of a scored set: rates at `threshold`, at BPCER 5%, and per context. */
export function padReport(samples: readonly PadSample[], threshold: number): PadReportCore {
  const rates = padRates(samples, threshold);
  const t5 = thresholdAtBpcer(samples.filter((s) => s.label === 'live').map((s) => s.score), BPCER_TARGET);
  const at5 = padRates(samples, t5);
  const named = samples.filter((s) => s.context !== undefined && s.context !== '');
  let contexts: Record<string, PadRates> | undefined;
  if (named.length) {
    contexts = {};
    for (const c of [...new Set(named.map((s) => s.context as string))].sort()) contexts[c] = padRates(named.filter((s) => s.context === c), threshold);
  }
  return { threshold, ...rates, atBpcer5: { threshold: t5, apcer: at5.apcer, worstApcer: at5.worstApcer, bpcer: at5.bpcer }, contexts };
}

/** Aggregations of per-frame scores over a track (what the bench compares). */
export type TrackAggregate = 'mean' | 'median' | 'trimmed-mean' | 'min';

/** Aggregate per-frame scores; `trimmed-mean` drops the lowest and highest 20%. NaN for no scores. */
export function aggregateScores(scores: readonly number[], how: TrackAggregate): number {
  if (!scores.length) return Number.NaN;
  const sorted = [...scores].sort((a, b) => a - b);
  switch (how) {
    case 'mean':
      return sorted.reduce((a, b) => a + b, 0) / sorted.length;
    case 'min':
      return sorted[0];
    case 'median':
      return median(sorted);
    case 'trimmed-mean': {
      const cut = Math.floor(sorted.length * 0.2);
      const kept = sorted.slice(cut, sorted.length - cut);
      return kept.reduce((a, b) => a + b, 0) / kept.length;
    }
  }
}
