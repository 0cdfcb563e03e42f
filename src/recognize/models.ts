import ort from 'onnxruntime-node';
import { FacegateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { calibratedLivenessThreshold, createModelSession, findModel, loadManifest, resolveModel, type ExecutionProvider, type ModelSession, type ProviderSpec, type ModelEntry, type ResolveOptions, type SessionThread } from '../models/index.ts';
import type { Box, RgbImage } from '../types.ts';
import { l2normalize } from '../lib/vectors.ts';
import { DEFAULT_LIVENESS_TRACK, type LivenessTrackOptions } from './liveness-track.ts';
import { cropToTensor, softmax } from './tensor.ts';

export interface RecognitionModelOptions {
  readonly threads?: number;
  readonly executionProvider?: ProviderSpec | undefined;
  /** Where the sessions run: the calling thread (default) or their own worker threads. */
  readonly sessionThread?: SessionThread | undefined;
  readonly resolve?: ResolveOptions;
  readonly logger?: Logger;
}

async function load(name: string, role: ModelEntry['role'], opts: RecognitionModelOptions): Promise<{ entry: ModelEntry; session: ModelSession }> {
  const entry = findModel(loadManifest(), name);
  if (entry.role !== role) {
    throw new FacegateError('MODEL_INVALID', `model "${name}" is a ${entry.role}, not a ${role}`, { context: { model: name }, hint: `pick a model whose role is ${role} (see \`facegate models list\`)` });
  }
  const resolved = await resolveModel(name, opts.resolve);
  const session = await createModelSession(resolved, { threads: opts.threads, executionProvider: opts.executionProvider, logger: opts.logger, thread: opts.sessionThread });
  return { entry, session };
}

/** Runs of one session are serialised: the sessions are shared by every camera. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * An ArcFace-style embedder: aligned 112x112 crop -> L2-normalised embedding. The manifest entry
 * carries channel order and normalisation (PaddleX MobileFaceNet wants BGR /127.5, foamliu RGB /128,
 * InsightFace w600k RGB /127.5), so any 112x112 ArcFace ONNX works by adding a manifest entry.
 */
export interface Embedder {
  /** The manifest name: templates are tagged with it so a model change forces re-embedding. */
  readonly modelId: string;
  readonly dim: number;
  /** Where the session really runs (after any fallback to CPU). */
  readonly executionProvider?: ExecutionProvider;
  embed(aligned: RgbImage): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function createEmbedder(name: string, opts: RecognitionModelOptions = {}): Promise<Embedder> {
  const { entry, session } = await load(name, 'embedder', opts);
  if (entry.output.kind !== 'embedding') throw new FacegateError('MODEL_INVALID', `model "${name}" has no embedding output`, { context: { model: name }, hint: 'fix its manifest entry' });
  const size = entry.input.fixedSize ?? 112;
  const dim = entry.output.dim;
  const serial = new Serial();
  const tensor = new Float32Array(3 * size * size);
  return {
    modelId: entry.name,
    dim,
    executionProvider: session.executionProvider,
    embed: (aligned) =>
      serial.run(async () => {
        if (aligned.width !== size || aligned.height !== size) throw new RangeError(`embedder ${name} needs a ${size}x${size} aligned crop, got ${aligned.width}x${aligned.height}`);
        cropToTensor(aligned, entry.input, tensor);
        const out = await session.run({ [entry.input.name]: new ort.Tensor('float32', tensor, [1, 3, size, size]) });
        const raw = out[session.outputNames[0]].data as Float32Array;
        if (raw.length !== dim) throw new FacegateError('MODEL_INVALID', `embedder ${name} returned ${raw.length} values, manifest says ${dim}`, { context: { model: name }, hint: 'fix output.dim in the manifest' });
        return l2normalize(raw);
      }),
    close: () => serial.run(() => session.release()),
  };
}

/** Mask attribute from the aligned crop: probability that nose and mouth are covered. */
export interface MaskClassifier {
  readonly modelId: string;
  maskProbability(aligned: RgbImage): Promise<number>;
  close(): Promise<void>;
}

export async function createMaskClassifier(name = 'seetaface6_mask', opts: RecognitionModelOptions = {}): Promise<MaskClassifier> {
  const { entry, session } = await load(name, 'mask', opts);
  if (entry.output.kind !== 'mask') throw new FacegateError('MODEL_INVALID', `model "${name}" has no mask output`, { context: { model: name }, hint: 'fix its manifest entry' });
  const maskIndex = entry.output.maskIndex;
  const size = entry.input.fixedSize ?? 112;
  const serial = new Serial();
  const tensor = new Float32Array(3 * size * size);
  return {
    modelId: entry.name,
    // SeetaFace6's converted classifier wants BGR, raw 0-255 (mean 0, std 1 in the manifest);
    // any normalisation makes it say "mask" for everything (measured, ../shared/NOTES.md).
    maskProbability: (aligned) =>
      serial.run(async () => {
        cropToTensor(aligned, entry.input, tensor);
        const out = await session.run({ [entry.input.name]: new ort.Tensor('float32', tensor, [1, 3, size, size]) });
        const probs = out[session.outputNames[0]].data as Float32Array;
        return probs[maskIndex];
      }),
    close: () => serial.run(() => session.release()),
  };
}

/**
 * How the context crop is taken when the face is near the frame's edge:
 * - `shrink`: Silent-Face-Anti-Spoofing's `_get_new_box`: the scale shrinks until the box fits the
 *   frame, then the box is shifted inside it (the face is no longer centred, the context smaller);
 * - `pad-edge` / `pad-black`: the box keeps its scale and centre; what falls outside the frame is
 *   filled with the nearest edge pixel or with black.
 */
export type LivenessCropMode = 'shrink' | 'pad-edge' | 'pad-black';

/**
 * The crop MiniFASNet was trained on: the face box scaled by `scale` around its centre. `shrink`
 * (the reference) shrinks it if it would leave the frame, then shifts it inside; the pad modes
 * return the full-scale box, which may reach outside the frame.
 */
export function livenessCropBox(box: Box, frameWidth: number, frameHeight: number, scale: number, mode: LivenessCropMode = 'shrink'): Box {
  const bw = box[2] - box[0];
  const bh = box[3] - box[1];
  const s = mode === 'shrink' ? Math.min((frameHeight - 1) / bh, (frameWidth - 1) / bw, scale) : scale;
  const nw = bw * s;
  const nh = bh * s;
  const cx = box[0] + bw / 2;
  const cy = box[1] + bh / 2;
  let x1 = cx - nw / 2;
  let y1 = cy - nh / 2;
  let x2 = cx + nw / 2;
  let y2 = cy + nh / 2;
  if (mode !== 'shrink') return [x1, y1, x2, y2];
  if (x1 < 0) {
    x2 -= x1;
    x1 = 0;
  }
  if (y1 < 0) {
    y2 -= y1;
    y1 = 0;
  }
  if (x2 > frameWidth - 1) {
    x1 -= x2 - frameWidth + 1;
    x2 = frameWidth - 1;
  }
  if (y2 > frameHeight - 1) {
    y1 -= y2 - frameHeight + 1;
    y2 = frameHeight - 1;
  }
  return [Math.max(0, x1), Math.max(0, y1), x2, y2];
}

/**
 * Bilinear crop-and-resize of a box of the frame to size x size (cv2.resize on the crop). Samples
 * outside the frame take the nearest edge pixel, or black with `outside: 'black'`.
 */
export function cropResize(image: RgbImage, box: Box, size: number, outside: 'edge' | 'black' = 'edge'): RgbImage {
  const out = new Uint8Array(size * size * 3);
  const bw = box[2] - box[0];
  const bh = box[3] - box[1];
  const { data, width: w, height: h } = image;
  for (let v = 0; v < size; v++) {
    const yRaw = box[1] + ((v + 0.5) * bh) / size - 0.5;
    const y = Math.min(h - 1, Math.max(0, yRaw));
    const y0 = Math.floor(y);
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = y - y0;
    for (let u = 0; u < size; u++) {
      const xRaw = box[0] + ((u + 0.5) * bw) / size - 0.5;
      // Over half a pixel outside: black (the row stays zero-filled).
      if (outside === 'black' && (xRaw < -0.5 || xRaw > w - 0.5 || yRaw < -0.5 || yRaw > h - 0.5)) continue;
      const x = Math.min(w - 1, Math.max(0, xRaw));
      const x0 = Math.floor(x);
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = x - x0;
      for (let c = 0; c < 3; c++) {
        const a = data[(y0 * w + x0) * 3 + c] * (1 - fx) + data[(y0 * w + x1) * 3 + c] * fx;
        const b = data[(y1 * w + x0) * 3 + c] * (1 - fx) + data[(y1 * w + x1) * 3 + c] * fx;
        out[(v * size + u) * 3 + c] = Math.round(a + (b - a) * fy);
      }
    }
  }
  return { data: out, width: size, height: size };
}

/**
 * Anti-spoofing: mean "real" probability of the MiniFASNet ensemble on crops from the full frame,
 * with how a track's frames become one decision (`track`) and the calibrated threshold of this
 * model set (`threshold`: local calibration, else the manifest; gates may override it).
 */
export interface LivenessModel {
  /** The manifest names of the ensemble. */
  readonly models: readonly string[];
  readonly track: LivenessTrackOptions;
  readonly threshold: { readonly value: number; readonly source: string };
  realProbability(frame: RgbImage, box: Box): Promise<number>;
  close(): Promise<void>;
}

export interface LivenessOptions extends RecognitionModelOptions {
  /** How the context crop handles a face near the frame's edge (default `shrink`, the reference crop). */
  readonly crop?: LivenessCropMode;
  /** Per-track window and minimum frames (default DEFAULT_LIVENESS_TRACK). */
  readonly track?: Partial<LivenessTrackOptions> | undefined;
  /** Overrides FACEGATE_CALIBRATION / models/calibration.json for the threshold lookup. */
  readonly calibrationPath?: string | undefined;
}

/** The MiniFASNet pair the config and `facegate eval --pad` default to. */
export const DEFAULT_LIVENESS_MODELS: readonly string[] = ['minifasnet_v2', 'minifasnet_v1se'];

export async function createLiveness(names: readonly string[] = DEFAULT_LIVENESS_MODELS, opts: LivenessOptions = {}): Promise<LivenessModel> {
  const mode = opts.crop ?? 'shrink';
  // The threshold first: a model set nobody calibrated fails before any session is opened.
  const calibrated = calibratedLivenessThreshold(names, { calibrationPath: opts.calibrationPath });
  const track: LivenessTrackOptions = { window: opts.track?.window ?? DEFAULT_LIVENESS_TRACK.window, minFrames: opts.track?.minFrames ?? DEFAULT_LIVENESS_TRACK.minFrames };
  if (!(track.window >= 1 && track.minFrames >= 1 && track.minFrames <= track.window)) {
    throw new FacegateError('BAD_ARGUMENT', `liveness window ${track.window} and minFrames ${track.minFrames}: need 1 <= minFrames <= window`, { context: { ...track }, hint: 'set models.liveness.minFrames at most models.liveness.window' });
  }
  const models = await Promise.all(names.map((n) => load(n, 'liveness', opts)));
  const serial = new Serial();
  return {
    models: [...names],
    track,
    threshold: { value: calibrated.threshold, source: calibrated.source },
    realProbability: (frame, box) =>
      serial.run(async () => {
        let sum = 0;
        for (const { entry, session } of models) {
          if (entry.output.kind !== 'liveness') throw new FacegateError('MODEL_INVALID', `model "${entry.name}" has no liveness output`, { context: { model: entry.name }, hint: 'fix its manifest entry' });
          const size = entry.input.fixedSize ?? 80;
          const crop = cropResize(frame, livenessCropBox(box, frame.width, frame.height, entry.input.cropScale ?? 2.7, mode), size, mode === 'pad-black' ? 'black' : 'edge');
          const out = await session.run({ [entry.input.name]: new ort.Tensor('float32', cropToTensor(crop, entry.input), [1, 3, size, size]) });
          sum += softmax(out[session.outputNames[0]].data as Float32Array)[entry.output.realIndex];
        }
        return sum / models.length;
      }),
    close: () => serial.run(async () => void (await Promise.all(models.map((m) => m.session.release())))),
  };
}
