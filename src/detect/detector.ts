import ort from 'onnxruntime-node';
import { FacegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createModelSession, findModel, loadManifest, resolveModel, type ExecutionProvider, type ModelSession, type ProviderSpec, type ModelEntry, type ResolveOptions, type SessionThread } from '../models/index.ts';
import type { Face, Landmarks, Point, RgbImage } from '../types.ts';
import { inputSizeFor, letterboxGeometry, Letterboxer, type LetterboxGeometry } from './letterbox.ts';
import { decodeScrfd, groupScrfdOutputs, type RawTensor } from './scrfd.ts';

/** Which model a tier name means when the user does not name a model. */
export const DEFAULT_TIER_MODELS: Readonly<Record<string, string>> = { '500m': 'scrfd_500m', '2.5g': 'det_2.5g' };

export interface DetectorConfig {
  /** Tier name ('500m', '2.5g', or a user-supplied tier such as '10g' from the manifest). */
  readonly tier?: string;
  /** A manifest model name; overrides `tier`. */
  readonly model?: string;
  /** Long-side input size, a multiple of 32 (320 / 480 / 640 ...). */
  readonly size?: number;
  /** 'fit' (default) trims the padding to the image's aspect; 'square' is the SCRFD reference. */
  readonly shape?: 'square' | 'fit';
  readonly scoreThreshold?: number;
  readonly nmsThreshold?: number;
  readonly maxFaces?: number;
  /**
   * When a pass finds no face, run a second pass with the image shrunk to half inside the canvas:
   * SCRFD misses faces that fill most of the frame (tight crops, a person at the door).
   */
  readonly padRetry?: boolean;
  readonly threads?: number;
  readonly executionProvider?: ProviderSpec | undefined;
  /** Where the session runs: the calling thread (default) or its own worker thread. */
  readonly sessionThread?: SessionThread | undefined;
  readonly resolve?: ResolveOptions;
  readonly logger?: Logger;
}

export interface DetectionTimings {
  /** Letterbox + normalise into the input tensor. */
  readonly preMs: number;
  /** ORT session.run. */
  readonly runMs: number;
  /** Decode + NMS + mapping back. */
  readonly postMs: number;
  readonly passes: number;
}

export interface Detection {
  readonly faces: Face[];
  readonly timings: DetectionTimings;
  readonly inputWidth: number;
  readonly inputHeight: number;
}

/**
 * What a detector takes: an image, optionally with a smaller copy of it already scaled to the
 * detector's input size (a `Frame` from a camera with `detectScale`). The copy is what the model
 * sees; faces come back in the full image's coordinates.
 */
export type DetectInput = RgbImage & { readonly detectView?: RgbImage | undefined };

/**
 * The image to run the model on, and the factors that map its coordinates back to `image`.
 * A copy is used when it is no larger than the image and has its aspect ratio (to within a pixel
 * of rounding on each side); otherwise the image itself (the letterbox resizes it in JS).
 */
export function detectionSource(image: DetectInput): { view: RgbImage; sx: number; sy: number } {
  const v = image.detectView;
  if (!v || v.width <= 0 || v.height <= 0 || v.width > image.width || v.height > image.height) return { view: image, sx: 1, sy: 1 };
  if (v.data.length < v.width * v.height * 3) return { view: image, sx: 1, sy: 1 };
  // The copy's aspect must match (one side's rounding): a 1-pixel tolerance in copy pixels.
  const expectedH = (v.width * image.height) / image.width;
  if (Math.abs(expectedH - v.height) > 1) return { view: image, sx: 1, sy: 1 };
  if (v.width === image.width && v.height === image.height) return { view: image, sx: 1, sy: 1 };
  return { view: v, sx: image.width / v.width, sy: image.height / v.height };
}

/** A face found on a scaled copy, in the full image's coordinates. */
export function scaleFaceToFull(f: Face, sx: number, sy: number, width: number, height: number): Face {
  const cx = (x: number) => Math.min(width, Math.max(0, x * sx));
  const cy = (y: number) => Math.min(height, Math.max(0, y * sy));
  return {
    box: [cx(f.box[0]), cy(f.box[1]), cx(f.box[2]), cy(f.box[3])],
    score: f.score,
    landmarks: f.landmarks.map(([x, y]): Point => [x * sx, y * sy]) as unknown as Landmarks,
  };
}

export interface Detector {
  readonly model: ModelEntry;
  readonly tier: string;
  readonly size: number;
  /** Where the session really runs (after any fallback to CPU). */
  readonly executionProvider?: ExecutionProvider;
  /** Faces in `image`'s coordinates; runs on `image.detectView` when it carries a usable one. */
  detect(image: DetectInput): Promise<Face[]>;
  detectTimed(image: DetectInput): Promise<Detection>;
  close(): Promise<void>;
}

function modelForTier(tier: string): string {
  const named = DEFAULT_TIER_MODELS[tier];
  if (named) return named;
  const entry = loadManifest().models.find((m) => m.role === 'detector' && m.tier === tier);
  if (!entry) {
    const tiers = [...new Set(loadManifest().models.filter((m) => m.role === 'detector').map((m) => m.tier))].join(', ');
    throw new FacegateError('MODEL_UNKNOWN', `no detector model for tier "${tier}"`, { context: { tier }, hint: `known tiers: ${tiers}; add a user-supplied SCRFD model with FACEGATE_MODELS_MANIFEST` });
  }
  return entry.name;
}

