/**
 * Pure vector core of the gallery: dot products, normalisation and top-k selection.
 * No I/O, no clock, no logging; every function here is deterministic for a given input.
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
  const inv = 1 / l2norm(v);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

export interface GroupHit {
  /** The group (identity ordinal, or row for plain top-k). */
  readonly group: number;
  readonly score: number;
  /** Caller's reference to the row that gave the best score (e.g. a row number). */
  readonly ref: number;
}

/**
 * Partial selection of the k groups with the highest best score, fed one scored row at a time.
 *
 * A min-heap of at most k groups, each with its best score so far. A row whose score does not
 * beat the heap's minimum (`floor`) once k groups are held cannot change the answer: its group is
 * either already held with a score at least the floor, or its best so far was already at most the
 * floor when it was left out or evicted. That check is the whole cost for almost every row, so
 * callers test `score > floor` inline before calling `offer`. Membership is a linear look-up over
 * at most k entries, paid only by rows that pass the floor.
 *
 * Ties keep the first offered row, so results depend only on the offer order.
 */
export class GroupTopK {
  readonly k: number;
  private readonly groups: Int32Array;
  private readonly scores: Float64Array;
  private readonly refs: Float64Array;
  private size = 0;
  /** Scores must exceed this to matter: -Infinity until k groups are held. */
  floor = Number.NEGATIVE_INFINITY;

  constructor(k: number) {
    if (!Number.isInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
    this.k = k;
    this.groups = new Int32Array(k);
    this.scores = new Float64Array(k);
    this.refs = new Float64Array(k);
  }

  get count(): number {
    return this.size;
  }

  offer(group: number, score: number, ref: number): void {
    if (!(score > this.floor)) return;
    for (let i = 0; i < this.size; i++) {
      if (this.groups[i] === group) {
        if (score > this.scores[i]) {
          this.scores[i] = score;
          this.refs[i] = ref;
          this.siftDown(i);
          this.updateFloor();
        }
        return;
      }
    }
    if (this.size < this.k) {
      const i = this.size++;
      this.groups[i] = group;
      this.scores[i] = score;
      this.refs[i] = ref;
      this.siftUp(i);
    } else {
      this.groups[0] = group;
      this.scores[0] = score;
      this.refs[0] = ref;
      this.siftDown(0);
    }
    this.updateFloor();
  }

  /** Held groups, best first (ties: lower group first). */
  results(): GroupHit[] {
    const out: GroupHit[] = [];
    for (let i = 0; i < this.size; i++) out.push({ group: this.groups[i], score: this.scores[i], ref: this.refs[i] });
    return out.sort((a, b) => b.score - a.score || a.group - b.group);
  }

  private updateFloor(): void {
    this.floor = this.size === this.k ? this.scores[0] : Number.NEGATIVE_INFINITY;
  }

  private less(i: number, j: number): boolean {
    return this.scores[i] < this.scores[j];
  }

  private swap(i: number, j: number): void {
    const g = this.groups[i];
    this.groups[i] = this.groups[j];
    this.groups[j] = g;
    const s = this.scores[i];
    this.scores[i] = this.scores[j];
    this.scores[j] = s;
    const r = this.refs[i];
    this.refs[i] = this.refs[j];
    this.refs[j] = r;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.less(l, m)) m = l;
      if (r < this.size && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/** Per-group best top-k over already computed row scores (`groups[r]` = the row's group). */
export function topKByGroup(scores: ArrayLike<number>, groups: ArrayLike<number>, k: number, rows: number = scores.length): GroupHit[] {
  const sel = new GroupTopK(k);
  for (let r = 0; r < rows; r++) {
    const s = scores[r];
    if (s > sel.floor) sel.offer(groups[r], s, r);
  }
  return sel.results();
}

export interface RowHit {
  readonly row: number;
  readonly score: number;
}

/**
 * Exact top-k rows of a row-major index (`rows` = index.length / stride) by dot product with
 * `probe`: for unit-length rows and probe, the k most cosine-similar rows, best first.
 */
export function topK(index: Float32Array, dim: number, probe: Float32Array, k: number, stride: number = dim): RowHit[] {
  if (probe.length < dim) throw new RangeError(`probe has ${probe.length} elements, index rows have ${dim}`);
  const rows = Math.floor(index.length / stride);
  const sel = new GroupTopK(k);
  for (let r = 0, o = 0; r < rows; r++, o += stride) {
    const s = dot(index, probe, dim, o, 0);
    if (s > sel.floor) sel.offer(r, s, r);
  }
  return sel.results().map((h) => ({ row: h.group, score: h.score }));
}
