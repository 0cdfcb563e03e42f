/**
 * Bounded config (issue 14): a file that passes `config check` must not be able to take the
 * service down. Strings, lists, nesting and the file itself have ceilings; the camera count has a
 * configurable limit and a warning above what the measured box runs; cameras start staggered;
 * credentials in query strings are warned about; no error or warning ever shows a secret.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Command } from 'commander';
import {
  cameraStartDelayMs,
  cameraStartDelays,
  capacityWarnings,
  ConfigError,
  configWarnings,
  credentialWarnings,
  newConfigWarnings,
  formatConfigPath,
  loadConfig,
  MAX_CONFIG_ISSUES,
  parseConfig,
  parseConfigText,
  registerConfigCommand,
  type ConfigIssue,
} from '../../src/config/index.ts';
import { configError } from '../helpers/config-error.ts';
import { tempDir } from '../helpers/unit-shard.ts';

const issueAt = (e: ConfigError, path: string): ConfigIssue | undefined => e.issues.find((i) => formatConfigPath(i.path) === path);
const paths = (e: ConfigError): string[] => e.issues.map((i) => formatConfigPath(i.path));
const cam = (id: string, extra: Record<string, unknown> = {}) => ({ id, url: `rtsp://192.0.2.1:554/${id}`, ...extra });
const cams = (n: number) => Array.from({ length: n }, (_, i) => cam(`c${i}`));
const camerasYaml = (n: number): string => Array.from({ length: n }, (_, i) => `  - { id: c${i}, url: 'rtsp://192.0.2.1:554/c${i}' }`).join('\n');

/** `facegate config check FILE` through commander, its lines and exit code. */
async function check(file: string): Promise<{ out: string[]; err: string[]; code: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().exitOverride();
  registerConfigCommand(program, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => '', stdinIsTty: () => true });
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'facegate', 'config', 'check', file]);
    return { out, err, code: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
  }
}

const dir = tempDir('facegate-config-limits-');
let files = 0;
const file = (text: string): string => {
  const f = join(dir, `c${files++}.yaml`);
  writeFileSync(f, text);
  return f;
};

t.test('a camera URL over 128 KiB fails `config check` with its path and line (it crashed spawn with E2BIG)', async (t) => {
  const long = `rtsp://192.0.2.1:554/${'x'.repeat(140_000)}`;
  const r = await check(file(`cameras:\n  - id: door\n    url: ${long}\n`));
  t.equal(r.code, 1, 'refused');
  t.same(r.out, [], 'no OK line');
  const text = r.err.join('\n');
  t.match(text, /c\d+\.yaml:3:5 cameras\[0\]\.url: too long: 140,021 characters, at most 4,096\n {2}fix: a camera URL is/);
  t.ok(text.length < 1000, `the error does not echo the URL (${text.length} characters)`);

  const atLimit = parseConfig({ cameras: [cam('door', { url: `rtsp://h/${'x'.repeat(4096 - 9)}` })] }).cameras[0].source;
  t.equal(atLimit.kind === 'rtsp' && atLimit.url.length, 4096, '4096 characters is accepted');
  const e = configError(() => parseConfig({ cameras: [{ id: 'door', source: { kind: 'rtsp', url: `rtsp://h/${'x'.repeat(4096 - 8)}` } }] }));
  t.same(paths(e), ['cameras[0].source.url'], 'the long form too, one character over');
});

