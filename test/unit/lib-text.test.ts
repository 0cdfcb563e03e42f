import t from 'tap';
import { describeBadText, findBadChar, findBadText } from '../../src/lib/text.ts';

t.test('findBadChar: NUL and lone surrogates, valid pairs pass', async (t) => {
  t.same(findBadChar('plain text é 漢字'), undefined);
  t.same(findBadChar('emoji 😀 ok'), undefined, 'a valid surrogate pair is fine');
  t.same(findBadChar('nul\u0000here'), { index: 3, kind: 'nul' });
  t.same(findBadChar('hi\ud800'), { index: 2, kind: 'lone-surrogate' }, 'high surrogate at the end');
  t.same(findBadChar('a\ud800b'), { index: 1, kind: 'lone-surrogate' }, 'high surrogate followed by a non-low');
  t.same(findBadChar('a\udc00'), { index: 1, kind: 'lone-surrogate' }, 'lone low surrogate');
});

t.test('findBadText walks objects, arrays and keys', async (t) => {
  t.same(findBadText({ a: 1, b: ['x', { c: 'y' }] }), undefined);
  t.same(findBadText({ a: 1, b: ['x', { c: 'y\u0000' }] }), { path: 'b[1].c', index: 1, kind: 'nul' });
  t.same(findBadText({ ['k\u0000']: 1 }), { path: 'k\u0000', index: 1, kind: 'nul' });
  t.same(findBadText(JSON.parse('{"reason":"nul\\u0000here"}')), { path: 'reason', index: 3, kind: 'nul' });
  t.same(findBadText(JSON.parse('{"name":"\\ud83d"}')), { path: 'name', index: 0, kind: 'lone-surrogate' });
  t.match(describeBadText({ path: 'reason', index: 3, kind: 'nul' }, 'body'), /body reason contains a NUL character \(U\+0000\) at index 3: remove it/);
});
