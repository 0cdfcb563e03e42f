import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { createDetector } from '../detect/index.ts';
import { createEmbedder, createLiveness, createMaskClassifier } from '../recognize/models.ts';
import { evaluate, type EvalReport } from '../recognize/evaluate.ts';
import { loadManifest } from '../models/index.ts';

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

export function formatReport(r: EvalReport): string {
  const lines = [
    `embedder ${r.embedder}: ${r.people} people enrolled (first photo), ${r.probes} probes; ${r.genuinePairs} genuine / ${r.impostorPairs} impostor pairs`,
    `  rank-1 ${pct(r.rank1)}; EER ${pct(r.eer)}; genuine min/median ${r.genuine.min.toFixed(3)}/${r.genuine.median.toFixed(3)}; impostor p99/max ${r.impostor.p99.toFixed(3)}/${r.impostor.max.toFixed(3)}`,
    ...r.tar_at_far.map((t) => `  TAR@FAR ${t.far}${t.farUsed !== t.far ? ` (pairs allow ${t.farUsed.toExponential(1)})` : ''}: ${pct(t.tar)} at threshold ${t.threshold.toFixed(3)}`),
    `  recommended threshold (unmasked probes, plain templates): ${r.threshold.toFixed(3)}`,
    `  synthetic-masked probes: rank-1 ${pct(r.rank1_masked_plain)} with plain templates -> ${pct(r.rank1_masked)} with masked templates; genuine median ${r.masked.genuineMedianPlain.toFixed(3)} -> ${r.masked.genuineMedianWithMaskedTemplates.toFixed(3)}`,
    `  masked threshold ${r.masked.threshold.toFixed(3)} (TAR ${pct(r.masked.tar)}); real masked strangers accepted: ${r.masked.realMaskedFalseAccepts}/${r.masked.realMaskedStrangers}`,
    ...r.masked.realPairs.map((p) => `  real masked photo ${p.file} (${p.identity}): ${p.plain.toFixed(3)} plain -> ${p.withMaskedTemplates.toFixed(3)} with masked templates`),
    `  mask classifier: ${pct(r.mask_accuracy)} (${r.mask.maskedCorrect}/${r.mask.masked} masked, ${r.mask.unmaskedCorrect}/${r.mask.unmasked} unmasked at ${r.mask.threshold})`,
    ...(r.liveness ? [`  liveness pass rate on real faces: ${pct(r.liveness.passRate)} of ${r.liveness.faces} at ${r.liveness.threshold} (${pct(r.liveness.withContext.passRate)} of ${r.liveness.withContext.faces} photos with context around the face, ${pct(r.liveness.tightCrops.passRate)} of ${r.liveness.tightCrops.faces} tight crops)`] : []),
    `  embedder + align + mask: ${r.embedderRunsMs.toFixed(1)} ms per face; undetected: ${r.undetected.length ? r.undetected.join(', ') : 'none'}`,
  ];
  return lines.join('\n');
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('accuracy gauge: enroll the first photo of each person in DIR, query the rest, masked probes, mask classifier, liveness')
    .requiredOption('--data <dir>', 'a folder laid out like ../shared/data (labels.csv)')
    .option('--embedder <names>', 'embedder model(s), comma-separated, or "all"', 'mobilefacenet_paddlex_128d')
    .option('--tier <tier>', 'detector tier', '2.5g')
    .option('--no-liveness', 'skip the liveness pass rate')
    .option('--json', 'print one JSON object per embedder')
    .action(async (opts: { data: string; embedder: string; tier: string; liveness: boolean; json?: boolean }) => {
      const names = opts.embedder === 'all' ? loadManifest().models.filter((m) => m.role === 'embedder').map((m) => m.name) : opts.embedder.split(',');
      const detector = await createDetector({ tier: opts.tier, size: 640, padRetry: true });
      const mask = await createMaskClassifier();
      const liveness = opts.liveness ? await createLiveness() : undefined;
      try {
        for (const name of names) {
          let embedder;
          try {
            embedder = await createEmbedder(name);
          } catch (e) {
            if (opts.embedder !== 'all') throw e;
            process.stderr.write(`skipping ${name}: ${(e as Error).message}\n`);
            continue;
          }
          const bar = new SingleBar({ format: `${name} [{bar}] {value}/{total} images`, stream: process.stderr, noTTYOutput: false }, Presets.shades_classic);
          let started = false;
          const report = await evaluate(resolve(opts.data), { detector, embedder, mask, liveness }, {
            onProgress: (d, t) => {
              if (!process.stderr.isTTY) return;
              if (!started) {
                bar.start(t, d);
                started = true;
              } else bar.update(d);
            },
          }).finally(() => started && bar.stop());
          await embedder.close();
          process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
        }
      } finally {
        await detector.close();
        await mask.close();
        await liveness?.close();
      }
    });
}
