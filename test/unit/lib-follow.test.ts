import t from 'tap';
import { BehaviorSubject } from 'rxjs';
import { Followers } from '../../src/lib/follow.ts';

interface Conf {
  readonly a: number;
  readonly b: { readonly x: number };
}
const sameB = (p: Conf['b'], q: Conf['b']): boolean => p.x === q.x;

t.test('Followers: each part applies its first slice and then only its own changes, in order, and settled() waits for them', async (t) => {
  const conf$ = new BehaviorSubject<Conf>({ a: 1, b: { x: 1 } });
  const errors: string[] = [];
  const follow = new Followers(conf$, (part, e) => errors.push(`${part}: ${String(e)}`));
  const applied: string[] = [];
  follow.follow('a', (c) => c.a, async (next, prev) => {
    await new Promise((r) => setTimeout(r, 20));
    applied.push(`a ${prev}->${next}`);
  });
  follow.follow('b', (c) => c.b, (next) => void applied.push(`b ${next.x}`), { equal: sameB, skipFirst: true });
  await follow.settled();
  t.same(applied, ['a undefined->1'], 'a applied its first value; b skipped its first');
  conf$.next({ a: 2, b: { x: 1 } });
  conf$.next({ a: 3, b: { x: 1 } });
  t.same(applied, ['a undefined->1'], 'slow applies are still running');
  await follow.settled();
  t.same(applied, ['a undefined->1', 'a 1->2', 'a 2->3'], 'one at a time, in order; b untouched by equal slices');
  conf$.next({ a: 3, b: { x: 2 } });
  await follow.settled();
  t.same(applied.slice(3), ['b 2'], 'only b followed its change');
  t.same(errors, []);
  await follow.close();
  conf$.next({ a: 4, b: { x: 3 } });
  await follow.settled();
  t.equal(applied.length, 4, 'closed: no more applies');
});

t.test('Followers: a failed apply is reported and the part keeps following', async (t) => {
  const conf$ = new BehaviorSubject(1);
  const errors: string[] = [];
  const follow = new Followers(conf$, (part, e) => errors.push(`${part}: ${(e as Error).message}`));
  const seen: number[] = [];
  follow.follow('n', (n) => n, (n) => {
    if (n === 2) throw new Error('bad two');
    seen.push(n);
  });
  conf$.next(2);
  conf$.next(3);
  await follow.settled();
  t.same(seen, [1, 3]);
  t.same(errors, ['n: bad two']);
});
