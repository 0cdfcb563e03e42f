import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { createDetector, type Detector } from '../detect/index.ts';
import { DEFAULT_EMBEDDER } from '../config/index.ts';
import { FacegateError } from '../errors.ts';
import { calibrationPath, loadManifest, resolveModel, writeCalibration, type CalibrationEntry, type ExecutionProvider } from '../models/index.ts';
import { executionProviderArg } from './common.ts';
import { runPadEval } from './eval-pad.ts';
import { evaluatePairs, type PairsReport } from '../recognize/evaluate-pairs.ts';
import { evaluateWithScores, type EvalReport, type PhotoCache } from '../recognize/evaluate.ts';
import { createEmbedder, createLiveness, createMaskClassifier, type Embedder } from '../recognize/models.ts';
import { parsePairs } from '../recognize/pairs.ts';
import { writeRocPng, type RocSeries } from '../recognize/roc-plot.ts';

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a');
const num = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

export function formatReport(r: EvalReport): string {
  const lines = [
    `embedder ${r.embedder}: ${r.people} people enrolled (first photo), ${r.probes} probes; ${r.genuinePairs} genuine / ${r.impostorPairs} impostor pairs`,
    `  rank-1 ${pct(r.rank1)}; EER ${pct(r.eer)}; genuine min/median ${num(r.genuine.min)}/${num(r.genuine.median)}; impostor p99/max ${num(r.impostor.p99)}/${num(r.impostor.max)}`,
    ...r.tar_at_far.map((t) => `  TAR@FAR ${t.far}${t.farUsed !== t.far ? ` (pairs allow ${t.farUsed.toExponential(1)})` : ''}: ${pct(t.tar)} at threshold ${num(t.threshold)}`),
    `  synthetic-masked probes: rank-1 ${pct(r.rank1_masked_plain)} with plain templates -> ${pct(r.rank1_masked)} with masked templates; genuine median ${num(r.masked.genuineMedianPlain)} -> ${num(r.masked.genuineMedianWithMaskedTemplates)}`,
    `  masked threshold ${num(r.recommended.masked)} (TAR ${pct(r.masked.tar)} on synthetic-masked probes); synthetic impostors alone would give ${num(r.masked.syntheticOnlyThreshold)}, accepting ${r.masked.realStrangersAcceptedAtSyntheticOnly}/${r.masked.realMaskedStrangers} real masked strangers`,
    `  real masked strangers accepted at ${num(r.recommended.masked)}: ${r.masked.realMaskedFalseAccepts}/${r.masked.realMaskedStrangers} (best stranger score ${num(r.masked.realStrangerMax)})`,
    ...r.masked.realPairs.map((p) => `  real masked photo ${p.file} (${p.identity}): ${num(p.plain)} plain -> ${num(p.withMaskedTemplates)} with masked templates: ${p.accepted ? 'accepted' : 'REJECTED'}`),
    `  mask classifier: ${pct(r.mask_accuracy)} (${r.mask.maskedCorrect}/${r.mask.masked} masked, ${r.mask.unmaskedCorrect}/${r.mask.unmasked} unmasked at ${r.mask.threshold})`,
    ...(r.liveness ? [`  liveness pass rate on real faces: ${pct(r.liveness.passRate)} of ${r.liveness.faces} at ${r.liveness.threshold} (${pct(r.liveness.withContext.passRate)} of ${r.liveness.withContext.faces} photos with context around the face, ${pct(r.liveness.tightCrops.passRate)} of ${r.liveness.tightCrops.faces} tight crops)`] : []),
    `  recommended thresholds: unmasked ${num(r.recommended.unmasked)}, masked ${num(r.recommended.masked)}`,
    `  embedder run: ${r.embedderRunsMs.toFixed(1)} ms per face; undetected: ${r.undetected.length ? r.undetected.join(', ') : 'none'}`,
  ];
  return lines.join('\n');
}

const TABLE_HEAD = ['embedder', 'rank-1', 'TAR@1e-3', 'EER', 'masked rank-1', 'masked thr', 'real masked strangers accepted', 'real masked pair score', 'unmasked thr', 'ms/face'];

