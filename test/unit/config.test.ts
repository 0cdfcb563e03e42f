import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  ConfigError,
  configJsonSchema,
  configSchema,
  configWarnings,
  diffConfig,
  formatConfigErrors,
  formatConfigPath,
  hashToken,
  ingestCameraConfig,
  loadConfig,
  parseConfig,
  parseConfigText,
  registerConfigCommand,
  verifyToken,
  type Config,
  type ConfigInput,
  type ConfigIssue,
} from '../../src/config/index.ts';
import { configError } from '../helpers/config-error.ts';

const ROOT = resolve(import.meta.dirname, '../..');


const paths = (e: ConfigError): string[] => e.issues.map((i) => formatConfigPath(i.path));
const issueAt = (e: ConfigError, path: string): ConfigIssue | undefined => e.issues.find((i) => formatConfigPath(i.path) === path);

const cam = (id: string, extra: Record<string, unknown> = {}) => ({ id, url: `rtsp://192.0.2.1:554/${id}`, ...extra });

t.test('defaults: an empty mapping gives every default, from the schema', async (t) => {
  const c = parseConfig({}, 'empty');
  t.same(c.server, {
      bind: '127.0.0.1',
      port: 8640,
      allowedOrigins: [],
      maxMessageBytes: 65536,
      wsSendBufferMessages: 1000,
      limits: { maxConnections: 1024, maxConnectionsPerAddress: 64, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, idleTimeoutMs: 5000, authFailuresPerMinute: 20 },
    });
  t.same(c.auth, { enabled: true, tokens: [] });
  t.same(c.models, { executionProvider: 'cpu', providers: {}, threads: 0, sessionThread: 'main', embedder: 'w600k_mbf_dq', mask: 'seetaface6_mask', liveness: { enabled: true, models: ['minifasnet_v2', 'minifasnet_v1se'], window: 30, minFrames: 5 } });
  t.same(c.recognition, { thresholds: {}, maskThreshold: 0.5, bestShot: { minQuality: 0.15, improvement: 0.2, maxRuns: 4, confirmRuns: 3, minGapFrames: 3 }, enrollment: { minEyeDistance: 30, maxYaw: 0.45, maxPitch: 0.35, minSharpness: 150 }, negativeMargin: 0.05 }, 'thresholds unset: the embedder calibration decides');
  t.same(c.events, { db: 'data/events.sqlite', retention: { maxAgeDays: 30, maxEvents: 1_000_000 }, snapshots: { dir: 'data/snapshots', retentionDays: 7, blurOthers: false }, outputs: { ws: { enabled: true } } });
  t.same(c.gallery, { db: 'data/gallery.sqlite' });
  t.same(c.logging, { level: 'info' });
  t.same(c.cameras, []);
  t.same(c.gates, []);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.server), 'the parsed config is frozen');
  t.strictSame(configSchema.parse({}), c, 'configSchema alone gives the same defaults');
});

t.test('defaults: a camera from the url shorthand, partial nested objects keep their other defaults', async (t) => {
  const c = parseConfig({ cameras: [cam('door', { detector: { size: 320 }, watchdog: { stallMs: 2000 } })], recognition: { thresholds: { masked: 0.7 } } });
  const door = c.cameras[0];
  t.same(door.source, { kind: 'rtsp', url: 'rtsp://192.0.2.1:554/door', transport: 'tcp', latencyMs: 0, codec: 'h264' });
  t.equal(door.decoder, 'cpu');
  t.equal(door.fps, 5);
  t.same(door.detector, { tier: '500m', size: 320, interval: 5 });
  t.same(door.watchdog, { stallMs: 2000, startMs: 15000 });
  t.same(door.backoff, { baseMs: 250, maxMs: 30000, factor: 2, jitter: 0.5 });
  t.notOk('url' in door, 'the shorthand is normalised away');
  t.same(c.recognition.thresholds, { masked: 0.7 });

  const file = parseConfig({ cameras: [{ id: 'clip', source: { kind: 'file', path: 'clip.mp4' } }] }).cameras[0].source;
  t.same(file, { kind: 'file', path: 'clip.mp4', loop: false, realtime: true, lossless: false, codec: 'auto' });
  const test = parseConfig({ cameras: [{ id: 'bars', source: { kind: 'test' }, decoder: { custom: 'avdec_h264' } }] }).cameras[0];
  t.same(test.source, { kind: 'test', pattern: 'smpte', width: 640, height: 480, fps: 15 });
  t.same(test.decoder, { custom: 'avdec_h264' });

  t.same(ingestCameraConfig(door), {
    id: 'door',
    source: door.source,
    decoder: 'cpu',
    output: { fps: 5, width: undefined, height: undefined, detectSize: 320 },
    watchdog: { stallMs: 2000, startMs: 15000 },
    backoff: { baseMs: 250, maxMs: 30000, factor: 2, jitter: 0.5 },
    stableMs: 10000,
    idleDecode: { mode: 'all', sleepAfterMs: 2000, keyframeEveryMs: 2000 },
    gate: { motion: { enabled: true, keepAliveMs: 2000, params: { minAreaFraction: 0.002, k: 6 } }, interval: 5 },
  });
  t.equal(ingestCameraConfig(parseConfig({ cameras: [cam('flat', { detectScale: false })] }).cameras[0]).output?.detectSize, undefined, 'detectScale: false: no detector copy');
  // A budgetMs camera's detector size comes from the measured profile: the copy follows the detector it got.
  t.equal(ingestCameraConfig(door, 320).output?.detectSize, 320, 'the detector copy is scaled to the size the detector really has');
});

