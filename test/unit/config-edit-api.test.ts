import t from 'tap';
import { ifMatchVersion } from '../../src/app/config-api.ts';

t.test('If-Match: quoted, weak, bare, several, *', async (t) => {
  const cur = '3f3da6cc3ffcee21';
  t.equal(ifMatchVersion(undefined, cur), undefined, 'absent: 428');
  t.equal(ifMatchVersion('  ', cur), undefined);
  t.equal(ifMatchVersion(`"${cur}"`, cur), cur);
  t.equal(ifMatchVersion(`W/"${cur}"`, cur), cur);
  t.equal(ifMatchVersion(cur, cur), cur);
  t.equal(ifMatchVersion(`"aaaa", "${cur}"`, cur), cur, 'any of several');
  t.equal(ifMatchVersion('*', cur), cur, '* is whatever is current');
  t.equal(ifMatchVersion('"0123456789abcdef"', cur), '0123456789abcdef', 'a stale one comes back as sent: 409');
  t.equal(ifMatchVersion(['"0123456789abcdef"'], cur), '0123456789abcdef');
});
