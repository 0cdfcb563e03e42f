/**
 * "Latest wins" for slow asynchronous work on a live stream (a model run per frame): `work` runs
 * on one value at a time; values that arrive meanwhile replace each other, so at most one waits
 * and nothing queues up behind a slow model. Every replaced value is counted and reported, so a
 * drop is never silent. The one copy of this pump: detection and recognition both use it.
 */
import { Observable, type OperatorFunction } from 'rxjs';

export interface LatestWinsStats {
  /** Values `work` was called with. */
  processed: number;
  /** Values replaced by a newer one before `work` could take them. */
  dropped: number;
}

export interface LatestWinsOptions<T> {
  /** Counters updated in place (pass your own object to read them while it runs). */
  readonly stats?: LatestWinsStats;
  readonly onDrop?: (dropped: T) => void;
  /**
   * A failed `work` call is reported here and skipped: the stream goes on with the next value
   * (errors are values between stages, never exceptions that end a camera). Without it, the
   * first failure ends the stream with that error.
   */
  readonly onError?: (error: unknown, value: T) => void;
}

export function latestWins<T, R>(work: (value: T) => Promise<R> | R, opts: LatestWinsOptions<T> = {}): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const stats = opts.stats ?? { processed: 0, dropped: 0 };
      let busy = false;
      let pending: { value: T } | undefined;
      let sourceDone = false;

      const next = (): void => {
        busy = false;
        if (subscriber.closed) return;
        if (pending) {
          const p = pending;
          pending = undefined;
          run(p.value);
        } else if (sourceDone) subscriber.complete();
      };
      const run = (value: T): void => {
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
            next();
          },
          (err: unknown) => {
            if (subscriber.closed) return;
            if (!opts.onError) return subscriber.error(err);
            opts.onError(err, value);
            next();
          },
        );
      };

      const sub = source.subscribe({
        next: (value) => {
          if (!busy) return run(value);
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