const now = (): number => performance.now();

class ScrfdDetector implements Detector {
  private readonly letterboxer: Letterboxer;
  private readonly retryLetterboxer: Letterboxer;
  private busy: Promise<unknown> = Promise.resolve();
  readonly executionProvider: ExecutionProvider;

  constructor(
    readonly model: ModelEntry,
    readonly tier: string,
    readonly size: number,
    private readonly session: ModelSession,
    private readonly cfg: Required<Pick<DetectorConfig, 'scoreThreshold' | 'nmsThreshold' | 'shape' | 'padRetry' | 'maxFaces'>>,
  ) {
    const norm = { mean: model.input.mean, std: model.input.std };
    this.letterboxer = new Letterboxer(norm);
    this.retryLetterboxer = new Letterboxer(norm);
    this.executionProvider = session.executionProvider;
  }

  async detect(image: DetectInput): Promise<Face[]> {
    return (await this.detectTimed(image)).faces;
  }

  /**
   * Runs are serialised per detector: the input tensor is reused between calls, and ORT gains
   * nothing from two concurrent runs of one session on a small CPU.
   */
  detectTimed(image: DetectInput): Promise<Detection> {
    const run = this.busy.then(() => this.detectNow(image));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async pass(image: RgbImage, g: LetterboxGeometry, lb: Letterboxer): Promise<{ faces: Face[]; preMs: number; runMs: number; postMs: number }> {
    const t0 = now();
    const data = lb.fill(image, g);
    const input = new ort.Tensor('float32', data, [1, 3, g.inputHeight, g.inputWidth]);
    const t1 = now();
    const out = await this.session.run({ [this.model.input.name]: input });
    const t2 = now();
    const raw: RawTensor[] = this.session.outputNames.map((name) => {
      const t = out[name];
      return { name, dims: t.dims, data: t.data as Float32Array };
    });
    const levels = groupScrfdOutputs(raw, g.inputWidth, g.inputHeight);
    const faces = decodeScrfd(levels, g, { scoreThreshold: this.cfg.scoreThreshold, nmsThreshold: this.cfg.nmsThreshold, maxFaces: this.cfg.maxFaces });
    for (const t of Object.values(out)) t.dispose();
    return { faces, preMs: t1 - t0, runMs: t2 - t1, postMs: now() - t2 };
  }

  private async detectNow(full: DetectInput): Promise<Detection> {
    const { view: image, sx, sy } = detectionSource(full);
    const fixed = this.model.input.fixedSize;
    const { width, height } = fixed ? { width: fixed, height: fixed } : inputSizeFor(image.width, image.height, this.size, this.cfg.shape);
    const g = letterboxGeometry(image.width, image.height, width, height);
    const first = await this.pass(image, g, this.letterboxer);
    let { faces, preMs, runMs, postMs } = first;
    let passes = 1;
    if (faces.length === 0 && this.cfg.padRetry) {
      // Square canvas for the retry: a tight crop shrunk to half needs room on both axes.
      const side = fixed ?? this.size;
      const retry = await this.pass(image, letterboxGeometry(image.width, image.height, side, side, 2), this.retryLetterboxer);
      faces = retry.faces;
      preMs += retry.preMs;
      runMs += retry.runMs;
      postMs += retry.postMs;
      passes = 2;
    }
    if (image !== full) {
      const t = now();
      faces = faces.map((f) => scaleFaceToFull(f, sx, sy, full.width, full.height));
      postMs += now() - t;
    }
    return { faces, timings: { preMs, runMs, postMs, passes }, inputWidth: width, inputHeight: height };
  }

  async close(): Promise<void> {
    await this.busy;
    await this.session.release();
  }
}

/** Resolve, verify and load an SCRFD detector. */
export async function createDetector(cfg: DetectorConfig = {}): Promise<Detector> {
  const name = cfg.model ?? modelForTier(cfg.tier ?? '500m');
  const entry = findModel(loadManifest(), name);
  if (entry.role !== 'detector' || entry.output.kind !== 'scrfd') {
    throw new FacegateError('MODEL_INVALID', `model "${name}" is a ${entry.role}, not an SCRFD detector`, { context: { model: name }, hint: 'pick a model whose role is detector' });
  }
  const size = entry.input.fixedSize ?? cfg.size ?? 640;
  if (size % 32 !== 0 || size < 64 || size > 2048) {
    throw new FacegateError('BAD_ARGUMENT', `detector input size ${size} is not a multiple of 32 between 64 and 2048`, { context: { size }, hint: 'use 320, 480, 640, 800...' });
  }
  if (entry.input.fixedSize && cfg.size && cfg.size !== entry.input.fixedSize) {
    cfg.logger?.warn({ model: name, requested: cfg.size, fixed: entry.input.fixedSize }, 'model has a fixed input size; using it');
  }
  const resolved = await resolveModel(name, cfg.resolve);
  const session = await createModelSession(resolved, { threads: cfg.threads, executionProvider: cfg.executionProvider, logger: cfg.logger, thread: cfg.sessionThread });
  return new ScrfdDetector(entry, entry.tier ?? cfg.tier ?? 'custom', size, session, {
    scoreThreshold: cfg.scoreThreshold ?? 0.5,
    nmsThreshold: cfg.nmsThreshold ?? 0.4,
    shape: cfg.shape ?? 'fit',
    padRetry: cfg.padRetry ?? false,
    maxFaces: cfg.maxFaces ?? 0,
  });
}
