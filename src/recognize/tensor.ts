import type { ModelInputSpec } from '../models/index.ts';
import type { RgbImage } from '../types.ts';

/**
 * NCHW float tensor from an RGB crop with a model's channel order and normalisation
 * ((x - mean) / std). `out` is reused when given (batch slot `index`).
 */
export function cropToTensor(image: RgbImage, spec: Pick<ModelInputSpec, 'channels' | 'mean' | 'std'>, out?: Float32Array, index = 0): Float32Array {
  const plane = image.width * image.height;
  const t = out ?? new Float32Array(plane * 3);
  const base = index * plane * 3;
  const inv = 1 / spec.std;
  const bgr = spec.channels === 'BGR';
  const src = image.data;
  const p0 = base + (bgr ? 2 : 0) * plane;
  const p1 = base + plane;
  const p2 = base + (bgr ? 0 : 2) * plane;
  for (let p = 0, i = 0; p < plane; p++, i += 3) {
    t[p0 + p] = (src[i] - spec.mean) * inv;
    t[p1 + p] = (src[i + 1] - spec.mean) * inv;
    t[p2 + p] = (src[i + 2] - spec.mean) * inv;
  }
  return t;
}

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
