/**
 * Property-based fuzzing (fast-check, fixed seed, bounded runs) of the config parser: for any
 * JSON value, any mutation of a valid file and any YAML-ish text, parseConfig/parseConfigText
 * either return a config within every bound or throw a ConfigError whose every issue has a
 * well-formed path and a short message; never another exception, and never a planted secret in
 * the error text.
 */
import fc from 'fast-check';
import t from 'tap';
import { boundsIssues, formatConfigPath, isConfigError, MAX_CONFIG_ISSUES, parseConfig, parseConfigText, type Config } from '../../src/config/index.ts';

const SEED = 14_2026;

/** The property every outcome must have. Returns the error (or undefined) for further checks. */
function check(run: () => Config, label: () => string): { error?: import('../../src/config/index.ts').ConfigError } {
  let config: Config;
  try {
    config = run();
  } catch (e) {
    if (!isConfigError(e)) throw new Error(`threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (not a ConfigError) for ${label()}`);
    if (!['CONFIG_INVALID', 'CONFIG_SYNTAX'].includes(e.code)) throw new Error(`unexpected code ${e.code}`);
    if (e.issues.length === 0 || e.issues.length > MAX_CONFIG_ISSUES) throw new Error(`${e.issues.length} issues for ${label()}`);
    for (const i of e.issues) {
      if (!Array.isArray(i.path) || !i.path.every((s) => typeof s === 'string' || (Number.isInteger(s) && s >= 0))) throw new Error(`bad path ${JSON.stringify(i.path)}`);
      if (typeof i.message !== 'string' || i.message.length === 0 || i.message.length > 1000) throw new Error(`message of ${String(i.message?.length)} characters at ${formatConfigPath(i.path)}: ${i.message?.slice(0, 200)}`);
      if (i.hint !== undefined && (typeof i.hint !== 'string' || i.hint.length === 0)) throw new Error(`empty hint at ${formatConfigPath(i.path)}`);
      if (formatConfigPath(i.path).length > 2000) throw new Error('path shown over 2000 characters');
    }
    if (typeof e.describe() !== 'string' || e.message.length === 0) throw new Error('no text');
    return { error: e };
  }
  if (!Object.isFrozen(config)) throw new Error('accepted config is not frozen');
  const over = boundsIssues(config);
  if (over.length > 0) throw new Error(`accepted a config over a bound: ${formatConfigPath(over[0].path)} ${over[0].message}`);
  return {};
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 400 ? `${s.slice(0, 400)}...` : s;
};

/** A valid file using most sections, the base the mutations start from. */
const BASE = {
  server: { bind: '127.0.0.1', port: 8640, allowedOrigins: ['https://door.example.com'], limits: { maxConnections: 100 } },
  auth: { enabled: true, tokens: [{ id: 'desk', role: 'operator', sha256: 'a'.repeat(64) }] },
  models: { threads: 2, liveness: { enabled: true } },
  limits: { maxCameras: 8, cameraStartStaggerMs: 100 },
  cameras: [
    { id: 'door', name: 'Door', url: 'rtsp://admin:pw@192.0.2.1:554/s', fps: 5, detector: { size: 320 }, zones: [{ id: 'z', polygon: [[0, 0], [1, 0], [1, 1]] }] },
    { id: 'clip', source: { kind: 'file', path: 'clip.mp4', loop: true } },
    { id: 'bars', source: { kind: 'test', pattern: 'ball' }, decoder: { custom: 'avdec_h264' } },
  ],
  recognition: { thresholds: { masked: 0.6 } },
  gates: [
    {
      id: 'in',
      cameras: ['door'],
      allow: { groups: ['staff'], identities: ['ann'] },
      schedule: { timeZone: 'Europe/Berlin', weekly: [{ days: ['mon', 'fri'], start: '07:00', end: '19:00' }], exceptions: [{ date: '2026-12-25', closed: true }] },
      liveness: { required: true },
      antiPassback: { pairedGateId: 'out', direction: 'entry' },
      actuation: { webhook: { url: 'https://door.local/open', secret: '0123456789abcdef' } },
    },
    { id: 'out', cameras: ['clip'], antiPassback: { pairedGateId: 'in', direction: 'exit' }, actuation: { command: { argv: ['/bin/true', 'x'] } } },
  ],
  events: { db: 'e.sqlite', retention: { maxAgeDays: 3 }, snapshots: { dir: 'snaps' } },
  gallery: { db: 'g.sqlite' },
  logging: { level: 'warn' },
};

type Path = (string | number)[];
/** Every path of a JSON value (objects and arrays included). */
function allPaths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...allPaths(x, [...at, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...allPaths(x, [...at, k]));
  return out;
}
const PATHS = allPaths(BASE).filter((p) => p.length > 0);

type Mutation = { kind: 'set'; path: Path; value: unknown } | { kind: 'delete'; path: Path } | { kind: 'key'; path: Path; key: string; value: unknown };

function mutate(doc: unknown, m: Mutation): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  const parentPath = m.kind === 'key' ? m.path : m.path.slice(0, -1);
  let parent: unknown = copy;
  // An earlier mutation may have removed or replaced part of the path: then this one is a no-op.
  for (const seg of parentPath) parent = typeof parent === 'object' && parent !== null ? (parent as Record<string | number, unknown>)[seg] : undefined;
  if (typeof parent !== 'object' || parent === null) return copy;
  const p = parent as Record<string | number, unknown>;
  if (m.kind === 'key') p[m.key] = m.value;
  else if (m.kind === 'delete') {
    if (Array.isArray(p)) p.splice(Number(m.path.at(-1)), 1);
    else delete p[m.path.at(-1) as string];
  } else p[m.path.at(-1) as string | number] = m.value;
  return copy;
}