/** One markdown table row per embedder: the README's accuracy table. */
export function formatTable(reports: readonly EvalReport[]): string {
  const rows = reports.map((r) => {
    const tar = r.tar_at_far.find((t) => t.far === 1e-3) ?? r.tar_at_far[r.tar_at_far.length - 1];
    return [
      r.embedder,
      pct(r.rank1),
      `${pct(tar.tar)}${tar.farUsed !== tar.far ? ` (FAR ${tar.farUsed.toExponential(1)})` : ''}`,
      pct(r.eer),
      pct(r.rank1_masked),
      num(r.recommended.masked),
      `${r.masked.realMaskedFalseAccepts}/${r.masked.realMaskedStrangers}`,
      r.masked.realPairs.length ? r.masked.realPairs.map((p) => `${num(p.withMaskedTemplates)}${p.accepted ? '' : ' (rejected)'}`).join(', ') : 'n/a',
      num(r.recommended.unmasked),
      r.embedderRunsMs.toFixed(1),
    ];
  });
  return [`| ${TABLE_HEAD.join(' | ')} |`, `|${TABLE_HEAD.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function formatPairsReport(r: PairsReport): string {
  const thresholds = r.kfold.folds.map((f) => f.threshold).sort((a, b) => a - b);
  return [
    `embedder ${r.embedder}: ${r.scoredPairs} of ${r.pairs} pairs scored (${r.genuinePairs} same / ${r.impostorPairs} different), ${r.kfold.folds.length} folds`,
    `  ${r.kfold.folds.length}-fold accuracy ${pct(r.kfold.mean)} ± ${pct(r.kfold.std)} (threshold chosen on the other folds: ${num(thresholds[0])}..${num(thresholds[thresholds.length - 1])})`,
    `  per fold: ${r.kfold.folds.map((f) => pct(f.accuracy)).join(' ')}`,
    ...r.tar_at_far.map((t) => `  TAR@FAR ${t.far}${t.farUsed !== t.far ? ` (pairs allow ${t.farUsed.toExponential(1)})` : ''}: ${pct(t.tar)} at threshold ${num(t.threshold)}`),
    `  EER ${pct(r.eer)}; embedder run ${r.embedderRunsMs.toFixed(1)} ms per face`,
    ...(r.missing.length ? [`  missing photos (their pairs left out): ${r.missing.length}: ${r.missing.slice(0, 5).join(', ')}${r.missing.length > 5 ? ', ...' : ''}`] : []),
    ...(r.undetected.length ? [`  no face found (their pairs left out): ${r.undetected.length}: ${r.undetected.slice(0, 5).join(', ')}${r.undetected.length > 5 ? ', ...' : ''}`] : []),
  ].join('\n');
}

/** `roc.png` with several embedders -> `roc.<embedder>.png`. */
export function plotPathFor(file: string, embedder: string, several: boolean): string {
  if (!several) return resolve(file);
  const ext = extname(file) || '.png';
  return join(dirname(resolve(file)), `${basename(file, extname(file))}.${embedder}${ext}`);
}

/** A progress bar with an ETA on stderr, only when stderr is a terminal. */
function progressBar(label: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} images | {duration_formatted} elapsed, ETA {eta_formatted}`, stream: process.stderr, etaBuffer: 50 }, Presets.shades_classic);
  let started = false;
  return {
    update: (d, t) => {
      if (!started) {
        bar.start(t, d);
        started = true;
      } else bar.update(d);
    },
    stop: () => started && bar.stop(),
  };
}

