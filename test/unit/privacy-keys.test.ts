import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CREDENTIAL_NAME, kekId, loadKek, newKek, parseKek, readKeyFile, writeKeyFile } from '../../src/privacy/index.ts';

t.test('key file: created 0600, never over an existing one, read back', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'keys', 'facegate.key');
  const kek = newKek();
  writeKeyFile(file, kek, { exclusive: true });
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(readKeyFile(file), kek);
  t.throws(() => writeKeyFile(file, newKek(), { exclusive: true }), { code: 'PRIVACY_KEY_EXISTS' });
  t.same(readKeyFile(file), kek, 'the first key is kept');
  const next = newKek();
  writeKeyFile(file, next, { exclusive: false });
  t.same(readKeyFile(file), next, 'replaced when asked');
});

t.test('key file: readable by others is refused with a chmod hint; missing and malformed are typed', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'k');
  writeFileSync(file, newKek().toString('base64'));
  chmodSync(file, 0o644);
  const err = t.throws(() => readKeyFile(file)) as unknown as { code: string; hint: string };
  t.equal(err.code, 'PRIVACY_KEY_FILE_INSECURE');
  t.match(err.hint, `chmod 600 ${file}`);
  t.throws(() => readKeyFile(join(dir, 'none')), { code: 'PRIVACY_MISSING_KEY' });
  chmodSync(file, 0o600);
  writeFileSync(file, 'not a key');
  t.throws(() => readKeyFile(file), { code: 'PRIVACY_BAD_KEY' });
  writeFileSync(file, Buffer.alloc(16).toString('base64'));
  t.throws(() => readKeyFile(file), { code: 'PRIVACY_BAD_KEY' }, '16 bytes is not a 256-bit key');
});

t.test('sources: environment variable, then systemd credential, then key file', async (t) => {
  const dir = t.testdir({ creds: {} });
  const file = join(dir, 'k');
  const fileKek = newKek();
  writeKeyFile(file, fileKek, { exclusive: true });
  const envKek = newKek();
  const credKek = newKek();
  writeFileSync(join(dir, 'creds', CREDENTIAL_NAME), credKek); // raw bytes, as systemd may hold them
  const creds = join(dir, 'creds');
  t.same(loadKek({ keyFile: file, env: {} }).kek, fileKek);
  t.equal(loadKek({ keyFile: file, env: {} }).kind, 'file');
  t.same(loadKek({ keyFile: file, env: { CREDENTIALS_DIRECTORY: creds } }).kek, credKek);
  t.same(loadKek({ keyFile: file, env: { CREDENTIALS_DIRECTORY: creds, FACEGATE_KEK: envKek.toString('base64') } }).kek, envKek);
  t.same(loadKek({ keyFile: file, keyEnv: 'MY_KEK', env: { MY_KEK: envKek.toString('base64'), FACEGATE_KEK: 'ignored' } }).kek, envKek);
  // An empty credentials folder falls through to the file.
  t.same(loadKek({ keyFile: file, env: { CREDENTIALS_DIRECTORY: join(dir, 'nowhere') } }).kek, fileKek);
  t.throws(() => loadKek({ env: {} }), { code: 'PRIVACY_MISSING_KEY' });
  t.throws(() => loadKek({ env: { FACEGATE_KEK: 'short' } }), { code: 'PRIVACY_BAD_KEY', message: /FACEGATE_KEK/ });
  // The error never carries the key itself.
  try {
    loadKek({ env: { FACEGATE_KEK: 'c2VjcmV0' } });
  } catch (e) {
    t.notMatch(JSON.stringify({ m: (e as Error).message, c: (e as { context: unknown }).context }), 'c2VjcmV0');
  }
  t.same(parseKek(`  ${envKek.toString('base64')}\n`, 'x'), envKek);
  t.equal(kekId(envKek).length, 16);
  t.equal(readFileSync(file, 'utf8').trim().length, 44);
});