/** Values a person (or an attacker) might put anywhere. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('', ' ', 'rtsp://', '0', 'true', 'null', '-1', '1e309', '../../etc/passwd', '\u0000', '💥', '__proto__', 'constructor'),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, -(2 ** 31), 0.5, 65_536, 10_001),
  fc.integer({ min: 4000, max: 6000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 60, max: 1200 }).map((n) => Array.from({ length: n }, (_, i) => `i${i}`)),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value: oddValue }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }),
  fc.record({
    kind: fc.constant('key' as const),
    path: fc.constantFrom([] as Path, ...PATHS.filter((p) => !Array.isArray(p.reduce<unknown>((v, s) => (v as Record<string | number, unknown>)[s], BASE)))),
    key: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'id', 'url', 'limits')),
    value: oddValue,
  }),
);

t.test('the base document is valid (the mutations start from a real config)', async (t) => {
  t.doesNotThrow(() => parseConfig(BASE));
  t.ok(PATHS.length > 80, `${PATHS.length} paths to mutate`);
});

t.test('any JSON value: a config within bounds or a ConfigError with paths and messages', async () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
      check(() => parseConfig(v), () => show(v));
    }),
    { seed: SEED, numRuns: 700 },
  );
  fc.assert(
    fc.property(fc.anything({ maxDepth: 4, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true }), (v) => {
      check(() => parseConfig(v), () => show(v));
    }),
    { seed: SEED + 1, numRuns: 250 },
  );
});

t.test('one to three mutations of a valid file: a config within bounds or a ConfigError', async () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      const doc = ms.reduce<unknown>((d, m) => mutate(d, m), BASE);
      check(() => parseConfig(doc), () => show(ms));
    }),
    { seed: SEED + 2, numRuns: 700 },
  );
});

/** YAML-ish lines: real keys, indentation, list items, flow collections, anchors, tags, quotes. */
const KEYS = [...new Set(PATHS.map((p) => p.at(-1)).filter((k): k is string => typeof k === 'string'))];
const scalar = fc.oneof(
  fc.constantFrom('', '~', 'null', 'true', 'no', '0x1F', '1e3', '.inf', '-.nan', '5', '-1', '2026-12-25', '07:00', "'quoted'", '"dq\\n"', '"unterminated', "'open", '|', '>-', '[]', '{}', '[a, b', '{a: 1', '&a x', '*a', '*missing', '!!str 5', '!!binary aGk=', '!!set {a}', '!custom x', '? x', '%YAML 1.2', '---', '...', '# c', '\t', 'rtsp://u:p@h/x'),
  fc.string({ maxLength: 12 }),
);
const yamlLine = fc
  .tuple(fc.constantFrom('', '  ', '    ', '      ', '\t', ' '), fc.constantFrom('', '- ', '-  ', '? '), fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), fc.constantFrom(': ', ':', ' : ', ': &x ', ': *x ', ': !!int ', ''), scalar)
  .map(([indent, dash, key, colon, value]) => `${indent}${dash}${key}${colon}${value}`);

t.test('YAML-ish text: parseConfigText returns a config or throws a ConfigError, nothing else', async () => {
  fc.assert(
    fc.property(fc.array(yamlLine, { maxLength: 25 }), fc.constantFrom('\n', '\r\n', '\r'), (lines, eol) => {
      const text = lines.join(eol);
      check(() => parseConfigText(text, 'fuzz.yaml'), () => JSON.stringify(text));
    }),
    { seed: SEED + 3, numRuns: 700 },
  );
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
      check(() => parseConfigText(text, 'fuzz.yaml'), () => JSON.stringify(text));
    }),
    { seed: SEED + 4, numRuns: 700 },
  );
  // Mutated valid files, written out as YAML by hand-rolled flow style (JSON is YAML).
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (ms) => {
      const text = JSON.stringify(ms.reduce<unknown>((d, m) => mutate(d, m), BASE), null, 1) ?? '';
      check(() => parseConfigText(text, 'fuzz.yaml'), () => show(ms));
    }),
    { seed: SEED + 5, numRuns: 250 },
  );
});

t.test('a secret planted anywhere in a file never appears in the error', async () => {
  const secret = fc.stringMatching(/^[A-Za-z0-9]{6,12}$/).map((s) => `Zq${s}9`);
  const plant = fc.record({
    path: fc.constantFrom(...PATHS),
    form: fc.constantFrom('userinfo', 'query', 'key', 'unencoded-at'),
    other: fc.array(mutation, { maxLength: 2 }),
  });
  fc.assert(
    fc.property(secret, plant, (s, p) => {
      const url = p.form === 'query' ? `rtsp://192.0.2.9/live?password=${s}` : p.form === 'unencoded-at' ? `rtsp://admin:P@${s}@192.0.2.9/live` : `rtsp://admin:${s}@192.0.2.9/live`;
      const planted: Mutation = p.form === 'key' ? { kind: 'key', path: p.path.slice(0, -1), key: url, value: 1 } : { kind: 'set', path: p.path, value: url };
      const doc = [...p.other, planted].reduce<unknown>((d, m) => mutate(d, m), BASE);
      const { error } = check(() => parseConfig(doc, 'planted.yaml'), () => show(p));
      if (!error) return;
      const text = [error.message, error.describe(), ...error.issues.map((i) => `${JSON.stringify(i.path)} ${i.message} ${i.hint ?? ''}`)].join('\n');
      if (text.includes(s)) throw new Error(`the secret appears in: ${text.slice(0, 500)}`);
    }),
    { seed: SEED + 6, numRuns: 250 },
  );
});