t.test('every string has a ceiling: over it is an error at its path, at it is accepted', async (t) => {
  const s = (n: number, c = 'a') => c.repeat(n);
  const gate = (extra: Record<string, unknown>) => ({ cameras: [cam('door')], gates: [{ id: 'g', cameras: ['door'], ...extra }] });
  // [path, the document with a string of length n there, the ceiling]
  const cases: Array<[string, (n: number) => unknown, number]> = [
    ['cameras[0].name', (n) => ({ cameras: [cam('door', { name: s(n) })] }), 200],
    ['cameras[0].source.path', (n) => ({ cameras: [{ id: 'f', source: { kind: 'file', path: s(n) } }] }), 4096],
    ['cameras[0].source.pipeline', (n) => ({ cameras: [{ id: 'p', source: { kind: 'pipeline', pipeline: s(n) } }] }), 4096],
    ['cameras[0].decoder.custom', (n) => ({ cameras: [cam('door', { decoder: { custom: s(n) } })] }), 4096],
    ['cameras[0].detector.model', (n) => ({ cameras: [cam('door', { detector: { model: s(n) } })] }), 200],
    ['server.bind', (n) => ({ server: { bind: s(n) } }), 253],
    ['server.allowedOrigins[0]', (n) => ({ server: { allowedOrigins: [`https://${s(n - 17)}.com:8443`] } }), 300],
    ['server.tls.cert', (n) => ({ server: { tls: { cert: s(n), key: 'k.pem' } } }), 4096],
    ['models.embedder', (n) => ({ models: { embedder: s(n) } }), 200],
    ['events.db', (n) => ({ events: { db: s(n) } }), 4096],
    ['gallery.db', (n) => ({ gallery: { db: s(n) } }), 4096],
    ['gates[0].name', (n) => gate({ name: s(n) }), 200],
    ['gates[0].allow.identities[0]', (n) => gate({ allow: { identities: [s(n)] } }), 200],
    ['gates[0].actuation.webhook.url', (n) => gate({ actuation: { webhook: { url: `https://h/${s(n - 10)}`, secret: s(32) } } }), 4096],
    ['gates[0].actuation.webhook.secret', (n) => gate({ actuation: { webhook: { url: 'https://h/open', secret: s(n) } } }), 1024],
    ['gates[0].actuation.command.argv[1]', (n) => gate({ actuation: { command: { argv: ['/bin/true', s(n)] } } }), 4096],
  ];
  for (const [path, doc, max] of cases) {
    t.doesNotThrow(() => parseConfig(doc(max)), `${path}: ${max} characters accepted`);
    const e = configError(() => parseConfig(doc(max + 1)));
    t.same(paths(e), [path], `${path}: ${max + 1} characters refused`);
    t.match(issueAt(e, path)?.message, new RegExp(`^too long: ${(max + 1).toLocaleString('en-US')} characters, at most ${max.toLocaleString('en-US')}$`));
    t.ok(issueAt(e, path)?.hint, `${path} has a fix`);
  }
  // A string where no key is known (an unknown key's value) still has the general ceiling.
  t.same(paths(configError(() => parseConfig({ cameras: [cam('door', { extra: s(5000) })] }))), ['cameras[0].extra']);
});

t.test('lists are bounded: allowedOrigins, tokens, gates, allow lists, argv, zones, schedules', async (t) => {
  const origins = (n: number) => Array.from({ length: n }, (_, i) => `https://door${i}.example.com`);
  const e1 = configError(() => parseConfig({ server: { allowedOrigins: origins(65) } }));
  t.same(paths(e1), ['server.allowedOrigins']);
  t.equal(e1.issues[0].message, 'too many items: 65, at most 64');
  t.doesNotThrow(() => parseConfig({ server: { allowedOrigins: origins(64) } }));

  const token = (i: number) => ({ id: `t${i}`, role: 'viewer', sha256: i.toString(16).padStart(64, '0') });
  t.same(paths(configError(() => parseConfig({ auth: { tokens: Array.from({ length: 1001 }, (_, i) => token(i)) } }))), ['auth.tokens']);
  t.same(paths(configError(() => parseConfig({ gates: Array.from({ length: 1001 }, (_, i) => ({ id: `g${i}`, cameras: ['x'] })) }))), ['gates']);
  const gate = (extra: Record<string, unknown>) => ({ cameras: [cam('door')], gates: [{ id: 'g', cameras: ['door'], ...extra }] });
  t.same(paths(configError(() => parseConfig(gate({ allow: { identities: Array.from({ length: 10_001 }, (_, i) => `p${i}`) } })))), ['gates[0].allow.identities']);
  t.doesNotThrow(() => parseConfig(gate({ allow: { identities: Array.from({ length: 10_000 }, (_, i) => `p${i}`) } })), '10,000 identities on a gate are fine');
  t.same(paths(configError(() => parseConfig(gate({ actuation: { command: { argv: Array.from({ length: 65 }, () => 'x') } } })))), ['gates[0].actuation.command.argv']);
  const weekly = Array.from({ length: 65 }, () => ({ days: ['mon'], start: '08:00', end: '09:00' }));
  t.same(paths(configError(() => parseConfig(gate({ schedule: { timeZone: 'UTC', weekly } })))), ['gates[0].schedule.weekly']);
  const zones = Array.from({ length: 65 }, (_, i) => ({ id: `z${i}`, polygon: [[0, 0], [1, 0], [1, 1]] }));
  t.same(paths(configError(() => parseConfig({ cameras: [cam('door', { zones })] }))), ['cameras[0].zones']);
});

