/**
 * A list that changes over time, as one stream per key: the shape behind "each camera follows its
 * own slice of the config". Every key that appears gets a slice whose `changes$` emits the item
 * at once and again whenever it changes (by `equal`), and completes when the key leaves the list
 * (a list that completes leaves its last items running until unsubscribed). Use it as
 * `keyedSlices(...).pipe(mergeMap((s) => s.changes$.pipe(runLatest(...))))`: an unchanged item
 * is never restarted, a changed one is restarted alone, a removed one is stopped.
 */
import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';

export interface SliceChange<T> {
  readonly value: T;
  /** Its place among the items new or changed in the same list (0, 1, ...): for staggered starts. */
  readonly order: number;
}

export interface KeyedSlice<T> {
  readonly key: string;
  readonly changes$: Observable<SliceChange<T>>;
}

export function keyedSlices<T>(list$: Observable<readonly T[]>, keyOf: (item: T) => string, equal: (a: T, b: T) => boolean): Observable<KeyedSlice<T>> {
  return new Observable<KeyedSlice<T>>((subscriber) => {
    const slices = new Map<string, { subject: Subject<SliceChange<T>>; last: T }>();
    const closeAll = (): void => {
      for (const s of slices.values()) s.subject.complete();
      slices.clear();
    };
    const sub = list$.subscribe({
      next: (list) => {
        const present = new Set(list.map(keyOf));
        for (const [key, s] of [...slices]) {
          if (present.has(key)) continue;
          slices.delete(key);
          s.subject.complete();
        }
        let order = 0;
        for (const item of list) {
          const key = keyOf(item);
          const known = slices.get(key);
          if (known) {
            if (equal(known.last, item)) continue;
            known.last = item;
            known.subject.next({ value: item, order: order++ });
            continue;
          }
          // A slice replays its first value to whoever subscribes first (mergeMap does, at once).
          const subject = new Subject<SliceChange<T>>();
          const first: SliceChange<T> = { value: item, order: order++ };
          slices.set(key, { subject, last: item });
          let started = false;
          subscriber.next({
            key,
            changes$: new Observable<SliceChange<T>>((inner) => {
              if (!started) {
                started = true;
                inner.next(first);
              }
              return subject.subscribe(inner);
            }),
          });
        }
      },
      error: (e: unknown) => {
        closeAll();
        subscriber.error(e);
      },
      // No more changes: the last list stands (its slices run on until unsubscribed), so a fixed
      // list such as `of([...])` keeps its items running.
      complete: () => undefined,
    });
    return () => {
      sub.unsubscribe();
      closeAll();
    };
  });
}

/**
 * switchMap that also stops the running inner when the source completes. A slice's `changes$`
 * completes when its key leaves the list; plain switchMap would wait for the inner to complete
 * and keep a removed camera running behind the config's back.
 */
export function runLatest<T, R>(project: (value: T) => Observable<R>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let inner: Subscription | undefined;
      const outer = source.subscribe({
        next: (value) => {
          inner?.unsubscribe();
          inner = project(value).subscribe({ next: (r) => subscriber.next(r), error: (e: unknown) => subscriber.error(e) });
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          inner?.unsubscribe();
          subscriber.complete();
        },
      });
      return () => {
        outer.unsubscribe();
        inner?.unsubscribe();
      };
    });
}
