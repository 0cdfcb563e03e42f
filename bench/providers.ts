/**
 * `npm run bench -- providers [--ep cpu,webgpu,cuda,tensorrt] (default cpu,webgpu,cuda: a provider that cannot start is a row with its reason) [--runs 20] [--threads 0] [--data DIR] [--json]`:
 * every recognition-path model on every execution provider asked for, against the CPU provider in
 * the same run, on real photos:
 *   - agreement: faces found, worst box IoU and landmark distance (SCRFD 500m and 2.5g at 640),
 *     worst embedding cosine (the default embedder) and mask-probability difference, each model
 *     fed the same aligned crop (the CPU landmarks) so only the provider differs;
 *   - speed: median / p95 of the whole detect stage, one embedding and one mask run, with the
 *     ratio to CPU.
 * Sessions on a non-CPU provider are opened with `required: true`: a provider that cannot start
 * is reported with its reason and left out, never measured as a silent CPU fallback. This is the
 * recognition half of scripts/gpu-check.sh (the detect bench is the other).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_EMBEDDER } from '../src/config/index.ts';
import { createDetector, maxLandmarkDistance, pairFacesByIou, type Detector } from '../src/detect/index.ts';
import { median, quantile } from '../src/lib/stats.ts';
import { errorMessage } from '../src/errors.ts';
import { dot, l2normalize } from '../src/lib/vectors.ts';
import { decodeImage } from '../src/image/decode.ts';
import { EXECUTION_PROVIDERS, SHARED_MODELS_DIR, type ExecutionProvider } from '../src/models/index.ts';
import { alignFace, createEmbedder, createMaskClassifier, type Embedder, type MaskClassifier } from '../src/recognize/index.ts';
import type { RgbImage } from '../src/types.ts';

/** Real photos from ../shared/data: a group, a portrait, a masked face, a crowd. */
export const PROVIDER_PHOTOS = [
  'groups/faceapi_bbt4.jpg',
  'identities/deepface/jennifer/img53.jpg',
  'identities/easyface/easyface_person_1/mask_face_recognition_2.jpg',
  'groups/retinaface_test.jpg',
] as const;

const TIERS = ['500m', '2.5g'] as const;

interface Models {
  readonly detectors: ReadonlyMap<string, Detector>;
  readonly embedder: Embedder;
  readonly mask: MaskClassifier;
  /** Set when the mask classifier could not run on the provider and runs on CPU instead. */
  readonly maskOnCpu?: string;
}

export interface ProviderTimings {
  /** tier -> whole detect stage (letterbox + run + decode) on the crowd photo, ms. */
  readonly detect: Record<string, Timing>;
  readonly embed: Timing;
  readonly mask: Timing;
}

export interface ProviderRow {
  readonly provider: ExecutionProvider;
  /** Why the mask classifier ran on CPU in this row. */
  readonly maskOnCpu?: string;
  /** Why the provider did not run (its rows are then absent). */
  readonly unavailable?: string;
  readonly timings?: ProviderTimings;
  /** Against CPU (absent for the CPU row). */
  readonly agreement?: {
    readonly faces: number;
    readonly sameCounts: boolean;
    readonly worstIou: number;
    readonly worstLandmarkPx: number;
    readonly worstCosine: number;
    readonly worstMaskDiff: number;
  };
}

async function openModels(ep: ExecutionProvider, threads: number): Promise<Models> {
  const spec = ep === 'cpu' ? 'cpu' : { name: ep, required: true };
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const detectors = new Map<string, Detector>();
    for (const tier of TIERS) {
      const d = await createDetector({ tier, size: 640, threads, executionProvider: spec });
      opened.push(d);
      detectors.set(tier, d);
    }
    const embedder = await createEmbedder(DEFAULT_EMBEDDER, { threads, executionProvider: spec });
    opened.push(embedder);
    // The mask classifier is tiny (a fraction of a ms on CPU): where a provider cannot run it the
    // service runs it on CPU (one warning), so the bench does too and says so.
    let maskOnCpu: string | undefined;
    const mask = await createMaskClassifier(undefined, { threads, executionProvider: spec }).catch(async (e: unknown) => {
      if (ep === 'cpu') throw e;
      maskOnCpu = errorMessage(e);
      return createMaskClassifier(undefined, { threads, executionProvider: 'cpu' });
    });
    opened.push(mask);
    return { detectors, embedder, mask, ...(maskOnCpu !== undefined ? { maskOnCpu } : {}) };
  } catch (e) {
    await Promise.allSettled(opened.map((m) => m.close()));
    throw e;
  }
}

