/** src/redact.ts: every form a secret can take in a URL or a property line, and property tests. */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import t from 'tap';
import { FacegateError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { isSecretParamName, redactText, redactUrl, redactValue, urlSecrets } from '../../src/redact.ts';

const SEED = 1414;

t.test('userinfo, including an unencoded @ in the password', async (t) => {
  t.equal(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/stream'), 'rtsp://***@10.0.0.5:554/stream');
  t.equal(redactUrl('rtsp://admin:P@ss@host/'), 'rtsp://***@host/');
  t.equal(redactUrl('rtsp://admin:p/a?s#s@host:554/x'), 'rtsp://***@host:554/x');
  t.equal(redactUrl('rtsp://admin@host/x'), 'rtsp://***@host/x');
  t.equal(redactUrl('rtsp://cam.local/stream'), 'rtsp://cam.local/stream');
  t.equal(redactUrl('rtsp://admin:s3cr%40t@h/'), 'rtsp://***@h/');
});

t.test('secret query and fragment parameters, case-insensitive', async (t) => {
  t.equal(redactUrl('rtsp://h/s?user=admin&password=hunter2&ch=1'), 'rtsp://h/s?user=admin&password=***&ch=1');
  for (const name of ['password', 'PASS', 'pwd', 'Passwd', 'token', 'key', 'Secret', 'auth', 'signature', 'access_token', 'X-Amz-Signature', 'refresh_token', 'api_key'])
    t.equal(redactUrl(`http://h/x?${name}=zz9&a=b`), `http://h/x?${name}=***&a=b`, name);
  t.equal(redactUrl('https://h/cb#access_token=abc&state=1'), 'https://h/cb#access_token=***&state=1');
  t.equal(redactUrl('https://h/cb?a=1#token=abc'), 'https://h/cb?a=1#token=***');
  t.equal(redactUrl('http://h/x?monkey=1&keyboard=2'), 'http://h/x?monkey=1&keyboard=2', 'names that only contain a secret word stay');
  t.notOk(isSecretParamName('channel'));
});

t.test('urlSecrets says what a config check warns about', async (t) => {
  t.same(urlSecrets('rtsp://admin:pw@h/?token=1&x=2'), [
    { kind: 'userinfo', name: 'password' },
    { kind: 'query', name: 'token' },
  ]);
  t.same(urlSecrets('rtsp://admin@h/'), [{ kind: 'userinfo', name: 'user' }]);
  t.same(urlSecrets('rtsp://h/stream?Password=x'), [{ kind: 'query', name: 'Password' }]);
  t.same(urlSecrets('rtsp://h/stream'), []);
  t.same(urlSecrets('not a url'), []);
});

t.test('redactText: URLs in free text and RTSP-style properties', async (t) => {
  t.equal(
    redactText('Could not open resource for reading (rtsp://admin:P@ss@10.0.0.5/s1?token=abc), retrying'),
    'Could not open resource for reading (rtsp://***@10.0.0.5/s1?token=***), retrying',
  );
  t.equal(redactText('rtspsrc location=rtsp://h/x user-id=admin user-pw=hunter2 latency=0'), 'rtspsrc location=rtsp://h/x user-id=*** user-pw=*** latency=0');
  t.equal(redactText('rtspsrc user-pw="two words" ! x'), 'rtspsrc user-pw="***" ! x');
  t.equal(redactText('{"password":"abc","x":1}'), '{"password":"***","x":1}');
  t.equal(redactText('a "rtsp://u:p@h/x" b "rtsp://v:q@g/y"'), 'a "rtsp://***@h/x" b "rtsp://***@g/y"');
  t.equal(redactText('nothing to hide here'), 'nothing to hide here');
});

t.test('redactValue walks objects, arrays and errors', async (t) => {
  const e = new FacegateError('BAD_ARGUMENT', 'connect rtsp://a:topsecret@h/ failed', { context: { url: 'rtsp://a:topsecret@h/' }, cause: new Error('x?password=topsecret') });
  const v = redactValue({ url: 'rtsp://a:topsecret@h/', list: ['x?token=topsecret'], err: e, n: 1 }) as Record<string, unknown>;
  t.notMatch(JSON.stringify(v), /topsecret/);
  t.equal(v.n, 1);
  const err = v.err as FacegateError;
  t.ok(err instanceof FacegateError, 'an Error stays an instance of its class');
  t.equal(err.message, 'connect rtsp://***@h/ failed');
  t.notMatch(`${err.stack} ${String((err.cause as Error).message)} ${JSON.stringify(err.context)}`, /topsecret/, 'stack, cause and context redacted');
  t.equal(err.code, 'BAD_ARGUMENT');
  t.equal(e.message, 'connect rtsp://a:topsecret@h/ failed', 'the original error is untouched');
  const lines: string[] = [];
  const log = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  log.error({ err: e }, 'failed');
  log.error(e);
  const out = lines.join('');
  t.notMatch(out, /topsecret/);
  t.match(out, /"type":"FacegateError"/, 'pino still names the class');
  const cyc: Record<string, unknown> = { a: 1 };
  cyc.self = cyc;
  t.doesNotThrow(() => redactValue(cyc));
});

/** Secrets with every character that breaks naive parsers, plus unicode. */
const secretArb = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019@:/?#%&=!$+,;[]~é漢🔑'.split(/(?:)/u)), minLength: 6, maxLength: 24 })
  .filter((s) => /[a-zA-Z0-9é漢🔑]{2}/u.test(s));
const MARK = (s: string) => `Zq${s}Zq`;

function forms(secret: string): Array<{ form: string; url: string; needles: string[] }> {
  const enc = encodeURIComponent(secret);
  const s = MARK(secret);
  const sEnc = encodeURIComponent(s);
  return [
    { form: 'raw password', url: `rtsp://admin:${s}@cam.example:554/stream1`, needles: [s, sEnc] },
    { form: 'raw user + password', url: `rtsp://${s}:${s}@cam.example/`, needles: [s, sEnc] },
    { form: 'encoded password', url: `rtsp://admin:${sEnc}@cam.example/x?ch=1`, needles: [s, sEnc, enc] },
    { form: 'query password', url: `rtsp://cam.example/s?user=admin&password=${sEnc}&ch=1`, needles: [s, sEnc] },
    { form: 'query token first', url: `http://cam.example/api?token=${sEnc}`, needles: [s, sEnc] },
    { form: 'fragment token', url: `https://cam.example/cb#access_token=${sEnc}`, needles: [s, sEnc] },
    { form: 'both', url: `rtsp://u:${s}@cam.example/s?pwd=${sEnc}`, needles: [s, sEnc] },
  ];
}

t.test('property: a secret never survives redactUrl, in any URL form', async (t) => {
  fc.assert(
    fc.property(secretArb, (secret) => {
      for (const f of forms(secret)) {
        const out = redactUrl(f.url);
        for (const n of f.needles) if (out.includes(n)) throw new Error(`${f.form}: ${JSON.stringify(n)} in ${out}`);
        if (!out.includes('cam.example')) throw new Error(`${f.form}: host lost in ${out}`);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
  t.pass('400 runs x 7 forms');
});

t.test('property: a secret never survives redactText inside free text and log lines', async (t) => {
  const logged: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged.push(chunk.toString());
      cb();
    },
  });
  const log = createLogger({ level: 'info', destination: dest });
  fc.assert(
    fc.property(secretArb, fc.constantFrom('(', ' ', '"', "'", 'url='), (secret, before) => {
      for (const f of forms(secret)) {
        const text = `error: ${before}${f.url}${before === '(' ? ')' : before === 'url=' ? '' : before}: Could not connect`;
        const out = redactText(text);
        for (const n of f.needles) if (out.includes(n)) throw new Error(`${f.form}: ${JSON.stringify(n)} in ${out}`);
        logged.length = 0;
        log.info({ camera: 'door', url: f.url, nested: { list: [text] }, err: new Error(text) }, text);
        log.child({ url: f.url }).warn('%s', text);
        const all = logged.join('');
        for (const n of f.needles) {
          for (const n2 of [n, JSON.stringify(n).slice(1, -1)]) if (all.includes(n2)) throw new Error(`log ${f.form}: ${JSON.stringify(n2)} in ${all}`);
        }
      }
    }),
    { seed: SEED, numRuns: 150 },
  );
  t.pass('150 runs x 7 forms x 5 wrappers, text and log lines');
});

t.test('property: RTSP properties in a pipeline line', async (t) => {
  fc.assert(
    fc.property(secretArb.filter((s) => !/["\s]/.test(s)), (secret) => {
      const s = MARK(secret);
      const out = redactText(`rtspsrc location=rtsp://cam.example/x user-id=${s} user-pw=${s} ! fakesink`);
      if (out.includes(s)) throw new Error(out);
      const quoted = redactText(`rtspsrc user-pw="${s} ${s}" ! fakesink`);
      if (quoted.includes(s)) throw new Error(quoted);
    }),
    { seed: SEED, numRuns: 200 },
  );
  t.pass();
});

t.test('property: redactUrl never throws and is idempotent on arbitrary strings', async (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const once = redactUrl(s);
      if (redactUrl(once) !== once) throw new Error(`not idempotent: ${once}`);
      redactText(s);
      urlSecrets(s);
    }),
    { seed: SEED, numRuns: 500 },
  );
  t.pass();
});
