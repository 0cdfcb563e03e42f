/**
 * `facegate eval --pad DIR`: presentation-attack detection on a labelled folder of photos and
 * videos, reported in ISO/IEC 30107-3 terms (src/recognize/evaluate-pad.ts does the work).
 */
import { basename, resolve } from 'node:path';
import { createDetector } from '../detect/index.ts';
import { FacegateError } from '../errors.ts';
import { livenessSetKey, writeCalibration, type ExecutionProvider, type LivenessCalibrationEntry } from '../models/index.ts';
import { DEFAULT_TRACK_SCORE, evaluatePad, type PadEvalReport, type TrackScoreRule } from '../recognize/evaluate-pad.ts';
import { LIVENESS_RULE } from '../recognize/liveness-track.ts';
import { createLiveness } from '../recognize/models.ts';
import { detPoints, padRates, type PadRates } from '../recognize/pad-metrics.ts';
import { writeDetPng, type DetSeries } from '../recognize/roc-plot.ts';

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a');
const num = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

function rates(r: PadRates): string {
  const attacks = Object.keys(r.apcer).map((a) => `APCER ${a} ${pct(r.apcer[a])} (${r.attacksAccepted[a]}/${r.counts.attacks[a]} accepted)`);
  return [`BPCER ${pct(r.bpcer)} (${r.liveRefused}/${r.counts.live} live refused)`, ...attacks, ...(r.worstAttack ? [`ACER ${pct(r.acer)}`] : [])].join('; ');
}

/** The person-readable report. */
export function formatPadReport(r: PadEvalReport): string {
  const attackCounts = Object.entries(r.counts.attacks).map(([a, n]) => `${a} ${n}`).join(', ');
  const lines = [
    `presentation attacks on ${r.dir}: ${r.items.length} rows, ${r.counts.live} live and ${r.counts.spoof} attacks judged (${attackCounts || 'no attacks'}); videos judged per track (${r.trackScore})`,
    `  at threshold ${num(r.threshold)} (live at or above): ${rates(r)}`,
    `  worst APCER: ${r.worstAttack ? `${r.worstAttack} ${pct(r.worstApcer)}` : 'n/a'}`,
    `  threshold keeping BPCER <= 5%: ${num(r.atBpcer5.threshold)}: BPCER ${pct(r.atBpcer5.bpcer)}; ${Object.entries(r.atBpcer5.apcer).map(([a, v]) => `APCER ${a} ${pct(v)}`).join('; ')}`,
    ...(r.contexts ? Object.entries(r.contexts).map(([c, cr]) => `  context ${c}: ${rates(cr)}`) : []),
    ...(r.kinds ? [`  photos: ${rates(r.kinds.photo)}`, `  videos: ${rates(r.kinds.video)}`] : []),
    `  not judged: ${Object.keys(r.problems).length ? Object.entries(r.problems).map(([k, n]) => `${k} ${n}`).join(', ') : 'none'} (live ${r.nonResponse.live}, attacks ${r.nonResponse.spoof})`,
  ];
  for (const i of r.items) {
    if (i.problem) lines.push(`  ! line ${i.line} ${i.file}: ${i.problem}: ${i.detail}`);
  }
  for (const i of r.items) {
    if (i.kind !== 'video' || !i.video) continue;
    const verdict = i.score === undefined ? 'not judged' : `${num(i.score)} ${i.accepted ? 'accepted as live' : 'refused'}`;
    const p = i.video.planarity;
    // A diagnostic beside the decision (docs/liveness.md): what the landmarks of the deciding track did.
    const planarity = p ? `; landmarks ${p.verdict} (${p.turningPairs}/${p.pairs} turning pairs, residual ${p.residual === undefined ? '-' : p.residual.toFixed(3)}, max tilt ${p.maxTilt.toFixed(0)} deg)` : '';
    lines.push(`  video ${i.file} (${i.label ?? '?'}${i.label === 'spoof' ? ` ${i.attack}` : ''}): ${i.video.frames} frames, ${i.video.tracks} track(s), deciding ${i.video.decidingTrack ?? '-'} over ${i.video.trackFrames} frames: ${verdict}${planarity}`);
  }
  return lines.join('\n');
}