t.test('the file, its nesting and its aliases are bounded; a broken file lists at most 100 problems', async (t) => {
  // 9 MiB of comments: valid YAML, refused before it is parsed.
  const big = file(`# ${'x'.repeat(1022)}\n`.repeat(9 * 1024));
  const e = configError(() => loadConfig(big));
  t.equal(e.code, 'CONFIG_INVALID');
  t.match(e.issues[0].message, /^the file is too large: 9\.0 MiB, at most 8 MiB$/);

  // "Billion laughs": the yaml library throws a ReferenceError; it must be a typed config error.
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(', ')}]`)].join('\n');
  const bomb = configError(() => parseConfigText(laughs, 'bomb.yaml'));
  t.equal(bomb.code, 'CONFIG_SYNTAX');
  t.match(bomb.issues[0].message, /aliases/);
  // An alias with no anchor: a ReferenceError from the yaml library too (found by the fuzz test).
  const unresolved = configError(() => parseConfigText('logging: { level: info }\nserver: *nowhere\n', 'alias.yaml'));
  t.equal(unresolved.code, 'CONFIG_SYNTAX');
  t.same([unresolved.issues[0].line, unresolved.issues[0].col], [2, 9]);
  t.match(unresolved.describe(), /alias\.yaml:2:9: YAML alias used before its anchor/);

  let deep: unknown = 'x';
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  const d = configError(() => parseConfig({ cameras: [cam('door', { detector: deep })] }));
  t.equal(d.issues.length, 1);
  t.match(d.issues[0].message, /nested more than 32 levels deep/);
  t.equal(d.issues[0].path.length, 32);

  const many = configError(() => parseConfig({ limits: { maxCameras: 1000 }, cameras: Array.from({ length: 500 }, (_, i) => cam(`c${i}`, { fps: 'fast' })) }));
  t.equal(many.issues.length, MAX_CONFIG_ISSUES);
  t.equal(many.issues.at(-1)?.message, 'and 401 more problems not listed');
  t.match(many.message, /cameras\[0\]\.fps: expected number, got string \(and 99 more\)/);
});

t.test('camera count: limits.maxCameras (default 64), 2,000 cameras refused unless raised, then warned about', async (t) => {
  const c = parseConfig({});
  t.same(c.limits, { maxCameras: 64, cameraStartStaggerMs: 200 }, 'defaults from the schema');
  t.equal(parseConfig({ cameras: cams(64) }).cameras.length, 64);
  const over = configError(() => parseConfig({ cameras: cams(65) }));
  t.same(paths(over), ['cameras']);
  t.equal(over.issues[0].message, '65 cameras: more than limits.maxCameras (64)');
  t.match(over.issues[0].hint, /raise `limits: \{ maxCameras: 65 \}`.*measured at 4 cameras \(720p, 5 fps\)/);

  const r = await check(file(`cameras:\n${camerasYaml(2000)}\n`));
  t.equal(r.code, 1, '2,000 cameras fail config check');
  t.match(r.err.join('\n'), /:1:1 cameras: 2,000 cameras: more than limits\.maxCameras \(64\)\n {2}fix: remove cameras, or raise `limits: \{ maxCameras: 2000 \}`/);
  t.ok(r.err.join('\n').length < 1000, 'one problem, not 2,000 lines');

  const raised = await check(file(`limits: { maxCameras: 2000 }\ncameras:\n${camerasYaml(2000)}\n`));
  t.equal(raised.code, 0, 'accepted once the limit is raised');
  t.match(raised.out[0], /: 2000 cameras, 0 gates/);
  const warned = raised.err.join('\n');
  t.match(warned, /warning: 2,000 cameras on \d+ CPU cores?: about \d+ fit here \(measured: 4 cameras at 720p \/ 5 fps on 2 cores, ~2 per core\)/);
  t.match(warned, /warning: starting 2,000 cameras 200 ms apart \(limits\.cameraStartStaggerMs\) takes 400 s/);

  const ceiling = configError(() => parseConfig({ limits: { maxCameras: 10_001 } }));
  t.same(paths(ceiling), ['limits.maxCameras']);
  t.equal(ceiling.issues[0].message, 'must be <= 10000, got 10001');
  const huge = configError(() => parseConfig({ limits: { maxCameras: 10_001 }, cameras: cams(10_001) }));
  t.match(issueAt(huge, 'cameras')?.message, /10,001 cameras: more than limits\.maxCameras \(64\)/, 'an invalid limit counts as the default');
});

t.test('capacity warnings follow the cores of the machine: ~2 cameras per core, as measured', async (t) => {
  const cfg = (n: number, staggerMs = 200) => parseConfig({ limits: { maxCameras: 1000, cameraStartStaggerMs: staggerMs }, cameras: cams(n) });
  t.same(capacityWarnings(cfg(4), 2), [], '4 cameras on 2 cores: the measured figure');
  const five = capacityWarnings(cfg(5), 2);
  t.equal(five.length, 1);
  t.equal(five[0], '5 cameras on 2 CPU cores: about 4 fit here (measured: 4 cameras at 720p / 5 fps on 2 cores, ~2 per core); expect dropped frames and slow API answers (lower fps or size, or spread the cameras over more machines)');
  t.same(capacityWarnings(cfg(32), 16), []);
  t.equal(capacityWarnings(cfg(33), 16).length, 1);
  t.match(capacityWarnings(cfg(3), 1)[0], /^3 cameras on 1 CPU core: about 2 fit here/);
  t.same(capacityWarnings(cfg(301, 200), 1000), [], '300 x 200 ms = 60 s start-up: no warning yet');
  t.match(capacityWarnings(cfg(302, 200), 1000), [/takes 60 s before the last one runs/]);
  t.same(capacityWarnings(cfg(900, 0), 1000), [], 'no stagger: no start-up warning');
  t.same(configWarnings(cfg(5), { cores: 2 }).filter((w) => w.includes('CPU core')).length, 1, 'configWarnings includes it');
  t.same(configWarnings(cfg(5), { cores: 4 }).filter((w) => w.includes('CPU core')).length, 0);
});

t.test('hot reload warns about what the edit brought in, not again about what was there', async (t) => {
  const host = { cores: 2 };
  const four = parseConfig({ cameras: cams(4) });
  const six = parseConfig({ cameras: cams(6) });
  const sixWithQuery = parseConfig({ cameras: [...cams(5), cam('q', { url: `rtsp://h/q?password=${'x'.repeat(8)}` })] });
  t.same(newConfigWarnings(four, four, host), []);
  t.match(newConfigWarnings(four, six, host), [/^6 cameras on 2 CPU cores/]);
  t.same(newConfigWarnings(six, six, host), [], 'logged at start (or at the last reload): not repeated');
  const added = newConfigWarnings(six, sixWithQuery, host);
  t.equal(added.length, 1, 'only the new credential warning (the capacity one is unchanged)');
  t.match(added[0], /^cameras\[5\] \('q'\): the camera URL carries a credential/);
  t.same(newConfigWarnings(six, four, host), [], 'fewer cameras: nothing new');
});

