import t from 'tap';
import { Listeners } from '../../src/lib/listeners.ts';

t.test('Listeners: add returns the remover; the same function twice is two listeners; a throwing listener does not stop the rest', async (t) => {
  const errors: unknown[] = [];
  const ls = new Listeners<[number]>((e) => errors.push(e));
  const seen: string[] = [];
  const a = (n: number): void => void seen.push(`a${n}`);
  const offA1 = ls.add(a);
  const offA2 = ls.add(a);
  ls.add(() => {
    throw new Error('boom');
  });
  const offB = ls.add((n) => seen.push(`b${n}`));
  ls.emit(1);
  t.same(seen, ['a1', 'a1', 'b1']);
  t.equal(errors.length, 1, 'the throw was reported');
  offA1();
  offB();
  offB();
  t.equal(ls.size, 2, 'removing twice is harmless');
  ls.emit(2);
  t.same(seen.slice(3), ['a2'], 'one a left, b gone');
  offA2();
  const once = ls.add(() => {
    seen.push('once');
    once();
  });
  ls.emit(3);
  ls.emit(4);
  t.same(seen.slice(4), ['once'], 'a listener may remove itself while being called');
});

t.test('Listeners.next: the next emit\'s arguments, or undefined after the timeout; the wait leaves the list either way', async (t) => {
  const ls = new Listeners<[string]>();
  const got = ls.next(1000);
  t.equal(ls.size, 1, 'waiting');
  ls.emit('a');
  ls.emit('b');
  t.same(await got, ['a'], 'the first emit after the wait began');
  t.equal(ls.size, 0, 'left after the emit');
  const none = await ls.next(20);
  t.equal(none, undefined, 'nothing within 20 ms');
  t.equal(ls.size, 0, 'left after the timeout');
});
