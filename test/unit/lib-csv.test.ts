import t from 'tap';
import { parseCsv } from '../../src/lib/csv.ts';

t.test('parseCsv: quoted commas, doubled quotes, CRLF and LF, blank lines dropped, last line without a newline', async (t) => {
  t.same(parseCsv('file,label,note\r\na.jpg,live,"says ""hi"", twice"\n\nb.jpg,spoof,\nc.jpg,live,"two\nlines"'), [
    ['file', 'label', 'note'],
    ['a.jpg', 'live', 'says "hi", twice'],
    ['b.jpg', 'spoof', ''],
    ['c.jpg', 'live', 'two\nlines'],
  ]);
  t.same(parseCsv(''), []);
  t.same(parseCsv('one\n'), [['one']], 'a one-column row is kept');
});