t.test('staggered start-up: each camera waits index x cameraStartStaggerMs', async (t) => {
  t.same([...cameraStartDelays(['a', 'b', 'c'], 200)], [['a', 0], ['b', 200], ['c', 400]]);
  t.same([...cameraStartDelays(['a', 'b'], 0)], [['a', 0], ['b', 0]]);
  t.same([...cameraStartDelays([], 200)], []);
  t.equal(cameraStartDelayMs(1999, 200), 399_800);
  t.throws(() => cameraStartDelayMs(-1, 200), RangeError);
  t.throws(() => cameraStartDelayMs(1.5, 200), RangeError);
  t.throws(() => cameraStartDelayMs(1, -5), RangeError);
  t.throws(() => cameraStartDelayMs(1, Number.NaN), RangeError);
  t.equal(parseConfig({ limits: { cameraStartStaggerMs: 0 } }).limits.cameraStartStaggerMs, 0);
  t.same(paths(configError(() => parseConfig({ limits: { cameraStartStaggerMs: 60_001 } }))), ['limits.cameraStartStaggerMs']);
  t.same(paths(configError(() => parseConfig({ limits: { cameraStartStaggerMs: -1 } }))), ['limits.cameraStartStaggerMs']);
  t.same(paths(configError(() => parseConfig({ limits: { maxCamera: 3 } }))), ['limits.maxCamera'], 'strict like every section');
});

const SECRET = 'Hunter2-s3cret';