t.test('motion.idleDecode keyframes: needs the motion gate and a compressed stream with a named codec', async (t) => {
  const ok = parseConfig({ cameras: [cam('door', { motion: { idleDecode: 'keyframes', idleSleepMs: 500 } })] }).cameras[0];
  t.same(ingestCameraConfig(ok).idleDecode, { mode: 'keyframes', sleepAfterMs: 500, keyframeEveryMs: 2000 });
  const off = configError(() => parseConfig({ cameras: [cam('door', { motion: { enabled: false, idleDecode: 'keyframes' } })] }));
  t.match(off.message, /cameras\[0\]\.motion\.idleDecode.*needs the motion gate/s);
  const bars = configError(() => parseConfig({ cameras: [{ id: 'bars', source: { kind: 'test' }, motion: { idleDecode: 'keyframes' } }] }));
  t.match(bars.message, /compressed stream.*test source/s);
  const auto = configError(() => parseConfig({ cameras: [{ id: 'clip', source: { kind: 'file', path: 'clip.mp4' }, motion: { idleDecode: 'keyframes' } }] }));
  t.match(auto.message, /cameras\[0\]\.source\.codec.*codec named/s);
  t.equal(parseConfig({ cameras: [{ id: 'clip', source: { kind: 'file', path: 'clip.mp4', codec: 'h264' }, motion: { idleDecode: 'keyframes' } }] }).cameras[0].motion.idleDecode, 'keyframes');
  const lossless = configError(() => parseConfig({ cameras: [{ id: 'clip', source: { kind: 'file', path: 'clip.mp4', codec: 'h264', lossless: true }, motion: { idleDecode: 'keyframes' } }] }));
  t.match(lossless.message, /cameras\[0\]\.motion\.idleDecode.*lossless/s, 'offline processing that must see every frame cannot skip decoding');
});

t.test('unknown keys are rejected at every depth, with the exact path and a suggestion', async (t) => {
  const e = configError(() =>
    parseConfig({
      servr: {},
      server: { bnd: '127.0.0.1', tls: { cert: 'a', key: 'b', ca: 'c' } },
      cameras: [cam('a'), cam('b', { detector: { tierr: '2.5g' }, source: undefined })],
      recognition: { bestShot: { maxRun: 3 } },
      events: { outputs: { ws: { enable: false } } },
      gates: [{ id: 'g', cameras: ['a'], allow: { group: ['staff'] } }],
    }),
  );
  t.equal(e.code, 'CONFIG_INVALID');
  t.same(paths(e).sort(), ['cameras[1].detector.tierr', 'events.outputs.ws.enable', 'gates[0].allow.group', 'recognition.bestShot.maxRun', 'server.bnd', 'server.tls.ca', 'servr'].sort());
  for (const i of e.issues) t.equal(i.message, 'unknown key', formatConfigPath(i.path));
  t.match(issueAt(e, 'server.bnd')?.hint, /did you mean 'bind'\?.*allowed here: bind, port, tls/);
  t.match(issueAt(e, 'cameras[1].detector.tierr')?.hint, /did you mean 'tier'/);
  t.match(issueAt(e, 'gates[0].allow.group')?.hint, /did you mean 'groups'/);
  t.match(issueAt(e, 'servr')?.hint, /did you mean 'server'/);
  t.match(issueAt(e, 'server.tls.ca')?.hint, /allowed here: cert, key/);

  const src = configError(() => parseConfig({ cameras: [{ id: 'f', source: { kind: 'file', path: 'x.mp4', lop: true } }] }));
  t.same(paths(src), ['cameras[0].source.lop'], 'inside the matching source kind');
  t.match(src.issues[0].hint, /did you mean 'loop'/);
});

