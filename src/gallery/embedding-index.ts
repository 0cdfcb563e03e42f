import { RowStore } from './kernel.ts';
import { GroupTopK, type GroupHit } from './top-k.ts';

/**
 * In-memory index of one embedding space: the templates of one model id, plain or masked.
 * Rows are unit-length embeddings in a contiguous store; each row knows its template id and its
 * group (the identity's ordinal). Adds append; removals move the last row into the hole, so
 * neither needs a rebuild.
 */
export class EmbeddingIndex {
  readonly modelId: string;
  readonly masked: boolean;
  readonly store: RowStore;
  private templateIds: string[] = [];
  private groups = new Int32Array(16);
  private readonly rowOf = new Map<string, number>();

  constructor(modelId: string, masked: boolean, dim: number, opts: { useSimd?: boolean; initialCapacity?: number } = {}) {
    this.modelId = modelId;
    this.masked = masked;
    this.store = new RowStore(dim, opts);
    this.groups = new Int32Array(Math.max(16, opts.initialCapacity ?? 16));
  }

  get dim(): number {
    return this.store.dim;
  }

  get size(): number {
    return this.store.rows;
  }

  has(templateId: string): boolean {
    return this.rowOf.has(templateId);
  }

  /** Add a unit-length embedding for a template of the identity with ordinal `group`. */
  add(templateId: string, group: number, embedding: Float32Array): void {
    if (this.rowOf.has(templateId)) throw new Error(`template ${templateId} is already indexed`);
    const row = this.store.append(embedding);
    if (row >= this.groups.length) {
      const grown = new Int32Array(this.groups.length * 2);
      grown.set(this.groups);
      this.groups = grown;
    }
    this.groups[row] = group;
    this.templateIds[row] = templateId;
    this.rowOf.set(templateId, row);
  }

  /** Remove a template's row; false when it is not in this index. */
  remove(templateId: string): boolean {
    const row = this.rowOf.get(templateId);
    if (row === undefined) return false;
    const moved = this.store.swapRemove(row);
    this.rowOf.delete(templateId);
    if (moved >= 0) {
      const movedId = this.templateIds[moved];
      this.templateIds[row] = movedId;
      this.groups[row] = this.groups[moved];
      this.rowOf.set(movedId, row);
    }
    this.templateIds.length = this.store.rows;
    return true;
  }

  templateIdAt(row: number): string {
    return this.templateIds[row];
  }

  groupAt(row: number): number {
    return this.groups[row];
  }

  /** Row groups (identity ordinals), a view valid until the next add. */
  get rowGroups(): Int32Array {
    return this.groups.subarray(0, this.store.rows);
  }
}

/** One per-identity best match across the searched indexes. */
export interface IndexHit {
  readonly group: number;
  readonly score: number;
  readonly index: EmbeddingIndex;
  readonly row: number;
}

export interface SearchTuning {
  /** Rows (over all searched indexes) from which the int8 screening pass is used. */
  readonly screenMinRows: number;
}

/** What a search did, for tests and benchmarks. */
export interface SearchTrace {
  /** True when the int8 screening pass ran. */
  screened: boolean;
  /** Rows re-scored exactly one by one after screening. */
  rescored: number;
  /** Indexes scanned in full with the exact f32 kernel. */
  exactScans: number;
}

export const DEFAULT_SEARCH_TUNING: SearchTuning = { screenMinRows: 16384 };

/**
 * Exact per-group top-k over several indexes (same model and dim) for a unit-length probe.
 *
 * Small indexes: one f32 scan per index, then the group selection. Large ones: screen first with
 * the int8 scan (a quarter of the memory traffic). Its top-k groups by approximate score have a
 * k-th best A; each of those k groups has a row whose exact score is >= A - E (E: the error
 * bound), so the exact k-th best is >= A - E, and any row that can be in the exact answer has
 * approx >= A - 2E. Only those rows are re-scored exactly, so the result equals the exact scan's.
 */
export function searchIndexes(indexes: readonly EmbeddingIndex[], probe: Float32Array, k: number, tuning: SearchTuning = DEFAULT_SEARCH_TUNING, trace?: SearchTrace): IndexHit[] {
  const live = indexes.filter((ix) => ix.size > 0);
  const total = live.reduce((n, ix) => n + ix.size, 0);
  if (total === 0) return [];
  const tag = live.length;
  const toHits = (hits: GroupHit[]): IndexHit[] =>
    hits.map((h) => {
      const index = live[h.ref % tag];
      return { group: h.group, score: h.score, index, row: Math.floor(h.ref / tag) };
    });

  const screen = total >= tuning.screenMinRows && live.every((ix) => ix.store.canScreen);
  if (screen) {
    if (trace) trace.screened = true;
    const approx = live.map((ix) => ix.store.scanApprox(probe));
    const coarse = new GroupTopK(k);
    for (let t = 0; t < live.length; t++) {
      const scores = approx[t].scores;
      const groups = live[t].rowGroups;
      for (let r = 0; r < scores.length; r++) {
        const s = scores[r];
        if (s > coarse.floor) coarse.offer(groups[r], s, r);
      }
    }
    // Fewer than k groups in all: every row is a candidate, so the exact scan is cheaper.
    if (coarse.count === k) {
      const errorBound = Math.max(...approx.map((a) => a.errorBound));
      const cut = coarse.floor - 2 * errorBound;
      const exact = new GroupTopK(k);
      for (let t = 0; t < live.length; t++) {
        const ix = live[t];
        const scores = approx[t].scores;
        const groups = ix.rowGroups;
        // Scores too close together for screening to pay (more than 1/8 of rows to re-score one
        // by one): stop and re-score the whole index with the SIMD kernel instead.
        const limit = scores.length >> 3;
        let candidates = 0;
        let r = 0;
        for (; r < scores.length; r++) {
          if (scores[r] >= cut) {
            if (++candidates > limit) break;
            const s = ix.store.rowDot(r, probe);
            if (s > exact.floor) exact.offer(groups[r], s, r * tag + t);
          }
        }
        if (r < scores.length) {
          offerAll(exact, ix.store.scan(probe), groups, t, tag);
          if (trace) trace.exactScans++;
        } else if (trace) trace.rescored += candidates;
      }
      return toHits(exact.results());
    }
  }
  const sel = new GroupTopK(k);
  for (let t = 0; t < live.length; t++) offerAll(sel, live[t].store.scan(probe), live[t].rowGroups, t, tag);
  if (trace) trace.exactScans += live.length;
  return toHits(sel.results());
}

function offerAll(sel: GroupTopK, scores: Float32Array, groups: Int32Array, t: number, tag: number): void {
  for (let r = 0; r < scores.length; r++) {
    const s = scores[r];
    if (s > sel.floor) sel.offer(groups[r], s, r * tag + t);
  }
}
