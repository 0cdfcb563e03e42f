/**
 * Top-k selection for the gallery's search (vector math itself is in src/lib/vectors.ts).
 * No I/O, no clock, no logging; every function here is deterministic for a given input.
 */

import { dot } from '../lib/vectors.ts';

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