/** The JSON line: rates with NaN as null, counts flattened (live, spoof and one key per attack type). */
export function padReportJson(r: PadEvalReport): Record<string, unknown> {
  return {
    dir: r.dir,
    threshold: r.threshold,
    trackScore: r.trackScore,
    bpcer: r.bpcer,
    apcer: r.apcer,
    worstApcer: r.worstApcer,
    worstAttack: r.worstAttack ?? null,
    acer: r.acer,
    counts: { live: r.counts.live, spoof: r.counts.spoof, ...r.counts.attacks },
    accepted: r.attacksAccepted,
    liveRefused: r.liveRefused,
    atBpcer5: r.atBpcer5,
    contexts: r.contexts ?? null,
    kinds: r.kinds ?? null,
    problems: r.problems,
    nonResponse: r.nonResponse,
    items: r.items,
  };
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** DET series per attack type, with the operating point at the report's threshold. */
export function detSeries(r: PadEvalReport): DetSeries[] {
  const judged = r.items.filter((i) => i.score !== undefined && i.label !== undefined);
  const live = judged.filter((i) => i.label === 'live').map((i) => i.score as number);
  return Object.keys(r.counts.attacks).map((attack, k) => {
    const scores = judged.filter((i) => i.label === 'spoof' && i.attack === attack).map((i) => i.score as number);
    const at = padRates([...live.map((score) => ({ label: 'live' as const, attack: 'none', score })), ...scores.map((score) => ({ label: 'spoof' as const, attack, score }))], r.threshold);
    return {
      label: `${attack} (${scores.length} attacks / ${live.length} live)`,
      colour: COLOURS[k % COLOURS.length],
      points: detPoints(live, scores),
      operating: { apcer: at.apcer[attack], bpcer: at.bpcer },
    };
  });
}

export interface PadCliOptions {
  readonly pad: string;
  readonly tier: string;
  readonly threshold?: string;
  readonly trackScore?: string;
  readonly videoFps?: string;
  readonly json?: boolean;
  readonly plot?: string;
  /** Write the threshold at BPCER 5% into the local calibration (the pipeline's median rule only). */
  readonly writeThresholds?: boolean;
  readonly ep: ExecutionProvider;
}

const TRACK_RULES: readonly TrackScoreRule[] = ['best-shot', 'mean', 'median', 'trimmed-mean', 'min'];

function numberArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new FacegateError('BAD_ARGUMENT', `${name} must be a number from ${min} to ${max}, got "${v}"`, { context: { option: name }, hint: `e.g. ${name} ${max <= 1 ? '0.5' : '10'}` });
  return n;
}

export async function runPadEval(opts: PadCliOptions): Promise<void> {
  const given = numberArg('--threshold', opts.threshold, 0, 1);
  const videoFps = numberArg('--video-fps', opts.videoFps, 1, 60);
  const rule = (opts.trackScore ?? DEFAULT_TRACK_SCORE) as TrackScoreRule;
  if (!TRACK_RULES.includes(rule)) throw new FacegateError('BAD_ARGUMENT', `--track-score must be one of ${TRACK_RULES.join(', ')}, got "${opts.trackScore}"`, { hint: `the default is ${DEFAULT_TRACK_SCORE}` });
  // A calibration is only meaningful for the rule the pipeline decides by.
  if (opts.writeThresholds && rule !== LIVENESS_RULE) throw new FacegateError('BAD_ARGUMENT', `--write-thresholds calibrates the pipeline's track rule (${LIVENESS_RULE}), not ${rule}`, { hint: `leave out --track-score, or give --track-score ${LIVENESS_RULE}` });
  const dir = resolve(opts.pad);
  const detector = await createDetector({ tier: opts.tier, size: 640, padRetry: true, executionProvider: opts.ep });
  try {
    const liveness = await createLiveness(undefined, { executionProvider: opts.ep });
    try {
      // Without --threshold: the threshold the box uses now (local calibration, else the manifest).
      const threshold = given ?? liveness.threshold.value;
      if (given === undefined && !opts.json) process.stderr.write(`threshold ${threshold} (${liveness.threshold.source})\n`);
      const report = await evaluatePad(dir, { detector, liveness }, { threshold, trackScore: rule, videoFps });
      if (opts.json) process.stdout.write(`${JSON.stringify(padReportJson(report))}\n`);
      else process.stdout.write(`${formatPadReport(report)}\n`);
      if (opts.plot) {
        const file = resolve(opts.plot);
        await writeDetPng(file, detSeries(report), { title: `presentation attacks: ${basename(dir)}` });
        process.stderr.write(`DET curves written to ${file}\n`);
      }
      if (opts.writeThresholds) {
        const entry = padCalibration(report, dir);
        const path = writeCalibration({}, undefined, { [livenessSetKey(liveness.models)]: entry });
        process.stdout.write(`liveness threshold ${entry.threshold} for ${liveness.models.join(' + ')} written to ${path} (used before the manifest's value)\n`);
      }
    } finally {
      await liveness.close();
    }
  } finally {
    await detector.close();
  }
}

/**
 * The calibration entry `--write-thresholds` writes: the highest threshold keeping BPCER at or
 * under 5% on DIR, with the counts it rests on. Refused when DIR cannot set one (no live or no
 * attack presentation judged).
 */
export function padCalibration(report: PadEvalReport, dir: string, now: Date = new Date()): LivenessCalibrationEntry {
  const t = report.atBpcer5.threshold;
  const attacks = Object.values(report.counts.attacks).reduce((a, b) => a + b, 0);
  if (!report.counts.live || !attacks || !Number.isFinite(t)) {
    throw new FacegateError('BAD_ARGUMENT', `${dir} cannot calibrate a liveness threshold: ${report.counts.live} live and ${attacks} attack presentations judged`, { context: { dir }, hint: 'label live and attack recordings from your site in DIR/labels.csv (videos of people at the door and of the attacks you expect)' });
  }
  const threshold = Math.round(t * 1000) / 1000;
  const apcer = Object.entries(report.atBpcer5.apcer).map(([a, v]) => `APCER ${a} ${(v * 100).toFixed(1)}% of ${report.counts.attacks[a]}`).join(', ');
  return {
    rule: LIVENESS_RULE,
    threshold,
    data: `${dir}: ${report.counts.live} live, ${Object.entries(report.counts.attacks).map(([a, n]) => `${n} ${a}`).join(', ')}`,
    source: `facegate eval --pad (track rule ${LIVENESS_RULE}): highest threshold with BPCER <= 5% (${(report.atBpcer5.bpcer * 100).toFixed(1)}% of ${report.counts.live} live); there ${apcer}`,
    writtenAt: now.toISOString(),
  };
}
