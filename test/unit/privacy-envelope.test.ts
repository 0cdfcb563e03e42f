import fc from 'fast-check';
import t from 'tap';
import { DataKeys, ENVELOPE_OVERHEAD, envelopeKeyId, kekId, newDataKey, open, PrivacyError, seal, unlockKeyring, wrapKey, type RecordPlace } from '../../src/privacy/index.ts';

const place: RecordPlace = { table: 'templates', column: 'embedding', id: 'tpl_0011223344556677' };
const code = (e: unknown): string | undefined => (e instanceof PrivacyError ? e.code : undefined);

t.test('seal/open: round trip, header carries the key id, overhead is fixed', async (t) => {
  const key = newDataKey();
  const plain = Buffer.from('a face template, 512 bytes in real life');
  const env = seal(key, 7, plain, place);
  t.equal(env.length, plain.length + ENVELOPE_OVERHEAD);
  t.equal(envelopeKeyId(env, place), 7);
  t.same(open(env, place, (id) => (id === 7 ? key : undefined)), plain);
  t.notOk(env.includes(plain), 'the plaintext does not appear in the envelope');
  // Two seals of the same record differ (random nonce).
  t.not(seal(key, 7, plain, place).toString('hex'), env.toString('hex'));
});

t.test('open: any flipped bit is detected (header, nonce, body, tag)', async (t) => {
  const key = newDataKey();
  const env = seal(key, 1, Buffer.alloc(64, 9), place);
  for (let i = 0; i < env.length; i++) {
    const bad = Buffer.from(env);
    bad[i] ^= 0x01;
    let err: unknown;
    try {
      open(bad, place, (id) => (id === 1 ? key : undefined));
    } catch (e) {
      err = e;
    }
    t.equal(code(err), 'PRIVACY_CORRUPT', `byte ${i}`);
  }
  t.throws(() => open(env.subarray(0, 20), place, () => key), { code: 'PRIVACY_CORRUPT' }, 'truncated');
});

t.test('open: a blob moved to another row, column or table fails; a wrong data key fails', async (t) => {
  const key = newDataKey();
  const env = seal(key, 1, Buffer.from('secret'), place);
  for (const other of [{ ...place, id: 'tpl_other' }, { ...place, column: 'pixels' }, { ...place, table: 'unknowns' }]) {
    t.throws(() => open(env, other, () => key), { code: 'PRIVACY_CORRUPT' }, JSON.stringify(other));
  }
  t.throws(() => open(env, place, () => newDataKey()), { code: 'PRIVACY_CORRUPT' }, 'another key');
  t.throws(() => open(env, place, () => undefined), { code: 'PRIVACY_CORRUPT', message: /data key 1/ }, 'key id not in the keyring');
});

t.test('property: any plaintext and place round-trip; any other place fails', async () => {
  const key = newDataKey();
  const placeArb = fc.record({ table: fc.string({ minLength: 1, maxLength: 12 }), column: fc.string({ minLength: 1, maxLength: 12 }), id: fc.string({ minLength: 1, maxLength: 40 }) });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), placeArb, placeArb, fc.integer({ min: 0, max: 0xffff_ffff }), (plain, p, q, keyId) => {
      const env = seal(key, keyId, plain, p);
      if (!open(env, p, () => key).equals(Buffer.from(plain))) return false;
      const same = p.table === q.table && p.column === q.column && p.id === q.id;
      // Labels are joined with '/', so distinct places may share a label: those must open.
      const sameLabel = `${p.table}/${p.column}/${p.id}` === `${q.table}/${q.column}/${q.id}`;
      if (same || sameLabel) return true;
      try {
        open(env, q, () => key);
        return false;
      } catch (e) {
        return code(e) === 'PRIVACY_CORRUPT';
      }
    }),
    { numRuns: 300 },
  );
});

t.test('keyring: unwrap with the right KEK; a wrong KEK is PRIVACY_WRONG_KEY naming both fingerprints', async (t) => {
  const kek = newDataKey();
  const other = newDataKey();
  const k1 = newDataKey();
  const k2 = newDataKey();
  const entries = [wrapKey(kek, 1, k1, 1), wrapKey(kek, 2, k2, 2)];
  const keys = unlockKeyring(entries, kek, 'gallery x') as DataKeys;
  t.equal(keys.active, 2, 'the newest key is active');
  t.same(keys.key(1), k1);
  t.same(keys.ids(), [1, 2]);
  t.equal(unlockKeyring([], kek, 'empty'), undefined, 'no keys yet');
  const err = t.throws(() => unlockKeyring(entries, other, 'gallery x')) as PrivacyError;
  t.equal(err.code, 'PRIVACY_WRONG_KEY');
  t.match(err.message, kekId(kek));
  t.match(err.message, kekId(other));
  t.ok(err.hint);
  // During a rotation both KEKs open it.
  const both = [...entries, wrapKey(other, 1, k1, 3), wrapKey(other, 2, k2, 3)];
  t.same(unlockKeyring(both, other, 'x')?.key(2), k2);
  t.same(unlockKeyring(both, kek, 'x')?.key(2), k2);
  // A keyring with a data key lacking a wrap under the given KEK is damaged, not "wrong key".
  t.throws(() => unlockKeyring([...entries, wrapKey(other, 3, newDataKey(), 4)], other, 'x'), { code: 'PRIVACY_CORRUPT' });
  // A tampered wrap.
  const bad = { ...entries[0], wrapped: Buffer.from(entries[0].wrapped) };
  bad.wrapped[20] ^= 1;
  t.throws(() => unlockKeyring([bad, entries[1]], kek, 'x'), { code: 'PRIVACY_CORRUPT' });
  // A wrap relabelled with another key id fails (the id is bound into the wrap).
  t.throws(() => unlockKeyring([{ ...entries[0], keyId: 2 }], kek, 'x'), { code: 'PRIVACY_CORRUPT' });
});

t.test('DataKeys: seal under the active key, open under any held key, withActive', async (t) => {
  const a = newDataKey();
  const keys = new DataKeys(new Map([[1, a]]), 1);
  const old = keys.seal(Buffer.from('x'), place);
  const next = keys.withActive(2, newDataKey());
  const fresh = next.seal(Buffer.from('y'), place);
  t.equal(envelopeKeyId(old, place), 1);
  t.equal(envelopeKeyId(fresh, place), 2);
  t.same(next.open(old, place), Buffer.from('x'));
  t.same(next.open(fresh, place), Buffer.from('y'));
  t.throws(() => keys.open(fresh, place), { code: 'PRIVACY_CORRUPT' });
  t.throws(() => new DataKeys(new Map(), 1), { code: 'PRIVACY_BAD_ARGUMENT' });
});
