import t from 'tap';
import { Lifetime } from '../../src/lib/lifetime.ts';

t.test('Lifetime: newest first, async awaited, failures collected, once', async (t) => {
  const order: string[] = [];
  const life = new Lifetime();
  life.add('a', () => void order.push('a'));
  life.add('b', async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push('b');
  });
  life.add('boom', () => {
    throw new Error('boom');
  });
  life.add('c', () => void order.push('c'));
  const first = life.close();
  t.equal(life.close(), first, 'a second close returns the same promise');
  const failures = await first;
  t.same(order, ['c', 'b', 'a'], 'reverse order, each awaited before the next');
  t.same(failures.map((f) => f.name), ['boom'], 'the failure is reported and the rest still ran');
  life.add('late', () => void order.push('late'));
  await new Promise((r) => setTimeout(r, 0));
  t.same(order.at(-1), 'late', 'added after close: ended at once');
  t.ok(life.closed);
});
