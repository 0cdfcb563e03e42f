import { FacegateError } from '../errors.ts';
import type { Box, Face, Landmarks, Point } from '../types.ts';
import type { LetterboxGeometry } from './letterbox.ts';
import { nms } from './nms.ts';

/** One raw output tensor as ORT returns it. */
export interface RawTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** The outputs of one stride level: scores [N], box distances [N*4], keypoint offsets [N*10]. */
export interface ScrfdLevel {
  readonly stride: number;
  readonly rows: number;
  readonly scores: Float32Array;
  readonly bbox: Float32Array;
  readonly kps: Float32Array;
}

/** SCRFD places 2 anchors per feature-map cell. */
export const SCRFD_ANCHORS = 2;
const CANDIDATE_STRIDES = [8, 16, 32, 64, 128];

function invalid(message: string, context: Record<string, string | number>): FacegateError {
  return new FacegateError('DETECTOR_OUTPUT_INVALID', `SCRFD outputs not understood: ${message}`, {
    context,
    hint: 'the model is not an SCRFD export with keypoints (scores/bbox/kps per stride); check the manifest entry',
  });
}

/**
 * Group SCRFD outputs by what they are, never by name: the official det_* exports have numeric
 * names. Last dimension 1 = score, 4 = bbox, 10 = keypoints; within a group the stride follows
 * from the row count (rows = ceil(H/s) * ceil(W/s) * 2). Accepts [N, C] and [1, N, C] layouts.
 */
export function groupScrfdOutputs(outputs: readonly RawTensor[], inputWidth: number, inputHeight: number): ScrfdLevel[] {
  const byKind = new Map<number, { rows: number; data: Float32Array; name: string }[]>();
  for (const o of outputs) {
    const d = o.dims;
    if (d.length !== 2 && d.length !== 3) throw invalid(`output ${o.name} has rank ${d.length}`, { output: o.name });
    if (d.length === 3 && d[0] !== 1) throw invalid(`output ${o.name} has batch ${d[0]}; only batch 1 is decoded`, { output: o.name });
    const last = d[d.length - 1];
    const rows = d[d.length - 2];
    if (o.data.length !== rows * last) throw invalid(`output ${o.name} holds ${o.data.length} values for shape [${d.join(',')}]`, { output: o.name });
    const list = byKind.get(last) ?? [];
    list.push({ rows, data: o.data, name: o.name });
    byKind.set(last, list);
  }
  const scores = byKind.get(1);
  const bbox = byKind.get(4);
  const kps = byKind.get(10);
  if (!scores || !bbox || !kps) throw invalid(`expected score/bbox/kps outputs (last dims 1/4/10), got last dims ${[...byKind.keys()].join(',')}`, { outputs: outputs.length });
  if (scores.length !== bbox.length || scores.length !== kps.length) throw invalid('unequal numbers of score/bbox/kps outputs', { scores: scores.length, bbox: bbox.length, kps: kps.length });
  for (const g of [scores, bbox, kps]) g.sort((a, b) => b.rows - a.rows);
  const levels: ScrfdLevel[] = [];
  for (let i = 0; i < scores.length; i++) {
    const rows = scores[i].rows;
    if (bbox[i].rows !== rows || kps[i].rows !== rows) throw invalid(`level ${i}: row counts differ (${rows}/${bbox[i].rows}/${kps[i].rows})`, { level: i });
    const stride = CANDIDATE_STRIDES.find((s) => Math.ceil(inputHeight / s) * Math.ceil(inputWidth / s) * SCRFD_ANCHORS === rows);
    if (stride === undefined) throw invalid(`level ${i}: ${rows} rows match no stride for a ${inputWidth}x${inputHeight} input`, { level: i, rows });
    levels.push({ stride, rows, scores: scores[i].data, bbox: bbox[i].data, kps: kps[i].data });
  }
  return levels;
}

export interface DecodeOptions {
  readonly scoreThreshold: number;
  readonly nmsThreshold: number;
  /** Keep at most this many faces (highest scores); 0 = all. */
  readonly maxFaces?: number;
}

/**
 * Decode SCRFD levels into faces in original-image coordinates: anchor centres (x*s, y*s) with no
 * half-cell offset, distances in stride units, then NMS, then undo the letterbox and clip boxes
 * to the image. Pure: same tensors in, same faces out.
 */
export function decodeScrfd(levels: readonly ScrfdLevel[], g: LetterboxGeometry, opts: DecodeOptions): Face[] {
  const boxes: Box[] = [];
  const scores: number[] = [];
  const marks: number[][] = [];
  for (const lv of levels) {
    const s = lv.stride;
    const cols = Math.ceil(g.inputWidth / s);
    for (let r = 0; r < lv.rows; r++) {
      const score = lv.scores[r];
      if (!(score >= opts.scoreThreshold)) continue;
      const cell = (r / SCRFD_ANCHORS) | 0;
      const cx = (cell % cols) * s;
      const cy = ((cell / cols) | 0) * s;
      const b = r * 4;
      boxes.push([cx - lv.bbox[b] * s, cy - lv.bbox[b + 1] * s, cx + lv.bbox[b + 2] * s, cy + lv.bbox[b + 3] * s]);
      scores.push(score);
      const k = r * 10;
      const pts: number[] = new Array(10);
      for (let j = 0; j < 10; j += 2) {
        pts[j] = cx + lv.kps[k + j] * s;
        pts[j + 1] = cy + lv.kps[k + j + 1] * s;
      }
      marks.push(pts);
    }
  }
  let keep = nms(boxes, scores, opts.nmsThreshold);
  if (opts.maxFaces && keep.length > opts.maxFaces) keep = keep.slice(0, opts.maxFaces);
  const inv = 1 / g.scale;
  const mapX = (v: number): number => (v - g.offsetX) * inv;
  const mapY = (v: number): number => (v - g.offsetY) * inv;
  const clip = (v: number, hi: number): number => (v < 0 ? 0 : v > hi ? hi : v);
  return keep.map((i) => {
    const b = boxes[i];
    const p = marks[i];
    const landmarks = [0, 2, 4, 6, 8].map((j): Point => [mapX(p[j]), mapY(p[j + 1])]) as unknown as Landmarks;
    const box: Box = [clip(mapX(b[0]), g.srcWidth), clip(mapY(b[1]), g.srcHeight), clip(mapX(b[2]), g.srcWidth), clip(mapY(b[3]), g.srcHeight)];
    return { box, score: scores[i], landmarks };
  });
}