t.test('wrong types and values: path, message and fix', async (t) => {
  const e = configError(() =>
    parseConfig({
      server: { port: '8080' },
      cameras: [cam('a'), cam('b', { fps: 'fast' }), cam('c', { fps: 2.5, detector: { size: 600 } })],
      models: { executionProvider: 'gpu', liveness: { enabled: 'yes' } },
      logging: 'debug',
    }),
  );
  t.equal(issueAt(e, 'cameras[1].fps')?.message, 'expected number, got string');
  t.equal(issueAt(e, 'server.port')?.message, 'expected number, got string');
  t.equal(issueAt(e, 'server.port')?.hint, 'write the number without quotes');
  t.equal(issueAt(e, 'cameras[2].fps')?.message, 'expected a whole number, got 2.5');
  t.equal(issueAt(e, 'cameras[2].detector.size')?.message, 'must be a multiple of 32, got 600');
  t.equal(issueAt(e, 'cameras[2].detector.size')?.hint, 'for example 576 or 608');
  t.equal(issueAt(e, 'models.executionProvider')?.message, "expected one of 'cpu', 'webgpu', 'cuda', 'tensorrt', got 'gpu'");
  t.equal(issueAt(e, 'models.liveness.enabled')?.message, 'expected boolean, got string');
  t.equal(issueAt(e, 'logging')?.message, 'expected object, got string');
  t.match(e.describe(), /cameras\[1\]\.fps: expected number, got string/);

  const ranges = configError(() => parseConfig({ server: { port: 70000 }, recognition: { maskThreshold: -0.1 }, cameras: [{ id: 'x', url: 'rtsp://h/x', name: '' }] }));
  t.equal(issueAt(ranges, 'server.port')?.message, 'must be <= 65535, got 70000');
  t.equal(issueAt(ranges, 'recognition.maskThreshold')?.message, 'must be >= 0, got -0.1');
  t.equal(issueAt(ranges, 'cameras[0].name')?.message, 'must not be empty');

  const missing = configError(() => parseConfig({ cameras: [{ url: 'rtsp://h/x' }], auth: { tokens: [{ id: 'a', role: 'viewer' }] } }));
  t.equal(issueAt(missing, 'cameras[0].id')?.message, 'required');
  t.equal(issueAt(missing, 'auth.tokens[0].sha256')?.message, 'required');

  const kinds = configError(() => parseConfig({ cameras: [{ id: 'a', source: { kind: 'rtmp', url: 'x' } }, { id: 'b' }, { id: 'c', url: 'rtsp://h/c', source: { kind: 'test' } }, { id: 'd', decoder: 'gpu', url: 'rtsp://h/d' }] }));
  t.match(issueAt(kinds, 'cameras[0].source.kind')?.message, /one of 'rtsp', 'file', 'test', 'pipeline'/);
  t.equal(issueAt(kinds, 'cameras[1]')?.message, 'a camera needs a `url` or a `source`');
  t.equal(issueAt(kinds, 'cameras[2].url')?.message, 'give either `url` or `source`, not both');
  t.match(issueAt(kinds, 'cameras[3].decoder')?.message, /'cpu', 'openh264', 'jetson', 'nvdec' or \{ custom/);

  const bad = configError(() => parseConfig({ cameras: [{ id: 'Front Door', url: 'http://192.0.2.1/x' }, { id: 'j', decoder: 'jetson', source: { kind: 'file', path: 'a.mp4' } }] }));
  t.match(issueAt(bad, 'cameras[0].id')?.message, /expected a slug/);
  t.equal(issueAt(bad, 'cameras[0].url')?.message, 'expected an rtsp:// or rtsps:// URL');
  t.equal(issueAt(bad, 'cameras[1].source.codec')?.message, "codec 'auto' needs the cpu decoder");

  const root = configError(() => parseConfig([1, 2]));
  t.same(root.issues.map((i) => [formatConfigPath(i.path), i.message]), [['', 'expected object, got array']]);
  t.match(configError(() => parseConfig(null)).issues[0].message, /empty/);
});

t.test('errors never echo string values (camera URLs carry passwords)', async (t) => {
  const e = configError(() => parseConfig({ cameras: [{ id: 'a', url: 'http://admin:s3cret@192.0.2.1/x', fps: 'admin:s3cret' }] }));
  t.notMatch(e.describe(), /s3cret/);
  t.notMatch(e.message, /s3cret/);
});

t.test('gates: embedded gate schema, bad schedule reported with its path', async (t) => {
  const base = { cameras: [cam('door')] };
  const c = parseConfig({ ...base, gates: [{ id: 'front', cameras: ['door'], allow: { groups: ['staff'] } }] });
  t.equal(c.gates[0].maskPolicy, 'allow', 'gate defaults come from the gates schema');
  t.same(c.gates[0].confirmation, { n: 2, m: 3 });

  const e = configError(() =>
    parseConfig({
      ...base,
      gates: [
        {
          id: 'front',
          cameras: ['door'],
          schedule: { timeZone: 'Mars/Olympus_Mons', weekly: [{ days: ['mon', 'funday'], start: '25:00', end: '17:00' }], exceptions: [{ date: '2026-02-30', closed: true }] },
        },
      ],
    }),
  );
  t.same(paths(e).sort(), ['gates[0].schedule.exceptions[0].date', 'gates[0].schedule.timeZone', 'gates[0].schedule.weekly[0].days[1]', 'gates[0].schedule.weekly[0].start'].sort());
  t.match(issueAt(e, 'gates[0].schedule.timeZone')?.message, /unknown time zone/);
  t.match(issueAt(e, 'gates[0].schedule.weekly[0].days[1]')?.message, /expected one of 'mon'/);
  t.match(issueAt(e, 'gates[0].schedule.exceptions[0].date')?.message, /not a calendar date/);
});

t.test('cross-checks: duplicate ids, unknown cameras, anti-passback pairs, liveness, auth on a public bind', async (t) => {
  const dup = configError(() => parseConfig({ cameras: [cam('a'), cam('b'), cam('a')] }));
  t.same(dup.issues.map((i) => [formatConfigPath(i.path), i.message]), [['cameras[2].id', "duplicate camera id 'a' (also cameras[0])"]]);

  const gate = configError(() => parseConfig({ cameras: [cam('a'), cam('b')], gates: [{ id: 'g', cameras: ['a', 'lobby'] }, { id: 'g', cameras: ['b'] }] }));
  t.equal(issueAt(gate, 'gates[0].cameras[1]')?.message, "unknown camera 'lobby'");
  t.match(issueAt(gate, 'gates[0].cameras[1]')?.hint, /a, b/);
  t.equal(issueAt(gate, 'gates[1].id')?.message, "duplicate gate id 'g' (also gates[0])");

  // A gate's zone exists on each of its cameras (else the door would silently ignore everyone).
  const square = [[0.2, 0.2], [0.8, 0.2], [0.8, 0.9], [0.2, 0.9]];
  const zoned = configError(() => parseConfig({ cameras: [cam('a', { zones: [{ id: 'door', polygon: square }] }), cam('b')], gates: [{ id: 'g', cameras: ['a', 'b'], zone: 'door' }, { id: 'h', cameras: ['a'], zone: 'dor' }] }));
  t.equal(issueAt(zoned, 'gates[0].zone')?.message, "camera 'b' has no zone 'door'");
  t.match(issueAt(zoned, 'gates[0].zone')?.hint, /add `zones: \[\{ id: door/);
  t.equal(issueAt(zoned, 'gates[1].zone')?.message, "camera 'a' has no zone 'dor'");
  t.match(issueAt(zoned, 'gates[1].zone')?.hint, /use one of its zones \(door\)/);
  t.equal(parseConfig({ cameras: [cam('a', { zones: [{ id: 'door', polygon: square }] })], gates: [{ id: 'g', cameras: ['a'], zone: 'door' }] }).gates[0].zone, 'door', 'a zone every camera has is fine');

  const pairs = configError(() =>
    parseConfig({
      cameras: [cam('a')],
      gates: [
        { id: 'in', cameras: ['a'], antiPassback: { pairedGateId: 'out', direction: 'entry' } },
        { id: 'out', cameras: ['a'], antiPassback: { pairedGateId: 'in', direction: 'entry' } },
        { id: 'x', cameras: ['a'], antiPassback: { pairedGateId: 'nowhere', direction: 'exit' } },
      ],
    }),
  );
  t.match(issueAt(pairs, 'gates[0].antiPassback')?.message, /not a matching entry\/exit/);
  t.match(issueAt(pairs, 'gates[2].antiPassback.pairedGateId')?.message, /'nowhere' is not a configured gate/);
  const ok = parseConfig({
    cameras: [cam('a')],
    gates: [
      { id: 'in', cameras: ['a'], antiPassback: { pairedGateId: 'out', direction: 'entry' } },
      { id: 'out', cameras: ['a'], antiPassback: { pairedGateId: 'in', direction: 'exit' } },
    ],
  });
  t.equal(ok.gates.length, 2, 'a matching pair passes');

  const live = configError(() => parseConfig({ cameras: [cam('a')], models: { liveness: { enabled: false } }, gates: [{ id: 'g', cameras: ['a'], liveness: { required: true } }] }));
  t.same(paths(live), ['gates[0].liveness.required']);
  const byDefault = configError(() => parseConfig({ cameras: [cam('a')], models: { liveness: { enabled: false } }, gates: [{ id: 'g', cameras: ['a'] }] }));
  t.same(paths(byDefault), ['gates[0].liveness.required'], 'a gate requires liveness unless it says otherwise');
  t.equal(parseConfig({ cameras: [cam('a')], models: { liveness: { enabled: false } }, gates: [{ id: 'g', cameras: ['a'], liveness: { required: false } }] }).gates.length, 1, 'models off: gates must say required: false');
  t.equal(parseConfig({ cameras: [cam('a')], models: { liveness: { enabled: true } }, gates: [{ id: 'g', cameras: ['a'], liveness: { required: true } }] }).gates.length, 1);
  t.equal(parseConfig({ cameras: [cam('a')], gates: [{ id: 'g', cameras: ['a'] }] }).gates.length, 1, 'the defaults fit together');

  const h = hashToken('t1');
  const tokens = configError(() => parseConfig({ auth: { tokens: [{ id: 'a', role: 'viewer', sha256: h }, { id: 'a', role: 'admin', sha256: h.toUpperCase() }] } }));
  t.same(paths(tokens).sort(), ['auth.tokens[1].id', 'auth.tokens[1].sha256']);

  const open = configError(() => parseConfig({ server: { bind: '0.0.0.0' }, auth: { enabled: false } }));
  t.same(paths(open), ['auth.enabled']);
  t.match(open.issues[0].hint, /bind to 127\.0\.0\.1/);
  t.equal(parseConfig({ auth: { enabled: false } }).auth.enabled, false, 'auth off is allowed on loopback');

  const mixed = configError(() => parseConfig({ cameras: [cam('a', { fps: 2.5 }), cam('a')] }));
  t.same(paths(mixed), ['cameras[0].fps', 'cameras[1].id'], 'cross-checks still run when zod stopped early (bad integer)');
});

t.test('gate ids are slugs, and no two ids share an MQTT topic level (a gate id opened another gate over MQTT)', async (t) => {
  const base = { cameras: [cam('door')] };
  // `vault+door` and `vault_door` both became the topic level `vault_door`: an OPEN for one opened the other.
  const e = configError(() => parseConfig({ ...base, gates: [{ id: 'vault+door', cameras: ['door'] }, { id: 'vault_door', cameras: ['door'] }] }));
  t.match(issueAt(e, 'gates[0].id'), { message: /slug/, hint: /'vault-door'/ });
  t.match(issueAt(e, 'gates[1].id'), { message: /gate ids 'vault\+door' \(gates\[0\]\) and 'vault_door' both become the MQTT topic level 'vault_door'/, hint: /rename one/ });
  for (const [i, id] of ['front#door', 'Front Door', '$SYS', 'a/b', 'door\u0000', '-door', ''].entries()) {
    const bad = configError(() => parseConfig({ ...base, gates: [{ id, cameras: ['door'] }] }));
    t.ok(issueAt(bad, 'gates[0].id'), `gate id ${JSON.stringify(id)} refused (${i})`);
    t.ok(issueAt(bad, 'gates[0].id')?.hint, 'with a fix');
  }
  t.match(issueAt(configError(() => parseConfig({ ...base, gates: [{ id: 'Front Door', cameras: ['door'] }] })), 'gates[0].id'), { hint: /'front-door'/ });
  for (const id of ['front-door', 'gate_2', 'g']) t.equal(parseConfig({ ...base, gates: [{ id, cameras: ['door'] }] }).gates[0].id, id, `${id} is fine`);
});

t.test('text with NUL or a lone surrogate is refused anywhere in the file, with its path and the fix', async (t) => {
  const bad = configError(() => parseConfig({ cameras: [cam('door', { name: 'Front\u0000door' })], gates: [{ id: 'g', cameras: ['door'], name: 'Lobby \ud800' }] }));
  t.match(issueAt(bad, 'cameras[0].name'), { message: /NUL character \(U\+0000\) at index 5/, hint: /remove/ });
  t.match(issueAt(bad, 'gates[0].name'), { message: /lone UTF-16 surrogate/, hint: /remove/ });
  const key = configError(() => parseConfig({ logging: { ['le\u0000vel']: 'info' } }));
  t.match(issueAt(key, 'logging'), { message: /key .*NUL/ });
  // From YAML escapes in double-quoted strings, located in the file.
  const y = configError(() => parseConfigText('cameras:\n  - id: door\n    url: rtsp://192.0.2.1/x\n    name: "Door\\0"\n', 'f.yaml'));
  t.match(issueAt(y, 'cameras[0].name'), { message: /NUL/, line: 4 });
  // A password with a NUL is refused without being echoed.
  const secret = configError(() => parseConfig({ events: { outputs: { mqtt: { username: 'u', password: 'S3cret\u0000pw' } } } }));
  t.ok(issueAt(secret, 'events.outputs.mqtt.password'));
  t.notMatch(formatConfigErrors(secret), /S3cret/);
  t.equal(parseConfig({ cameras: [cam('door', { name: 'Tür 🚪' })] }).cameras[0].name, 'Tür 🚪', 'valid Unicode, astral characters included, passes');

  // A file that is not UTF-8 (a Latin-1 save, a surrogate encoded as CESU-8) was read with U+FFFD
  // in place of the bad bytes, silently changing names and allow-lists.
  const dir = mkdtempSync(join(tmpdir(), 'fg-config-utf8-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [what, bytes] of [['Latin-1', [0x54, 0xfc, 0x72]], ['CESU-8 surrogate', [0xed, 0xa0, 0x80]]] as const) {
    const file = join(dir, 'facegate.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from('logging:\n  level: info\ncameras:\n  - id: door\n    url: rtsp://192.0.2.1/x\n    name: '), Buffer.from(bytes), Buffer.from('\n')]));
    const e = configError(() => loadConfig(file));
    t.match(e.issues[0], { message: /not valid UTF-8.*line 6/, hint: /save the file as UTF-8/, line: 6 }, what);
  }
});

t.test('YAML: syntax errors with line and column, issues located in the file, sorted by position', async (t) => {
  const syn = configError(() => parseConfigText('server:\n  port: 8640\n  bind: [127.0.0.1\ncameras: []\n', 'broken.yaml'));
  t.equal(syn.code, 'CONFIG_SYNTAX');
  t.ok(syn.issues.length >= 1);
  t.match(syn.issues[0], { line: 4 });
  t.match(syn.describe(), /^broken\.yaml: \d problems?\nbroken\.yaml:4:\d+: YAML syntax: /);

  const dupKey = configError(() => parseConfigText('server:\n  port: 1\n  port: 2\n', 'dup.yaml'));
  t.equal(dupKey.code, 'CONFIG_SYNTAX');
  t.match(dupKey.issues[0], { line: 3, hint: /remove one/ });

  const text = ['cameras:', '  - id: a', '    url: rtsp://192.0.2.1/a', '  - id: b', '    url: rtsp://192.0.2.1/b', "    fps: '5'", 'logging:', '  levle: debug', ''].join('\n');
  const e = configError(() => parseConfigText(text, 'cfg.yaml'));
  t.same(
    e.issues.map((i) => [formatConfigPath(i.path), i.line, i.col]),
    [
      ['cameras[1].fps', 6, 5],
      ['logging.levle', 8, 3],
    ],
  );
  t.equal(formatConfigErrors(e).split('\n')[1], 'cfg.yaml:6:5 cameras[1].fps: expected number, got string');
  t.match(e.message, /^cfg\.yaml:6:5 cameras\[1\]\.fps: expected number, got string \(and 1 more\)$/);

  const missingKey = configError(() => parseConfigText('cameras:\n  - url: rtsp://192.0.2.1/a\n', 'm.yaml'));
  t.match(missingKey.issues[0], { message: 'required', line: 2, col: 5 }, 'a missing key points at its mapping');
});

t.test('loadConfig: relative paths resolve against the file folder; not found / unreadable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    [
      'server: { tls: { cert: tls/c.pem, key: /etc/k.pem } }',
      'cameras:',
      '  - { id: clip, source: { kind: file, path: clips/a.mp4 } }',
      '  - { id: live, url: rtsp://192.0.2.1/x }',
      'events: { db: ../var/events.sqlite, outputs: { mqtt: { enabled: true, url: "mqtt://127.0.0.1:1883", username: fg, passwordFile: secrets/mqtt.pw, tls: { ca: tls/ca.pem } } } }',
      'gallery: { db: ":memory:" }',
    ].join('\n'),
  );
  const c = loadConfig(file);
  t.same(c.server.tls, { cert: join(dir, 'tls/c.pem'), key: '/etc/k.pem' });
  t.equal(c.cameras[0].source.kind === 'file' && c.cameras[0].source.path, join(dir, 'clips/a.mp4'));
  t.equal(c.events.db, resolve(dir, '../var/events.sqlite'));
  t.equal(c.events.outputs.mqtt?.passwordFile, join(dir, 'secrets/mqtt.pw'), 'the MQTT password file too');
  t.same(c.events.outputs.mqtt?.tls, { ca: join(dir, 'tls/ca.pem') }, 'and its TLS files, absent ones stay absent');
  t.equal(c.events.snapshots.dir, join(dir, 'data/snapshots'), 'defaults resolve too');
  t.equal(c.gallery.db, ':memory:');
  t.equal(parseConfig({ gallery: { db: 'g.sqlite' } }).gallery.db, 'g.sqlite', 'parseConfig without baseDir leaves paths as written');

  t.equal(configError(() => loadConfig(join(dir, 'nope.yaml'))).code, 'CONFIG_NOT_FOUND');
  t.equal(configError(() => loadConfig(dir)).code, 'CONFIG_UNREADABLE');
});

const BASE: ConfigInput = {
  server: { port: 8640 },
  cameras: [cam('a'), cam('b'), cam('c')],
  gates: [{ id: 'g', cameras: ['a'] }],
};
const variant = (mutate: (c: ConfigInput & { cameras: Record<string, unknown>[] }) => void): Config => {
  const copy = structuredClone(BASE) as ConfigInput & { cameras: Record<string, unknown>[] };
  mutate(copy);
  return parseConfig(copy);
};

t.test('diffConfig', async (t) => {
  const old = parseConfig(BASE);
  const same = diffConfig(old, parseConfig(structuredClone(BASE)));
  t.same(same, { cameras: { added: [], removed: [], changed: [] }, server: false, auth: false, models: false, limits: false, recognition: false, gates: false, events: false, outputs: false, gallery: false, privacy: false, logging: false, fleet: false, sections: [], changed: false });

  const reordered = diffConfig(old, variant((c) => c.cameras.reverse()));
  t.equal(reordered.changed, false, 'camera order alone is no change');

  const cams = diffConfig(
    old,
    variant((c) => {
      c.cameras = [c.cameras[0], { ...c.cameras[1], fps: 10 }, cam('d')];
    }),
  );
  t.same(cams.cameras, { added: ['d'], removed: ['c'], changed: ['b'] });
  t.same(cams.sections, ['cameras']);

  const deep = diffConfig(old, variant((c) => (c.cameras[0] = { ...c.cameras[0], detector: { size: 320 } })));
  t.same(deep.cameras.changed, ['a'], 'nested camera setting');
  const explicitDefault = diffConfig(old, variant((c) => (c.cameras[0] = { ...c.cameras[0], fps: 5, decoder: 'cpu' })));
  t.equal(explicitDefault.changed, false, 'writing a default out is no change');

  const sections = diffConfig(
    old,
    variant((c) => {
      c.gates = [{ id: 'g', cameras: ['a'], cooldownMs: 1000 }];
      c.recognition = { thresholds: { unmasked: 0.4 } };
      c.server = { port: 9000 };
      c.auth = { tokens: [{ id: 'x', role: 'viewer', sha256: hashToken('x') }] };
      c.models = { threads: 2 };
      c.logging = { level: 'debug' };
    }),
  );
  t.same(sections.sections, ['server', 'auth', 'models', 'recognition', 'gates', 'logging']);
  t.ok(sections.gates && sections.recognition && sections.server && sections.auth && sections.models && sections.logging);
  t.notOk(sections.events || sections.gallery || sections.outputs);
  t.same(sections.cameras, { added: [], removed: [], changed: [] });

  // events.outputs apart from the rest of events: the sink restarts by itself, the log needs a restart.
  const outputs = diffConfig(old, variant((c) => (c.events = { outputs: { mqtt: { enabled: true, url: 'mqtt://127.0.0.1:1883' } } })));
  t.ok(outputs.outputs, 'outputs changed');
  t.notOk(outputs.events, 'the rest of events did not');
  t.same(outputs.sections, ['events']);
  const log = diffConfig(old, variant((c) => (c.events = { db: 'other.sqlite' })));
  t.ok(log.events && !log.outputs, 'events.db: events, not outputs');
  // blurOthers is read at each snapshot: a change to it alone needs no restart.
  const blur = diffConfig(old, variant((c) => (c.events = { snapshots: { blurOthers: true } })));
  t.notOk(blur.events, 'events.snapshots.blurOthers alone: not events');
  t.notOk(blur.outputs, 'nor outputs');
  t.same(blur.sections, ['events'], 'still a change of the events section');
  t.ok(blur.changed);
  const blurAndDays = diffConfig(old, variant((c) => (c.events = { snapshots: { blurOthers: true, retentionDays: 3 } })));
  t.ok(blurAndDays.events, 'another snapshots setting beside it still is');
});

t.test('tokens: hashToken and verifyToken', async (t) => {
  t.equal(hashToken('demo-operator-token'), '61112491d046c3f6f8ab801f170d9b2d0c734a17ceff60dee92123fb507cfc3f');
  const c = parseConfig({
    auth: {
      tokens: [
        { id: 'desk', role: 'operator', sha256: hashToken('op-secret-token') },
        { id: 'wall', role: 'viewer', sha256: hashToken('view-secret-token').toUpperCase() },
      ],
    },
  });
  t.same(verifyToken(c, 'op-secret-token'), { id: 'desk', role: 'operator' });
  t.same(verifyToken(c, 'view-secret-token'), { id: 'wall', role: 'viewer' }, 'upper-case stored hash');
  t.equal(verifyToken(c, 'op-secret-tokeN'), undefined, 'wrong token');
  t.equal(verifyToken(c, 'op-secret-token '), undefined, 'extra character');
  t.equal(verifyToken(c, 'op'), undefined, 'short token');
  t.equal(verifyToken(c, 'x'.repeat(10_000)), undefined, 'long token');
  t.equal(verifyToken(c, ''), undefined);
  t.equal(verifyToken(c, undefined), undefined);
  t.equal(verifyToken(c, hashToken('op-secret-token')), undefined, 'the hash itself is not a token');
  t.equal(verifyToken({ auth: { tokens: [{ id: 'bad', role: 'admin', sha256: 'abcd' }] } }, 'abcd'), undefined, 'a stored hash of the wrong length never matches');
  t.equal(verifyToken(parseConfig({}), 'anything'), undefined, 'no tokens: nobody');
  const short = configError(() => parseConfig({ auth: { tokens: [{ id: 'a', role: 'viewer', sha256: hashToken('x').slice(1) }] } }));
  t.same(paths(short), ['auth.tokens[0].sha256']);
  t.match(short.issues[0].hint, /config hash-token/);
  const plain = configError(() => parseConfig({ auth: { tokens: [{ id: 'a', role: 'viewer', sha256: 'my-plain-token' }] } }));
  t.notMatch(plain.describe(), /my-plain-token/, 'a token pasted by mistake is not echoed');
});

t.test('JSON Schema export', async (t) => {
  const s = configJsonSchema();
  t.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema');
  t.equal(s.type, 'object');
  t.equal(s.additionalProperties, false);
  const props = s.properties as Record<string, Record<string, unknown>>;
  t.same(Object.keys(props), ['server', 'auth', 'models', 'limits', 'cameras', 'recognition', 'gates', 'events', 'gallery', 'privacy', 'logging', 'fleet']);
  const server = props.server as { properties: Record<string, { default?: unknown }> };
  t.equal(server.properties.bind.default, '127.0.0.1');
  t.equal(server.properties.port.default, 8640);
  const camera = (props.cameras as { items: { required: string[]; properties: Record<string, unknown> } }).items;
  t.same(camera.required, ['id'], 'what a person must write for a camera');
  t.ok('url' in camera.properties && 'source' in camera.properties, 'input shape: url shorthand and source');
  t.ok(JSON.stringify(props.gates).includes('timeZone'), 'gates embed the gates schema');

  // The exported schema, rebuilt as a validator, accepts the shipped files and refuses a typo.
  const fromJson = z.fromJSONSchema(s as Parameters<typeof z.fromJSONSchema>[0]);
  for (const f of ['config/default.yaml', 'config/demo.yaml']) t.ok(fromJson.safeParse(parseYaml(readFileSync(join(ROOT, f), 'utf8'))).success, f);
  t.notOk(fromJson.safeParse({ server: { bnd: '0.0.0.0' } }).success, 'unknown key refused by the JSON Schema too');
});

t.test('shipped config files parse', async (t) => {
  const def = loadConfig(join(ROOT, 'config/default.yaml'));
  t.equal(def.server.bind, '127.0.0.1');
  t.equal(def.auth.enabled, true);
  t.equal(def.cameras.length, 1);
  t.equal(def.cameras[0].source.kind, 'rtsp');
  t.equal(def.events.db, join(ROOT, 'data/events.sqlite'), 'data outside the config folder');
  t.same(configWarnings(def), ['auth.tokens is empty: nobody can use the API or the event stream (add one with `facegate config hash-token --generate`)']);

  const demo = loadConfig(join(ROOT, 'config/demo.yaml'));
  t.same(
    demo.cameras.map((c) => [c.id, c.source]),
    [['door', { kind: 'rtsp', url: 'rtsp://127.0.0.1:8554/door', transport: 'tcp', latencyMs: 0, codec: 'h264' }]],
  );
  const gate = demo.gates[0];
  t.match(gate, { id: 'front-door', cameras: ['door'], allow: { groups: ['staff'] }, maskPolicy: 'allow', confirmation: { n: 2, m: 3 } });
  t.equal(gate.schedule?.weekly[0].days.length, 7);
  t.same(verifyToken(demo, 'demo-operator-token'), { id: 'demo-operator', role: 'operator' });
  t.same(verifyToken(demo, 'demo-viewer-token'), { id: 'demo-viewer', role: 'viewer' });
  t.same(configWarnings(demo), []);
});

t.test('cli: config check / schema / hash-token', async (t) => {
  const run = async (args: string[], stdin = ''): Promise<{ out: string[]; err: string[]; code: number }> => {
    const out: string[] = [];
    const err: string[] = [];
    const program = new Command().exitOverride();
    registerConfigCommand(program, { out: (l) => out.push(l), err: (l) => err.push(l), readStdin: async () => stdin, stdinIsTty: () => false });
    const before = process.exitCode;
    process.exitCode = 0;
    try {
      await program.parseAsync(['node', 'facegate', ...args]);
      return { out, err, code: Number(process.exitCode ?? 0) };
    } finally {
      process.exitCode = before;
    }
  };
  const demo = await run(['config', 'check', join(ROOT, 'config/demo.yaml')]);
  t.equal(demo.code, 0);
  t.match(demo.out[0], /^OK .*demo\.yaml: 1 camera, 1 gate, API on 127\.0\.0\.1:8640$/);

  const dir = mkdtempSync(join(tmpdir(), 'facegate-config-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'cameras:\n  - id: a\n    url: rtsp://192.0.2.1/a\n    fps: fast\n');
  const r = await run(['config', 'check', bad]);
  t.equal(r.code, 1);
  t.match(r.err.join('\n'), /bad\.yaml:4:5 cameras\[0\]\.fps: expected number, got string\n  fix: write the number without quotes/);

  const schema = await run(['config', 'schema']);
  t.same(Object.keys((JSON.parse(schema.out.join('\n')) as { properties: object }).properties).length, 12);

  t.same((await run(['config', 'hash-token', 'demo-viewer-token'])).out, [hashToken('demo-viewer-token')]);
  t.same((await run(['config', 'hash-token'], 'from-stdin-token\n')).out, [hashToken('from-stdin-token')], 'stdin, trailing newline dropped');
  const gen = await run(['config', 'hash-token', '--generate']);
  const token = gen.out[0].replace(/^token:\s+/, '');
  t.ok(token.length >= 40);
  t.equal(gen.out[1], `sha256: ${hashToken(token)}`);
  t.equal((await run(['config', 'hash-token'], '')).code, 1, 'empty token refused');
});