async function closeModels(m: Models): Promise<void> {
  await Promise.allSettled([...[...m.detectors.values()].map((d) => d.close()), m.embedder.close(), m.mask.close()]);
}

interface Timing {
  readonly medianMs: number;
  readonly p95Ms: number;
  /** Process CPU time (every thread: ORT's pool, Dawn's) per call: what a GPU saves the host. */
  readonly cpuMs: number;
}

async function timeIt(runs: number, warmup: number, fn: () => Promise<unknown>): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  ms.sort((a, b) => a - b);
  return { medianMs: median(ms), p95Ms: quantile(ms, 0.95), cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

async function measure(m: Models, crowd: RgbImage, crop: RgbImage, runs: number): Promise<ProviderTimings> {
  const detect: Record<string, Timing> = {};
  // GPU providers compile their kernels on the first runs: 5 warm-ups before timing.
  for (const [tier, d] of m.detectors) detect[tier] = await timeIt(runs, 5, () => d.detect(crowd));
  return {
    detect,
    embed: await timeIt(runs, 5, () => m.embedder.embed(crop)),
    mask: await timeIt(runs, 5, () => m.mask.maskProbability(crop)),
  };
}

const cosine = (a: Float32Array, b: Float32Array): number => dot(l2normalize(a), l2normalize(b));

async function agreement(cpu: Models, other: Models, photos: readonly RgbImage[]): Promise<NonNullable<ProviderRow['agreement']>> {
  let faces = 0;
  let sameCounts = true;
  let worstIou = 1;
  let worstLandmarkPx = 0;
  let worstCosine = 1;
  let worstMaskDiff = 0;
  for (const image of photos) {
    for (const tier of TIERS) {
      const a = await cpu.detectors.get(tier)!.detect(image);
      const b = await other.detectors.get(tier)!.detect(image);
      if (a.length !== b.length) sameCounts = false;
      for (const p of pairFacesByIou(a, b)) {
        faces++;
        worstIou = Math.min(worstIou, p.iou);
        if (!p.b) continue;
        worstLandmarkPx = Math.max(worstLandmarkPx, maxLandmarkDistance(p.a, p.b));
        if (tier !== '2.5g') continue; // embed each face once (the service's default tier's faces)
        const { crop } = alignFace(image, p.a.landmarks);
        worstCosine = Math.min(worstCosine, cosine(await cpu.embedder.embed(crop), await other.embedder.embed(crop)));
        worstMaskDiff = Math.max(worstMaskDiff, Math.abs((await cpu.mask.maskProbability(crop)) - (await other.mask.maskProbability(crop))));
      }
    }
  }
  return { faces, sameCounts, worstIou, worstLandmarkPx, worstCosine, worstMaskDiff };
}

export function formatProviderTables(rows: readonly ProviderRow[]): string {
  const cpu = rows.find((r) => r.provider === 'cpu')?.timings;
  const ratio = (v: number, base: number | undefined): string => (base ? `${(v / base).toFixed(2)}x` : '');
  const speed = [
    '| provider | detect 500m@640 ms (median / p95; CPU ms) | vs cpu | detect 2.5g@640 ms | vs cpu | embed ms | vs cpu | mask ms (* on cpu) | vs cpu |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const agree = ['| provider | faces compared | same counts | worst box IoU | worst landmark px | worst embedding cosine | worst mask diff |', '|---|---:|---|---:|---:|---:|---:|'];
  const out: string[] = [];
  for (const r of rows) {
    if (r.unavailable !== undefined) {
      out.push(`${r.provider}: not measured: ${r.unavailable}`);
      continue;
    }
    const t = r.timings!;
    const d5 = t.detect['500m']!;
    const d25 = t.detect['2.5g']!;
    const cell = (x: Timing): string => `${x.medianMs.toFixed(2)} / ${x.p95Ms.toFixed(2)}; ${x.cpuMs.toFixed(1)}`;
    speed.push(
      `| ${r.provider} | ${cell(d5)} | ${ratio(d5.medianMs, cpu?.detect['500m']?.medianMs)} | ${cell(d25)} | ${ratio(d25.medianMs, cpu?.detect['2.5g']?.medianMs)} | ${cell(t.embed)} | ${ratio(t.embed.medianMs, cpu?.embed.medianMs)} | ${cell(t.mask)}${r.maskOnCpu !== undefined ? ' *' : ''} | ${ratio(t.mask.medianMs, cpu?.mask.medianMs)} |`,
    );
    if (r.maskOnCpu !== undefined) out.push(`${r.provider}: mask classifier on cpu (${r.maskOnCpu})`);
    const a = r.agreement;
    if (a) {
      agree.push(`| ${r.provider} | ${a.faces} | ${a.sameCounts ? 'yes' : 'NO'} | 1 - ${(1 - a.worstIou).toExponential(1)} | ${a.worstLandmarkPx.toExponential(1)} | 1 - ${(1 - a.worstCosine).toExponential(1)} | ${a.worstMaskDiff.toExponential(1)} |`);
    }
  }
  return [...out, '', 'speed (wall ms median / p95; process CPU ms per call, all threads; the crowd photo for detect, one aligned 112x112 crop for embed / mask; "vs cpu" compares wall medians):', ...speed, '', 'agreement with cpu on the same inputs:', ...(agree.length > 2 ? agree : ['(no provider besides cpu ran)'])].join('\n');
}

export async function runProvidersBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ep: { type: 'string', default: 'cpu,webgpu,cuda' },
      runs: { type: 'string', default: '20' },
      // 0 = every core (what a GPU is compared against); the service's own default is 1 per session.
      threads: { type: 'string', default: '0' },
      data: { type: 'string', default: process.env.FACEGATE_DATA_DIR ?? resolve(SHARED_MODELS_DIR, '../data') },
      json: { type: 'boolean', default: false },
    },
  });
  const asked = values.ep.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of asked) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p)) throw new Error(`--ep: unknown provider "${p}" (expected ${EXECUTION_PROVIDERS.join(', ')})`);
  }
  const providers = ['cpu', ...asked.filter((p) => p !== 'cpu')] as ExecutionProvider[];
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`--threads: expected a whole number >= 0 (0 = every core), got "${values.threads}"`);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a whole number >= 1, got "${values.runs}"`);
  const paths = PROVIDER_PHOTOS.map((p) => resolve(values.data, p));
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`providers bench: photos not found: ${missing.join(', ')} (set --data or FACEGATE_DATA_DIR to the shared data folder)`);
  const photos = await Promise.all(paths.map(async (p) => (await decodeImage(p)).image));
  const crowd = photos[photos.length - 1]!;

  const cpu = await openModels('cpu', threads);
  const cpuFaces = await cpu.detectors.get('2.5g')!.detect(photos[1]!);
  if (!cpuFaces[0]) throw new Error(`providers bench: no face in ${paths[1]}`);
  const crop = alignFace(photos[1]!, cpuFaces[0].landmarks).crop;
  const rows: ProviderRow[] = [];
  const log = (s: string): void => void (values.json ? process.stderr : process.stdout).write(`${s}\n`);
  log(`providers bench: ${providers.join(', ')}; ${photos.length} photos from ${values.data}; ${runs} timed runs each; CPU intra-op threads ${threads || 'all cores'}`);
  try {
    for (const ep of providers) {
      let models: Models;
      if (ep === 'cpu') models = cpu;
      else {
        const t0 = performance.now();
        try {
          models = await openModels(ep, threads);
        } catch (e) {
          rows.push({ provider: ep, unavailable: errorMessage(e) });
          log(`  ${ep}: not available: ${errorMessage(e)}`);
          continue;
        }
        log(`  ${ep}: sessions opened in ${(performance.now() - t0).toFixed(0)} ms`);
      }
      try {
        const agree = ep === 'cpu' ? undefined : await agreement(cpu, models, photos);
        const timings = await measure(models, crowd, crop, runs);
        rows.push({ provider: ep, timings, ...(agree ? { agreement: agree } : {}), ...(models.maskOnCpu !== undefined ? { maskOnCpu: models.maskOnCpu } : {}) });
        if (models.maskOnCpu !== undefined) log(`  ${ep}: the mask classifier runs on cpu: ${models.maskOnCpu}`);
        log(`  ${ep}: detect 500m ${timings.detect['500m']!.medianMs.toFixed(2)} ms, 2.5g ${timings.detect['2.5g']!.medianMs.toFixed(2)} ms, embed ${timings.embed.medianMs.toFixed(2)} ms, mask ${timings.mask.medianMs.toFixed(2)} ms`);
      } finally {
        if (models !== cpu) await closeModels(models);
      }
    }
  } finally {
    await closeModels(cpu);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ photos: PROVIDER_PHOTOS, runs, threads, rows }, null, 2)}\n`);
  else process.stdout.write(`\n${formatProviderTables(rows)}\n`);
}
