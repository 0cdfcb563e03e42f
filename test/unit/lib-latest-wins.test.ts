import t from 'tap';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import { latestWins, type LatestWinsStats } from '../../src/lib/latest-wins.ts';

t.test('latestWins: a slow consumer gets the newest value and drops are counted', async (t) => {
  const input = new Subject<number>();
  const stats: LatestWinsStats = { processed: 0, dropped: 0 };
  const dropped: number[] = [];
  const release: Array<() => void> = [];
  const seen: number[] = [];
  const done = lastValueFrom(
    input.pipe(
      latestWins(
        (v: number) =>
          new Promise<number>((r) => {
            seen.push(v);
            release.push(() => r(v * 10));
          }),
        { stats, onDrop: (v) => dropped.push(v) },
      ),
      toArray(),
    ),
  );
  input.next(1); // runs
  for (let i = 2; i <= 6; i++) input.next(i); // 2..5 replaced, 6 waits
  t.same(seen, [1]);
  release.shift()?.();
  await new Promise((r) => setImmediate(r));
  t.same(seen, [1, 6], 'the newest waiting value runs next');
  input.next(7);
  input.complete();
  release.shift()?.();
  await new Promise((r) => setImmediate(r));
  release.shift()?.();
  t.same(await done, [10, 60, 70], 'completes after the last pending value');
  t.same(dropped, [2, 3, 4, 5]);
  t.same(stats, { processed: 3, dropped: 4 });

  const sync = await lastValueFrom(from([1, 2, 3]).pipe(latestWins((v: number) => v + 1), toArray()));
  t.same(sync, [2, 4], 'sync source: value 2 replaced by 3 while 1 was in flight');
});

t.test('latestWins: a failed run is reported and skipped with onError, ends the stream without', async (t) => {
  const errors: Array<[string, number]> = [];
  const out = await lastValueFrom(
    from([1, 2]).pipe(
      latestWins(
        async (v: number) => {
          if (v === 1) throw new Error('model failed');
          return v;
        },
        { onError: (e, v) => errors.push([(e as Error).message, v]) },
      ),
      toArray(),
    ),
  );
  t.same(out, [2], 'the stream went on with the next value');
  t.same(errors, [['model failed', 1]], 'the failure and its value reported');
  await t.rejects(lastValueFrom(from([1]).pipe(latestWins(async () => Promise.reject(new Error('x'))))), /x/, 'no onError: the error ends the stream');
});
