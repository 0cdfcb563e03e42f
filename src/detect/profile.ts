import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname } from 'node:path';
import ort from 'onnxruntime-node';
import { FacegateError } from '../errors.ts';
import { projectPath } from '../paths.ts';
import { createSession, findModel, loadManifest, resolveModel, sessionProvider, type ExecutionProvider, type ProviderSpec } from '../models/index.ts';
import type { RgbImage } from '../types.ts';
import { createDetector, DEFAULT_TIER_MODELS, type DetectInput } from './detector.ts';
import { inputSizeFor } from './letterbox.ts';
import { median, quantile } from '../lib/stats.ts';
import { parseProfile, type DetectProfile, type ProfileEntry } from './tiers.ts';

// The project's .facegate/, from src/ and dist/src/ alike (a path relative to this module would
// point into dist/ for the compiled build, so the two would measure and read different profiles).
export const DEFAULT_PROFILE_PATH = projectPath('.facegate', 'detect-profile.json');

export interface MeasureOptions {
  readonly tiers?: readonly string[];
  readonly sizes?: readonly number[];
  readonly runs?: number;
  readonly warmup?: number;
  readonly threads?: number;
  readonly executionProvider?: ProviderSpec | undefined;
  /** Called after each tier x size with its row, for progress output. */
  readonly onRow?: (row: BenchRow) => void;
}

/** One measured tier x size: raw ORT run time next to the whole stage on the same input. */
export interface BenchRow {
  readonly tier: string;
  readonly model: string;
  readonly size: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly rawMedianMs: number;
  readonly rawP95Ms: number;
  readonly stageMedianMs: number;
  readonly stageP95Ms: number;
  readonly preMedianMs: number;
  readonly postMedianMs: number;
  readonly faces: number;
  /** The execution provider the sessions really ran on (after any fallback to CPU). */
  readonly provider: ExecutionProvider;
}

/**
 * Measure each tier x size on `frame`: the raw `session.run` on a ready tensor of the same shape
 * (its own session, so nothing of the stage leaks into it) interleaved run by run with the whole
 * stage (decoded image -> faces), so machine noise hits both alike. A frame with a `detectView`
 * (scaled in GStreamer) is measured the way the service runs it: the stage on the copy.
 */
export async function measureDetector(frame: DetectInput, opts: MeasureOptions = {}): Promise<BenchRow[]> {
  const tiers = opts.tiers ?? Object.keys(DEFAULT_TIER_MODELS);
  const sizes = opts.sizes ?? [320, 480, 640];
  const runs = opts.runs ?? 30;
  const warmup = opts.warmup ?? 5;
  const rows: BenchRow[] = [];
  for (const tier of tiers) {
    const modelName = DEFAULT_TIER_MODELS[tier] ?? loadManifest().models.find((m) => m.role === 'detector' && m.tier === tier)?.name;
    if (!modelName) throw new FacegateError('MODEL_UNKNOWN', `no detector for tier "${tier}"`, { context: { tier }, hint: 'use 500m or 2.5g, or add a model to the manifest' });
    const entry = findModel(loadManifest(), modelName);
    const resolved = await resolveModel(modelName);
    const raw = await createSession(resolved, { threads: opts.threads, executionProvider: opts.executionProvider });
    for (const size of entry.input.fixedSize ? [entry.input.fixedSize] : sizes) {
      const det = await createDetector({ model: modelName, size, threads: opts.threads, executionProvider: opts.executionProvider });
      const { width, height } = entry.input.fixedSize ? { width: size, height: size } : inputSizeFor(frame.width, frame.height, size, 'fit');
      const tensor = new ort.Tensor('float32', new Float32Array(3 * width * height).fill(-0.5), [1, 3, height, width]);
      const rawMs: number[] = [];
      const stageMs: number[] = [];
      const preMs: number[] = [];
      const postMs: number[] = [];
      let faces = 0;
      for (let i = 0; i < warmup + runs; i++) {
        const t0 = performance.now();
        const out = await raw.run({ [entry.input.name]: tensor });
        const t1 = performance.now();
        for (const t of Object.values(out)) t.dispose();
        const t2 = performance.now();
        const d = await det.detectTimed(frame);
        const t3 = performance.now();
        if (i < warmup) continue;
        rawMs.push(t1 - t0);
        stageMs.push(t3 - t2);
        preMs.push(d.timings.preMs);
        postMs.push(d.timings.postMs);
        faces = d.faces.length;
      }
      await det.close();
      const row: BenchRow = {
        tier,
        model: modelName,
        size,
        inputWidth: width,
        inputHeight: height,
        rawMedianMs: median(rawMs),
        rawP95Ms: quantile(rawMs, 0.95),
        stageMedianMs: median(stageMs),
        stageP95Ms: quantile(stageMs, 0.95),
        preMedianMs: median(preMs),
        postMedianMs: median(postMs),
        faces,
        provider: sessionProvider(raw),
      };
      rows.push(row);
      opts.onRow?.(row);
    }
    await raw.release();
  }
  return rows;
}

export function profileFromRows(rows: readonly BenchRow[], frame: RgbImage, threads: number): DetectProfile {
  const manifest = loadManifest();
  const entries: ProfileEntry[] = rows.map((r) => ({
    tier: r.tier,
    model: r.model,
    size: r.size,
    medianMs: r.stageMedianMs,
    p95Ms: r.stageP95Ms,
    apHard: findModel(manifest, r.model).accuracy?.wider_face_hard_ap ?? 0,
  }));
  return {
    version: 1,
    createdAt: new Date().toISOString(),
    machine: `${hostname()} ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}`,
    threads,
    frameWidth: frame.width,
    frameHeight: frame.height,
    entries,
  };
}

export function writeProfile(profile: DetectProfile, path = DEFAULT_PROFILE_PATH): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`);
  renameSync(tmp, path);
}

/** The saved profile, or undefined when this machine has not been measured yet. */
export function readProfile(path = DEFAULT_PROFILE_PATH): DetectProfile | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FacegateError('PROFILE_INVALID', `detector profile ${path} is not valid JSON`, { context: { path }, hint: 'delete it and run `npx facegate bench detect` again' });
  }
  return parseProfile(doc, path);
}