t.test('`config check` warns about credentials in query strings and never prints them', async (t) => {
  const yaml = [
    'cameras:',
    `  - { id: door, url: 'rtsp://192.0.2.1:554/stream?user=admin&password=${SECRET}' }`,
    `  - { id: yard, source: { kind: rtsp, url: 'rtsp://192.0.2.2/live?PWD=${SECRET}&token=${SECRET}' } }`,
    `  - { id: hall, url: 'rtsp://admin:${SECRET}@192.0.2.3/stream' }`,
    `  - { id: side, url: 'rtsp://admin:P@ss-${SECRET}@192.0.2.4/stream' }`,
    'gates:',
    `  - { id: g, cameras: [door], actuation: { webhook: { url: 'https://door.local/open?key=${SECRET}', secret: '0123456789abcdef' } } }`,
    '',
  ].join('\n');
  const r = await check(file(yaml));
  t.equal(r.code, 0, 'a warning, not an error');
  const all = [...r.out, ...r.err].join('\n');
  t.notMatch(all, /s3cret/, 'the secret is printed nowhere');
  const warnings = r.err.filter((l) => l.startsWith('warning: '));
  t.match(warnings, [/./, /./, /./, /./], 'tokens, two cameras, one webhook');
  t.ok(warnings.some((w) => /^warning: cameras\[0\] \('door'\): the camera URL carries a credential in its query string \('password'\); .*userinfo/.test(w)), 'door: password named');
  t.ok(warnings.some((w) => /^warning: cameras\[1\] \('yard'\): .*\('PWD', 'token'\)/.test(w)), 'yard: both names, as written');
  t.ok(warnings.some((w) => /^warning: gates\[0\]\.actuation\.webhook\.url \('g'\): the webhook URL carries a credential in its query string \('key'\)/.test(w)), 'webhook');
  t.notOk(warnings.some((w) => /hall|side/.test(w)), 'userinfo credentials are the expected form: no warning');

  const c = parseConfig({ cameras: [cam('door'), cam('x', { url: 'rtsp://h/x?channel=1&subtype=0' })] });
  t.same(credentialWarnings(c), [], 'ordinary query parameters are not credentials');
});

t.test('no config error shows a secret, wherever the file puts it', async (t) => {
  const url = `rtsp://admin:${SECRET}@192.0.2.1/stream`;
  const docs: Array<[string, unknown]> = [
    ['URL with a bad sibling', { cameras: [{ id: 'a', url, fps: 'fast' }] }],
    ['URL as a camera id', { cameras: [{ id: url, url }] }],
    ['URL as a duplicate camera id', { cameras: [{ id: url, url }, { id: url, url }] }],
    ['URL as a gate camera', { cameras: [cam('door')], gates: [{ id: 'g', cameras: [url] }] }],
    ['URL as a gate id', { cameras: [cam('door')], gates: [{ id: url, cameras: ['nope'] }] }],
    ['URL as an anti-passback pair', { cameras: [cam('door')], gates: [{ id: 'g', cameras: ['door'], antiPassback: { pairedGateId: url, direction: 'entry' } }] }],
    ['URL as the bind address with auth off', { server: { bind: url }, auth: { enabled: false } }],
    ['URL as an unknown key', { cameras: [{ ...cam('door'), [url]: 1 }] }],
    ['URL as a decoder', { cameras: [cam('door', { decoder: url })] }],
    ['URL as a source kind', { cameras: [{ id: 'a', source: { kind: url } }] }],
    ['URL in a codec', { cameras: [{ id: 'a', source: { kind: 'rtsp', url, codec: `h264 ${url}` } }] }],
    ['URL as a log level', { logging: { level: `rtsp://a:${SECRET}@h` } }],
    ['query secret in a too-long URL', { cameras: [{ id: 'a', url: `rtsp://h/${'x'.repeat(5000)}?password=${SECRET}` }] }],
    ['query secret in a webhook', { cameras: [cam('door')], gates: [{ id: 'g', cameras: ['door'], actuation: { webhook: { url: `ftp://h/?token=${SECRET}`, secret: 'short' } } }] }],
    ['secret as a token hash', { auth: { tokens: [{ id: 'a', role: 'viewer', sha256: SECRET }] } }],
    ['secret as a time zone', { cameras: [cam('door')], gates: [{ id: 'g', cameras: ['door'], schedule: { timeZone: `password=${SECRET}` } }] }],
  ];
  for (const [what, doc] of docs) {
    const e = configError(() => parseConfig(doc, 'facegate.yaml'));
    const shown = [e.message, e.describe(), String(e.hint), ...e.issues.map((i) => `${formatConfigPath(i.path)} ${i.message} ${i.hint ?? ''}`)].join('\n');
    t.notMatch(shown, /s3cret/, what);
  }

  // The same through a file and `config check`, YAML positions included.
  const r = await check(file(`server: { bind: '${url}' }\nauth: { enabled: false }\ncameras:\n  - id: '${url}'\n    url: ${url}\n    '${url}': 1\n`));
  t.equal(r.code, 1);
  t.notMatch(r.err.join('\n'), /s3cret/);
  t.match(r.err.join('\n'), /rtsp:\/\/\*\*\*@192\.0\.2\.1\/stream/, 'shown redacted, so a person still sees which value it is');
});
