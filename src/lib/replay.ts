/**
 * Replay then live, for any store of events with growing ids (the box's SQLite log, the hub's
 * window + PostgreSQL): subscribe to live first and hold what arrives, read pages after the last
 * id sent until a short page, then send what was held, then live. Every id is sent once and in
 * order (ids only grow: one at or below the last sent is a repeat), so nothing published while
 * replaying is lost or doubled. Synchronous pages replay in the subscribing turn (nothing can be
 * pushed in between) unless the replay runs longer than `sliceMs`, when it yields to the event
 * loop so a long history never blocks it.
 */
import { Observable } from 'rxjs';

export interface ReplayThenLiveSource<E extends { readonly id: number }> {
  /** Send events with ids above this. */
  readonly since: number;
  readonly live$: Observable<E>;
  /** Events after `afterId` in id order, at most `limit` (more is fine); fewer ends the replay. */
  page(afterId: number, limit: number): readonly E[] | Promise<readonly E[]>;
  readonly pageSize: number;
  readonly matches: (e: E) => boolean;
  /** Yield to the event loop after this many ms of replay (default: never). */
  readonly sliceMs?: number;
}

export function replayThenLive<E extends { readonly id: number }>(src: ReplayThenLiveSource<E>): Observable<E> {
  return new Observable<E>((subscriber) => {
    let last = src.since;
    let held: E[] | undefined = [];
    let liveCompleted = false;
    let timer: NodeJS.Immediate | undefined;
    const send = (e: E): void => {
      if (e.id <= last) return;
      last = e.id;
      if (src.matches(e)) subscriber.next(e);
    };
    const liveSub = src.live$.subscribe({
      next: (e) => (held ? held.push(e) : send(e)),
      error: (e: unknown) => subscriber.error(e),
      complete: () => {
        if (held) liveCompleted = true;
        else subscriber.complete();
      },
    });
    const replay = async (): Promise<void> => {
      let started = performance.now();
      for (;;) {
        const got = src.page(last, src.pageSize);
        const page = Array.isArray(got) ? (got as readonly E[]) : await got;
        for (const e of page) {
          if (subscriber.closed) return;
          send(e);
        }
        if (page.length < src.pageSize) break;
        if (src.sliceMs !== undefined && performance.now() - started >= src.sliceMs) {
          await new Promise<void>((resolve) => (timer = setImmediate(resolve)));
          timer = undefined;
          if (subscriber.closed) return;
          started = performance.now();
        }
      }
      // Index loop: events published re-entrantly by a subscriber during this flush are appended
      // to `held` and sent too, in order.
      const pending = held ?? [];
      for (let i = 0; i < pending.length && !subscriber.closed; i++) send(pending[i]);
      held = undefined;
      if (liveCompleted) subscriber.complete();
    };
    replay().catch((e: unknown) => {
      if (!subscriber.closed) subscriber.error(e);
    });
    return () => {
      if (timer) clearImmediate(timer);
      liveSub.unsubscribe();
    };
  });
}