interface EvalCliOptions {
  data?: string;
  pad?: string;
  threshold?: string;
  trackScore?: string;
  videoFps?: string;
  embedder: string;
  tier: string;
  liveness: boolean;
  json?: boolean;
  pairs?: string;
  plot?: string;
  writeThresholds?: boolean;
  ep: ExecutionProvider;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('accuracy gauge: enroll the first photo of each person in DIR, query the rest, masked probes, real masked strangers, mask classifier, liveness; or a pair-list protocol with --pairs')
    .option('--data <dir>', 'a folder laid out like ../shared/data (labels.csv), or the photo folder a --pairs list refers to')
    .option('--pad <dir>', 'presentation-attack detection instead: DIR/labels.csv names photos and videos with file,label (live/spoof),attack (none/print/replay/...)[,context]; prints APCER per attack type, BPCER, ACER (ISO/IEC 30107-3)')
    .option('--threshold <t>', "with --pad: liveness score at and above which a presentation counts as live (default: the liveness models' calibrated threshold)")
    .option('--track-score <rule>', 'with --pad: how a video\'s deciding track is scored: median (default: the rule the pipeline decides by), mean, trimmed-mean, min (all frames of the track), best-shot (mean of the embedded frames only)')
    .option('--video-fps <n>', 'with --pad: frames per second taken from videos (default 10)')
    .option('--embedder <names>', 'embedder model(s), comma-separated, or "all"', DEFAULT_EMBEDDER)
    .option('--tier <tier>', 'detector tier', '2.5g')
    .option('--pairs <file>', 'pair list: LFW pairs.txt (10-fold header or plain) or JSON [{a, b, same, fold}]; prints 10-fold accuracy, TAR@FAR, EER')
    .option('--plot <file>', 'write ROC curves (genuine vs impostor, plain and masked) as a PNG; with several embedders the name is added to FILE')
    .option('--write-thresholds', `write the recommended thresholds to the local calibration file (${calibrationPath()}, or FACEGATE_CALIBRATION); with --pad: the liveness threshold at BPCER 5%; the shipped manifest is never changed`)
    .option('--no-liveness', 'skip the liveness pass rate')
    .option('--json', 'print one JSON object per embedder')
    .option('--ep <name>', 'execution provider for every model: cpu, webgpu, cuda, tensorrt (falls back to cpu with a warning)', executionProviderArg, 'cpu')
    .action(async (opts: EvalCliOptions) => {
      if (opts.pad !== undefined) {
        if (opts.data !== undefined || opts.pairs !== undefined) throw new FacegateError('BAD_ARGUMENT', '--pad runs on its own: leave out --data and --pairs', { hint: 'facegate eval --pad DIR [--json] [--plot FILE] [--threshold T] [--write-thresholds]' });
        await runPadEval({ pad: opts.pad, tier: opts.tier, threshold: opts.threshold, trackScore: opts.trackScore, videoFps: opts.videoFps, json: opts.json, plot: opts.plot, writeThresholds: opts.writeThresholds, ep: opts.ep });
        return;
      }
      if (opts.data === undefined) throw new FacegateError('BAD_ARGUMENT', 'eval needs --data DIR (recognition) or --pad DIR (presentation attacks)', { hint: 'facegate eval --data ../shared/data, or facegate eval --pad ../shared/data/spoof' });
      const all = opts.embedder === 'all';
      const names = all ? loadManifest().models.filter((m) => m.role === 'embedder').map((m) => m.name) : opts.embedder.split(',').map((s) => s.trim()).filter(Boolean);
      if (!names.length) throw new FacegateError('BAD_ARGUMENT', '--embedder names no model', { hint: 'give model names from `facegate models list`, comma-separated, or "all"' });
      const dataDir = resolve(opts.data);
      const pairs = opts.pairs ? parsePairs(readFileSync(resolve(opts.pairs), 'utf8'), opts.pairs) : undefined;
      if (opts.pairs && opts.writeThresholds) throw new FacegateError('BAD_ARGUMENT', '--write-thresholds calibrates on a labelled data folder, not on a pair list', { hint: 'run it without --pairs, on --data laid out like ../shared/data' });
      const detector: Detector = await createDetector({ tier: opts.tier, size: 640, padRetry: true, executionProvider: opts.ep });
      const mask = pairs ? undefined : await createMaskClassifier(undefined, { executionProvider: opts.ep });
      const liveness = !pairs && opts.liveness ? await createLiveness(undefined, { executionProvider: opts.ep }) : undefined;
      // Detections are shared between embedders of one run (one detection per photo, not one per
      // embedder); with a single embedder nothing is kept, so 5,000 photos do not hold 5,000 crops.
      const photos: PhotoCache | undefined = names.length > 1 ? new Map() : undefined;
      const reports: EvalReport[] = [];
      const calibrations: Record<string, CalibrationEntry> = {};
      try {
        for (const name of names) {
          let embedder: Embedder;
          try {
            embedder = await createEmbedder(name, { executionProvider: opts.ep });
          } catch (e) {
            if (!all) throw e;
            process.stderr.write(`skipping ${name}: ${(e as Error).message}\n`);
            continue;
          }
          const bar = progressBar(name);
          try {
            if (pairs) {
              const { report, scores } = await evaluatePairs(pairs, dataDir, { detector, embedder }, { onProgress: bar.update, photos }).finally(bar.stop);
              process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatPairsReport(report)}\n`);
              if (opts.plot) {
                const file = plotPathFor(opts.plot, name, names.length > 1);
                await writeRocPng(file, [{ label: 'pairs', colour: '#1f77b4', ...scores }], { title: `${name}: ${basename(opts.pairs ?? '')}` });
                process.stderr.write(`ROC curve written to ${file}\n`);
              }
              continue;
            }
            const { report, scores } = await evaluateWithScores(dataDir, { detector, embedder, mask, liveness }, { onProgress: bar.update, photos }).finally(bar.stop);
            reports.push(report);
            process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
            if (opts.plot) {
              const file = plotPathFor(opts.plot, name, names.length > 1);
              const series: RocSeries[] = [
                { label: 'unmasked probes', colour: '#1f77b4', genuine: scores.genuine, impostor: scores.impostor },
                { label: 'masked probes', colour: '#d62728', genuine: scores.maskedGenuine, impostor: scores.maskedImpostor },
              ];
              await writeRocPng(file, series, { title: `${name} on ${basename(dataDir)}` });
              process.stderr.write(`ROC curves written to ${file}\n`);
            }
            if (opts.writeThresholds) {
              const resolved = await resolveModel(name);
              calibrations[name] = {
                unmasked: report.recommended.unmasked,
                masked: report.recommended.masked,
                source: `facegate eval --data ${dataDir}: unmasked at FAR ${report.tar_at_far[report.tar_at_far.length - 1].farUsed.toExponential(1)} over ${report.impostorPairs} impostor pairs; masked over synthetic-masked impostors and ${report.masked.realMaskedStrangers} real masked strangers (0 accepted)`,
                writtenAt: new Date().toISOString(),
                modelSha256: resolved.sha256,
              };
            }
          } finally {
            await embedder.close();
          }
        }
      } finally {
        await detector.close();
        await mask?.close();
        await liveness?.close();
      }
      if (!opts.json && reports.length > 1) process.stdout.write(`\n${formatTable(reports)}\n`);
      if (opts.writeThresholds && Object.keys(calibrations).length) {
        const path = writeCalibration(calibrations);
        process.stdout.write(`thresholds for ${Object.keys(calibrations).join(', ')} written to ${path} (used before the manifest's shipped values)\n`);
      }
    });
}
