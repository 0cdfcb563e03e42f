/**
 * Vector math for embeddings, in one place: the gallery's search, clustering and validation, the
 * embedders' output normalisation and the evaluation all use these. Pure and deterministic.
 */

/** Dot product of the first `dim` elements (default: a.length), four accumulators. */
export function dot(a: Float32Array, b: Float32Array, dim: number = a.length, aOffset = 0, bOffset = 0): number {
  const tail = dim - (dim % 4);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j < tail; j += 4) {
    s0 += a[aOffset + j] * b[bOffset + j];
    s1 += a[aOffset + j + 1] * b[bOffset + j + 1];
    s2 += a[aOffset + j + 2] * b[bOffset + j + 2];
    s3 += a[aOffset + j + 3] * b[bOffset + j + 3];
  }
  for (; j < dim; j++) s0 += a[aOffset + j] * b[bOffset + j];
  return s0 + s1 + s2 + s3;
}

/** Euclidean norm, accumulated in f64. */
export function l2norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Why a vector cannot be used as an embedding, or undefined when it can. */
export function embeddingProblem(v: Float32Array): string | undefined {
  if (v.length === 0) return 'it is empty';
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) return `element ${i} is ${v[i]}`;
  }
  const n = l2norm(v);
  if (!(n > 0)) return 'it is all zeros';
  if (!Number.isFinite(n)) return 'its norm overflows';
  return undefined;
}

/** A unit-length copy of `v`. Throws RangeError for empty, zero or non-finite vectors. */
export function l2normalize(v: Float32Array): Float32Array {
  const problem = embeddingProblem(v);
  if (problem) throw new RangeError(`cannot normalise the vector: ${problem}`);
  const n = l2norm(v);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / n;
  return out;
}

/** Cosine similarity of two unit-length vectors (their dot product). */
export function cosine(a: Float32Array, b: Float32Array): number {
  return dot(a, b);
}
