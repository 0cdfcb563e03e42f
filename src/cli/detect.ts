import { mkdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { chooseTier, createDetector, measureDetector, profileFromRows, readProfile, writeProfile, DEFAULT_PROFILE_PATH, DEFAULT_TIER_MODELS } from '../detect/index.ts';
import { FacegateError } from '../errors.ts';
import { decodeImage } from '../image/decode.ts';
import { drawFaces, writeImage } from '../image/draw.ts';
import type { Face } from '../types.ts';
import type { ExecutionProvider } from '../models/index.ts';
import { describeError, errorJson, executionProviderArg, nonNegativeInt, positiveInt, probability } from './common.ts';

interface DetectCliOptions {
  tier: string;
  size?: number;
  budgetMs?: number;
  json?: boolean;
  out?: string;
  threads: number;
  score: number;
  profile: string;
  ep: ExecutionProvider;
}

const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

/** Output shape of `--json`: one object per image, coordinates in original pixels. */
export function faceJson(f: Face): { box: number[]; score: number; landmarks: number[][] } {
  return { box: f.box.map((v) => round(v)), score: round(f.score, 4), landmarks: f.landmarks.map(([x, y]) => [round(x), round(y)]) };
}

function outPathFor(out: string, image: string, many: boolean): string {
  if (!many) return out;
  const ext = extname(out) || '.jpg';
  return join(dirname(out), `${basename(out, ext)}.${basename(image, extname(image))}${ext}`);
}

async function pickTier(opts: DetectCliOptions): Promise<{ tier: string; size: number }> {
  if (opts.tier !== 'auto') {
    if (opts.budgetMs !== undefined) throw new FacegateError('BAD_ARGUMENT', '--budget-ms only applies with --tier auto', { hint: 'drop --budget-ms, or use --tier auto' });
    return { tier: opts.tier, size: opts.size ?? 640 };
  }
  if (opts.budgetMs === undefined) throw new FacegateError('BAD_ARGUMENT', '--tier auto needs --budget-ms N (per-frame time budget)', { hint: 'e.g. --tier auto --budget-ms 50' });
  let profile = readProfile(opts.profile);
  if (!profile) {
    process.stderr.write(`no detector profile for this machine yet (${opts.profile}): measuring each tier x size once (~20 s)...\n`);
    // A blank 720p frame: run time depends on the input shape, not on its content.
    const frame = { data: new Uint8Array(1280 * 720 * 3).fill(128), width: 1280, height: 720 };
    const rows = await measureDetector(frame, { runs: 8, warmup: 2, threads: opts.threads, executionProvider: opts.ep });
    profile = profileFromRows(rows, frame, opts.threads);
    writeProfile(profile, opts.profile);
  }
  const choice = chooseTier(profile, opts.budgetMs);
  process.stderr.write(`budget ${opts.budgetMs} ms -> tier ${choice.entry.tier} at ${choice.entry.size} (measured p95 ${choice.entry.p95Ms.toFixed(1)} ms)\n`);
  return { tier: choice.entry.tier, size: choice.entry.size };
}

export async function runDetect(images: string[], opts: DetectCliOptions): Promise<number> {
  const { tier, size } = await pickTier(opts);
  const detector = await createDetector({ tier, size, threads: opts.threads, scoreThreshold: opts.score, padRetry: true, executionProvider: opts.ep });
  let failures = 0;
  try {
    for (const path of images) {
      try {
        const decoded = await decodeImage(path);
        const faces = (await detector.detect(decoded.image)).map((f) => scaleFace(f, decoded.scale));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ image: path, width: decoded.originalWidth, height: decoded.originalHeight, faces: faces.map(faceJson) })}\n`);
        } else {
          process.stdout.write(`${path}: ${faces.length} face${faces.length === 1 ? '' : 's'} (${decoded.originalWidth}x${decoded.originalHeight}, tier ${tier}@${detector.size})\n`);
          for (const f of faces) process.stdout.write(`  box [${f.box.map((v) => Math.round(v)).join(', ')}] score ${f.score.toFixed(3)}\n`);
        }
        if (opts.out) {
          const dest = outPathFor(opts.out, path, images.length > 1);
          mkdirSync(dirname(dest), { recursive: true });
          await writeImage(drawFaces(decoded.image, faces, decoded.scale), dest);
          if (!opts.json) process.stdout.write(`  annotated image: ${dest}\n`);
        }
      } catch (e) {
        failures++;
        if (opts.json) process.stdout.write(`${JSON.stringify({ image: path, error: errorJson(e) })}\n`);
        process.stderr.write(`error: ${describeError(e)}\n`);
      }
    }
  } finally {
    await detector.close();
  }
  return failures > 0 ? 1 : 0;
}

function scaleFace(f: Face, s: number): Face {
  if (s === 1) return f;
  return {
    score: f.score,
    box: [f.box[0] * s, f.box[1] * s, f.box[2] * s, f.box[3] * s],
    landmarks: f.landmarks.map(([x, y]) => [x * s, y * s] as const) as unknown as Face['landmarks'],
  };
}

export function registerDetectCommand(program: Command): void {
  program
    .command('detect')
    .description('detect faces (boxes + 5 landmarks) in images with SCRFD')
    .argument('<images...>', 'image files (JPEG, PNG, WebP, TIFF...)')
    .addOption(new Option('--tier <tier>', `detector tier: ${Object.keys(DEFAULT_TIER_MODELS).join(', ')}, a manifest tier, or auto (with --budget-ms)`).default('500m'))
    .option('--size <px>', 'detector input size (long side, multiple of 32)', positiveInt('--size'))
    .option('--budget-ms <ms>', 'per-frame time budget for --tier auto', positiveInt('--budget-ms'))
    .option('--json', 'print one JSON object per image')
    .option('--out <file>', 'write an annotated image (boxes + landmarks)')
    .option('--threads <n>', 'ORT intra-op threads (0 = all cores)', nonNegativeInt('--threads'), 0)
    .option('--score <p>', 'score threshold', probability('--score'), 0.5)
    .option('--profile <file>', 'detector timing profile for --tier auto', DEFAULT_PROFILE_PATH)
    .option('--ep <name>', 'execution provider: cpu, webgpu, cuda, tensorrt (falls back to cpu with a warning)', executionProviderArg, 'cpu')
    .action(async (images: string[], opts: DetectCliOptions) => {
      process.exitCode = await runDetect(images, opts);
    });
}
