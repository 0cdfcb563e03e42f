/**
 * Pairs the two GStreamer outputs of a camera with a detector copy: the full-resolution frames
 * (fd 1) and the detector-sized copies (fd 3). Both come from one `tee` after videorate, so a
 * frame and its copy carry the same buffer offset (videorate's frame counter) and PTS. Each
 * branch has its own leaky queue, so either side may lose a frame the other kept, and the two
 * pipes are read independently, so either side may arrive first. Pure and synchronous.
 *
 * Rules (keys increase within each stream):
 * - an item whose partner is held is paired at once; everything older on either side can no
 *   longer be paired (the streams are ordered) and is dropped;
 * - an item without a partner is held (at most `maxHeld` per side, oldest dropped first), and the
 *   other side's held items older than it are dropped;
 * - an item without a key cannot be paired: dropped;
 * - a key that goes backwards on one side (a new segment) drops everything held.
 * Every dropped item counts in `unpaired`.
 */

export interface Pair<F, V> {
  readonly key: number;
  readonly full: F;
  readonly view: V;
}

interface Held<T> {
  readonly key: number;
  readonly item: T;
}

/** The pairing key of a GDP buffer: videorate's offset when set, else the PTS. */
export function pairKey(offset: number | undefined, pts: number | undefined): number | undefined {
  return offset ?? pts;
}

export class FramePairer<F, V> {
  private fulls: Held<F>[] = [];
  private views: Held<V>[] = [];
  private lastFull: number | undefined;
  private lastView: number | undefined;
  /** Items dropped without a partner (either side), since construction. */
  unpaired = 0;

  constructor(private readonly maxHeld = 4) {
    if (!Number.isInteger(maxHeld) || maxHeld < 1) throw new RangeError(`maxHeld must be a positive integer, got ${maxHeld}`);
  }

  /** Items waiting for a partner (for tests and diagnostics). */
  held(): { full: number; view: number } {
    return { full: this.fulls.length, view: this.views.length };
  }

  pushFull(key: number | undefined, item: F): Pair<F, V> | undefined {
    if (key === undefined) {
      this.unpaired++;
      return undefined;
    }
    if (this.lastFull !== undefined && key <= this.lastFull) this.reset();
    this.lastFull = key;
    const match = this.take(this.views, key);
    if (match !== undefined) {
      this.dropOlder(this.fulls, key);
      return { key, full: item, view: match };
    }
    this.dropOlder(this.views, key);
    this.hold(this.fulls, key, item);
    return undefined;
  }

  pushView(key: number | undefined, item: V): Pair<F, V> | undefined {
    if (key === undefined) {
      this.unpaired++;
      return undefined;
    }
    if (this.lastView !== undefined && key <= this.lastView) this.reset();
    this.lastView = key;
    const match = this.take(this.fulls, key);
    if (match !== undefined) {
      this.dropOlder(this.views, key);
      return { key, full: match, view: item };
    }
    this.dropOlder(this.fulls, key);
    this.hold(this.views, key, item);
    return undefined;
  }

  /** Drop everything held (counted as unpaired). */
  reset(): void {
    this.unpaired += this.fulls.length + this.views.length;
    this.fulls = [];
    this.views = [];
    this.lastFull = undefined;
    this.lastView = undefined;
  }

  /** Remove and return the held item with this key; items older than it are dropped too. */
  private take<T>(list: Held<T>[], key: number): T | undefined {
    const i = list.findIndex((h) => h.key === key);
    if (i < 0) return undefined;
    const found = list[i].item;
    this.unpaired += i;
    list.splice(0, i + 1);
    return found;
  }

  private dropOlder<T>(list: Held<T>[], key: number): void {
    let n = 0;
    while (n < list.length && list[n].key < key) n++;
    if (n) {
      this.unpaired += n;
      list.splice(0, n);
    }
  }

  private hold<T>(list: Held<T>[], key: number, item: T): void {
    list.push({ key, item });
    while (list.length > this.maxHeld) {
      list.shift();
      this.unpaired++;
    }
  }
}
