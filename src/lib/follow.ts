/**
 * Parts that follow their own slice of one changing value (the service's config): each part's
 * `apply` runs for the first value and again whenever its slice changes (by `equal`), one change
 * at a time and in order; `settled()` resolves once every change seen so far has been applied, so
 * whoever moved the value on can wait for all the parts without knowing them. One place replaces
 * the hand-written "if this section changed, call that part" list.
 */
import { distinctUntilChanged, map, Subscription, type Observable } from 'rxjs';

export interface FollowOptions<S> {
  /** Default Object.is; pass a structural comparison for config slices. */
  readonly equal?: (a: S, b: S) => boolean;
  /** Do not apply the first value (the part was started with it already). */
  readonly skipFirst?: boolean;
}

export class Followers<T> {
  private readonly subscriptions = new Subscription();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly source$: Observable<T>,
    /** A failed apply is reported here; the part keeps following (the next change applies). */
    private readonly onError: (part: string, error: unknown) => void,
  ) {}

  follow<S>(part: string, select: (value: T) => S, apply: (next: S, previous: S | undefined) => void | Promise<void>, opts: FollowOptions<S> = {}): void {
    let chain: Promise<void> = Promise.resolve();
    let previous: S | undefined;
    let first = true;
    this.subscriptions.add(
      this.source$.pipe(map(select), distinctUntilChanged(opts.equal ?? Object.is)).subscribe((next) => {
        const prev = first ? undefined : previous;
        previous = next;
        const skip = first && opts.skipFirst === true;
        first = false;
        if (skip) return;
        const run = chain.then(() => apply(next, prev)).catch((e: unknown) => this.onError(part, e));
        chain = run;
        this.pending.add(run);
        void run.finally(() => this.pending.delete(run));
      }),
    );
  }

  /** Resolves when every change seen so far has been applied (or has failed and been reported). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Stop following; changes already being applied finish. */
  close(): Promise<void> {
    this.subscriptions.unsubscribe();
    return this.settled();
  }
}
