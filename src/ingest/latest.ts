/**
 * "Latest frame wins" for slow asynchronous consumers: run `work` on one value at a time; values
 * that arrive while it runs replace each other, so at most one waits and nothing queues up. Every
 * replaced value is counted (and reported to `onDrop`).
 */
import { Observable, type OperatorFunction } from 'rxjs';

export interface LatestStats {
  /** Values `work` was called with. */
  processed: number;
  /** Values replaced by a newer one before `work` could take them. */
  dropped: number;
}

export interface ProcessLatestOptions<T> {
  /** Counters updated in place (pass your own object to read them while it runs). */
  readonly stats?: LatestStats;
  readonly onDrop?: (dropped: T) => void;
}

export function processLatest<T, R>(work: (value: T) => Promise<R> | R, opts: ProcessLatestOptions<T> = {}): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const stats = opts.stats ?? { processed: 0, dropped: 0 };
      let busy = false;
      let pending: { value: T } | undefined;
      let sourceDone = false;

      const runNext = (value: T): void => {
        busy = true;
        stats.processed++;
        let result: Promise<R>;
        try {
          result = Promise.resolve(work(value));
        } catch (e) {
          result = Promise.reject(e);
        }
        result.then(
          (r) => {
            if (subscriber.closed) return;
            subscriber.next(r);
            busy = false;
            if (pending) {
              const p = pending;
              pending = undefined;
              runNext(p.value);
            } else if (sourceDone) subscriber.complete();
          },
          (err: unknown) => subscriber.error(err),
        );
      };

      const sub = source.subscribe({
        next: (value) => {
          if (!busy) return runNext(value);
          if (pending) {
            stats.dropped++;
            opts.onDrop?.(pending.value);
          }
          pending = { value };
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (!busy && !pending) subscriber.complete();
        },
      });
      return () => sub.unsubscribe();
    });
}
