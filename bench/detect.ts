import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { measureDetector, profileFromRows, writeProfile, DEFAULT_PROFILE_PATH, type BenchRow } from '../src/detect/index.ts';
import { EXECUTION_PROVIDERS, SHARED_MODELS_DIR, providerMissing, type ExecutionProvider } from '../src/models/index.ts';
import { decodeImageCover } from '../src/image/decode.ts';
import { stillThroughPipeline } from '../src/ingest/index.ts';

export function formatDetectTable(rows: readonly BenchRow[]): string {
  const lines = [
    '| provider | tier | model | size | input | raw run ms (median / p95) | stage ms (median / p95) | stage / raw | pre ms | post ms | faces |',
    '|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.provider} | ${r.tier} | ${r.model} | ${r.size} | ${r.inputWidth}x${r.inputHeight} | ${r.rawMedianMs.toFixed(1)} / ${r.rawP95Ms.toFixed(1)} | ${r.stageMedianMs.toFixed(1)} / ${r.stageP95Ms.toFixed(1)} | ${(r.stageMedianMs / r.rawMedianMs).toFixed(2)} | ${r.preMedianMs.toFixed(2)} | ${r.postMedianMs.toFixed(2)} | ${r.faces} |`,
    );
  }
  return lines.join('\n');
}

/**
 * `npm run bench -- detect [--tiers 500m,2.5g] [--sizes 320,480,640] [--runs 30] [--threads N]
 * [--frame WxH] [--image PATH] [--profile PATH] [--ep cpu,webgpu,cuda,tensorrt]`: raw ORT run time
 * vs the whole detect stage, per provider x tier x size, and the machine profile that
 * `--budget-ms` picks tiers from (from the CPU rows only: the service's default provider). A
 * provider that cannot start falls back to CPU with a warning; its rows then say `cpu` and are
 * skipped as duplicates. `--gst-scale`: each frame also as a camera with `detectScale` delivers
 * it (the detector copy scaled by videoscale in GStreamer, per size): the stage then only
 * normalises; those rows are marked `+gst` in the input column and never go into the profile.
 */
export async function runDetectBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      tiers: { type: 'string', default: '500m,2.5g' },
      sizes: { type: 'string', default: '320,480,640' },
      runs: { type: 'string', default: '30' },
      threads: { type: 'string', default: '0' },
      frames: { type: 'string', default: '1280x720,640x360' },
      image: { type: 'string', default: resolve(SHARED_MODELS_DIR, '../data/groups/retinaface_test.jpg') },
      profile: { type: 'string', default: DEFAULT_PROFILE_PATH },
      ep: { type: 'string', default: 'cpu' },
      'gst-scale': { type: 'boolean', default: false },
    },
  });
  const providers = values.ep.split(',').map((p) => p.trim());
  for (const p of providers) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p)) throw new Error(`--ep: unknown provider "${p}" (expected ${EXECUTION_PROVIDERS.join(', ')})`);
  }
  const threads = Number(values.threads);
  let profileWritten = false;
  for (const spec of values.frames.split(',')) {
    const [fw, fh] = spec.split('x').map(Number);
    const frame = await decodeImageCover(values.image, fw, fh);
    process.stdout.write(`\ndetect bench: ${fw}x${fh} frame from ${values.image}, threads=${threads || 'auto'}, runs=${values.runs}\n`);
    const rows: BenchRow[] = [];
    const gstRows: (BenchRow & { gstView: string })[] = [];
    for (const ep of providers as ExecutionProvider[]) {
      const missing = providerMissing(ep);
      if (missing !== undefined) {
        process.stdout.write(`  ${ep}: not available here (${missing})\n`);
        continue;
      }
      const got = await measureDetector(frame, {
        tiers: values.tiers.split(','),
        sizes: values.sizes.split(',').map(Number),
        runs: Number(values.runs),
        threads,
        executionProvider: ep,
        onRow: (r) => process.stdout.write(`  ${r.provider} ${r.tier}@${r.size}: raw ${r.rawMedianMs.toFixed(1)} ms, stage ${r.stageMedianMs.toFixed(1)} ms (x${(r.stageMedianMs / r.rawMedianMs).toFixed(2)})\n`),
      });
      if (ep !== 'cpu' && got.every((r) => r.provider === 'cpu')) {
        process.stdout.write(`  ${ep}: not available here (fell back to cpu); its rows are left out\n`);
        continue;
      }
      rows.push(...got);
      if (values['gst-scale'] && got.length) {
        // One run per size: the copy GStreamer makes depends on the detector size.
        for (const size of values.sizes.split(',').map(Number)) {
          const viaGst = await stillThroughPipeline(frame, size);
          const scaled = await measureDetector(viaGst, {
            tiers: values.tiers.split(','),
            sizes: [size],
            runs: Number(values.runs),
            threads,
            executionProvider: ep,
            onRow: (r) => process.stdout.write(`  ${r.provider} ${r.tier}@${r.size} +gst copy ${viaGst.detectView?.width}x${viaGst.detectView?.height}: raw ${r.rawMedianMs.toFixed(1)} ms, stage ${r.stageMedianMs.toFixed(1)} ms (x${(r.stageMedianMs / r.rawMedianMs).toFixed(2)})\n`),
          });
          gstRows.push(...scaled.map((r) => ({ ...r, gstView: `${viaGst.detectView?.width}x${viaGst.detectView?.height}` })));
        }
      }
    }
    process.stdout.write(`\n${formatDetectTable(rows)}\n`);
    if (gstRows.length) {
      process.stdout.write(`\nwith the detector copy scaled in GStreamer (cameras[].detectScale):\n${formatDetectTable(gstRows.map((r) => ({ ...r, inputHeight: r.inputHeight, inputWidth: r.inputWidth, model: `${r.model} (+gst ${r.gstView})` })))}\n`);
    }
    // The profile is taken on the first (camera-sized) frame: the conservative case for budgets.
    const cpuRows = rows.filter((r) => r.provider === 'cpu');
    if (!profileWritten && cpuRows.length) {
      writeProfile(profileFromRows(cpuRows, frame, threads), values.profile);
      profileWritten = true;
    }
  }
  if (profileWritten) process.stdout.write(`\nprofile written to ${values.profile}\n`);
}
