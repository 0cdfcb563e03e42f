import t from 'tap';
import { Observable, Subject, finalize, mergeMap, map } from 'rxjs';
import { keyedSlices, runLatest } from '../../src/lib/keyed.ts';

interface Cam {
  readonly id: string;
  readonly fps: number;
}

t.test('keyedSlices: a slice per key; unchanged items stay, changed ones re-emit, removed ones complete', async (t) => {
  const list$ = new Subject<readonly Cam[]>();
  const log: string[] = [];
  const sub = keyedSlices(list$, (c) => c.id, (a, b) => a.fps === b.fps)
    .pipe(mergeMap((s) => s.changes$.pipe(map((c) => `${s.key}:${c.value.fps}#${c.order}`), finalize(() => log.push(`${s.key} done`)))))
    .subscribe((line) => log.push(line));
  list$.next([{ id: 'a', fps: 5 }, { id: 'b', fps: 5 }]);
  t.same(log, ['a:5#0', 'b:5#1'], 'both start, in list order');
  list$.next([{ id: 'b', fps: 5 }, { id: 'c', fps: 5 }]);
  t.same(log.slice(2), ['a done', 'c:5#0'], 'a stops, b untouched, c starts');
  list$.next([{ id: 'b', fps: 10 }, { id: 'c', fps: 5 }]);
  t.same(log.slice(4), ['b:10#0'], 'only the changed b re-emits');
  list$.next([{ id: 'b', fps: 10 }, { id: 'c', fps: 5 }]);
  t.equal(log.length, 5, 'the same list again changes nothing');
  list$.complete();
  t.equal(log.length, 5, 'the list completing leaves the last list standing');
  sub.unsubscribe();
  t.same(log.slice(5).sort(), ['b done', 'c done'], 'unsubscribing ends every slice');
});

t.test('runLatest: a changed slice restarts its inner, a removed one stops it (switchMap would keep it running)', async (t) => {
  const list$ = new Subject<readonly Cam[]>();
  const running = new Set<string>();
  const started: string[] = [];
  const inner = (c: Cam) =>
    new Observable<string>(() => {
      const tag = `${c.id}@${c.fps}`;
      running.add(tag);
      started.push(tag);
      return () => running.delete(tag);
    });
  const sub = keyedSlices(list$, (c) => c.id, (a, b) => a.fps === b.fps)
    .pipe(mergeMap((s) => s.changes$.pipe(runLatest(({ value }) => inner(value)))))
    .subscribe();
  list$.next([{ id: 'a', fps: 5 }, { id: 'b', fps: 5 }]);
  t.same([...running].sort(), ['a@5', 'b@5']);
  list$.next([{ id: 'b', fps: 10 }]);
  t.same([...running], ['b@10'], 'a stopped when it left the list; b restarted with its change');
  t.same(started, ['a@5', 'b@5', 'b@10']);
  sub.unsubscribe();
  t.same([...running], [], 'unsubscribing stops the rest');
});
