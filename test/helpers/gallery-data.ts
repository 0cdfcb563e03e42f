/** Seeded synthetic embeddings for gallery tests and the gallery bench. */
import type { TemplateInput } from '../../src/gallery/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** Standard normal sample (Box-Muller). */
export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A random unit vector (uniform on the sphere). */
export function randomUnit(dim: number, rand: () => number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = gaussian(rand);
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] *= inv;
  return v;
}

/** A unit vector near `centre`: centre + sigma * N(0, I) per element, normalised. */
export function near(centre: Float32Array, sigma: number, rand: () => number): Float32Array {
  const v = new Float32Array(centre.length);
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = centre[i] + sigma * gaussian(rand);
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

export const SHA_A = 'a'.repeat(64);

export function template(embedding: Float32Array, opts: Partial<Omit<TemplateInput, 'embedding'>> = {}): TemplateInput {
  return { embedding, modelId: opts.modelId ?? 'test_128d', masked: opts.masked ?? false, sourcePhotoSha256: opts.sourcePhotoSha256 ?? SHA_A, quality: opts.quality ?? 0.8 };
}

/** Cosine similarity in f64 (the reference for search results). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return s / Math.sqrt(na * nb);
}
