import t from 'tap';
import { Subject, finalize, mergeMap, map } from 'rxjs';
import { keyedSlices } from '../../src/lib/keyed.ts';

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
  t.same(log.slice(5).sort(), ['b done', 'c done'], 'the list completing ends every slice');
  sub.unsubscribe();
});
