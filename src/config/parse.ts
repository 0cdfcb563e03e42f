/**
 * From a YAML file (or an already-parsed document) to a Config: schema validation with
 * person-readable messages and fixes, YAML positions for each problem, and relative paths
 * resolved against the config file's folder.
 */
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatConfigPath, isConfigError, type ConfigIssue, type ConfigPath } from './errors.ts';
import { credentialWarnings } from './credentials.ts';
import { resolveFleetPaths } from './fleet.ts';
import { boundsIssues, capacityWarnings, MAX_CONFIG_BYTES, MAX_CONFIG_ISSUES } from './limits.ts';
import { badTextIssues, configSchema, crossCheckIssues, isLoopback, type CameraEntry, type Config, type IssueParams } from './schema.ts';

export interface ParseConfigOptions {
  /** Folder that relative paths in the config resolve against; unset leaves them as written. */
  readonly baseDir?: string | undefined;
  /** 1-based line/column of a path in the source text, for the error list. */
  readonly locate?: ((path: ConfigPath) => { line: number; col: number } | undefined) | undefined;
}

type RawIssue = z.core.$ZodRawIssue;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return typeof v;
}

const quoteList = (values: readonly unknown[]): string => values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');

/** Short values are safe and useful to echo; strings are not echoed except for enum mismatches. */
const shownNumber = (v: unknown): string => (typeof v === 'number' ? `, got ${v}` : '');

function bound(iss: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, small: boolean): string {
  const n = String(small ? iss.minimum : iss.maximum);
  return small ? (iss.inclusive ? `>= ${n}` : `> ${n}`) : iss.inclusive ? `<= ${n}` : `< ${n}`;
}

/** Messages for the issues whose schema did not set its own. */
function messageFor(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'required';
      if (iss.expected === 'int') return `expected a whole number${shownNumber(iss.input)}`;
      return `expected ${iss.expected}, got ${typeName(iss.input)}`;
    }
    case 'too_small': {
      if (iss.origin === 'string') return iss.minimum === 1 ? 'must not be empty' : `must have at least ${String(iss.minimum)} characters`;
      if (iss.origin === 'array' || iss.origin === 'set') return `needs at least ${String(iss.minimum)} item${iss.minimum === 1 ? '' : 's'}`;
      return `must be ${bound(iss, true)}${shownNumber(iss.input)}`;
    }
    case 'too_big': {
      if (iss.origin === 'string') return `must have at most ${String(iss.maximum)} characters`;
      if (iss.origin === 'array' || iss.origin === 'set') return `at most ${String(iss.maximum)} items`;
      return `must be ${bound(iss, false)}${shownNumber(iss.input)}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(iss.divisor)}${shownNumber(iss.input)}`;
    case 'invalid_value': {
      const got = typeof iss.input === 'string' && iss.input.length <= 40 ? `, got '${iss.input}'` : iss.input === undefined ? '' : `, got ${typeName(iss.input)}`;
      return iss.values.length === 1 ? `expected ${quoteList(iss.values)}${got}` : `expected one of ${quoteList(iss.values)}${got}`;
    }
    case 'invalid_union':
      if ('discriminator' in iss && Array.isArray(iss.options)) {
        const got = typeof iss.input === 'object' && iss.input !== null ? (iss.input as Record<string, unknown>)[String(iss.discriminator)] : undefined;
        return got === undefined ? `missing '${String(iss.discriminator)}': one of ${quoteList(iss.options)}` : `expected ${String(iss.discriminator)} one of ${quoteList(iss.options)}`;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Edit distance, for "did you mean" on misspelt keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of allowed) {
    const d = distance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Path-specific fixes, checked before the generic ones. */
function pathHint(path: ConfigPath): string | undefined {
  const last = path.at(-1);
  const p = formatConfigPath(path.map((s) => (typeof s === 'number' ? 0 : s)));
  if (last === 'sha256') return 'store the hash, never the token itself: run `facegate config hash-token` and paste its output';
  if (p === 'cameras[0].id' || p === 'cameras[0].zones[0].id' || p === 'gates[0].id') return "use lowercase letters, digits, '-' and '_', e.g. 'front-door'";
  if (last === 'url' && path[0] === 'cameras') return 'for example rtsp://192.0.2.10:554/stream1 (with credentials, write user:password@ before the host)';
  if (last === 'timeZone') return "the names are those of the tz database (Intl.supportedValuesOf('timeZone') lists them)";
  if (p === 'cameras[0].source.kind' || p === 'cameras[0].source') return 'rtsp (with url), file (with path), test, or pipeline (with a gst-launch fragment)';
  if (p === 'cameras[0].decoder') return "write `decoder: cpu` (or openh264, jetson, nvdec), or `decoder: { custom: 'vaapih264dec ! vaapipostproc' }`";
  if (p.startsWith('server.allowedOrigins')) return "write the page's origin exactly as the browser sends it, e.g. https://door.example.com:8443";
  return undefined;
}

function genericHint(issue: z.core.$ZodIssue, input: unknown): string | undefined {
  const key = issue.path.at(-1);
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `add \`${String(key)}: ...\`${issue.expected === 'object' ? ' (a mapping)' : ''}`;
      if (issue.expected === 'number' && typeof input === 'string') return 'write the number without quotes';
      if (issue.expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) return 'put the value in quotes';
      if (issue.expected === 'int') return 'write a whole number';
      if (issue.expected === 'boolean') return 'write true or false (without quotes)';
      if (issue.expected === 'array') return 'write a list (`- item` lines, or [a, b])';
      if (issue.expected === 'object') return 'write a mapping (`key: value` lines, indented)';
      return undefined;
    case 'not_multiple_of': {
      const d = Number(issue.divisor);
      if (typeof input !== 'number' || !(d > 0)) return undefined;
      const lo = Math.floor(input / d) * d;
      return lo > 0 ? `for example ${lo} or ${lo + d}` : `for example ${d}`;
    }
    case 'invalid_value':
      return `use one of: ${issue.values.map(String).join(', ')}`;
    default:
      return undefined;
  }
}

function valueAt(doc: unknown, path: ConfigPath): unknown {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Turn zod issues into ConfigIssues: unknown keys split one per key, hints, positions. */
function toConfigIssues(issues: readonly z.core.$ZodIssue[], doc: unknown, allowedKeys: ReadonlyMap<string, readonly string[]>, opts: ParseConfigOptions): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (path: ConfigPath) => opts.locate?.(path);
  const push = (path: ConfigPath, message: string, hint: string | undefined): void => {
    const pos = at(path);
    out.push({ path, message, hint, line: pos?.line, col: pos?.col });
  };
  for (const issue of issues) {
    const path: ConfigPath = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys.get(JSON.stringify(path)) ?? [];
      for (const key of issue.keys) {
        const guess = closest(key, allowed);
        const hint = `${guess ? `did you mean '${guess}'? ` : ''}${allowed.length ? `allowed here: ${allowed.join(', ')}` : 'remove it'}`;
        push([...path, key], 'unknown key', hint);
      }
      continue;
    }
    const params = issue.code === 'custom' ? (issue.params as IssueParams | undefined) : undefined;
    const hint = params?.hint ?? pathHint(path) ?? genericHint(issue, valueAt(doc, path));
    push(path, issue.message, hint);
  }
  return out;
}

/** File order where positions are known (stable: the rest keep their order, after them). */
function sortByPosition(issues: ConfigIssue[]): ConfigIssue[] {
  const key = (i: ConfigIssue): number => (i.line === undefined ? Infinity : i.line * 1e6 + (i.col ?? 0));
  return issues.map((issue, n) => ({ issue, n })).sort((a, b) => key(a.issue) - key(b.issue) || a.n - b.n).map((x) => x.issue);
}

// ---------------------------------------------------------------------------------------------

const PATH_KEEP = new Set([':memory:']);
function resolvePath(p: string, baseDir: string): string {
  return PATH_KEEP.has(p) || isAbsolute(p) ? p : resolve(baseDir, p);
}

function resolveCamera(c: CameraEntry, baseDir: string): CameraEntry {
  return c.source.kind === 'file' ? { ...c, source: { ...c.source, path: resolvePath(c.source.path, baseDir) } } : c;
}

/** The MQTT sink's files (password, TLS) against the config's folder, like every other path. */
function resolveOutputs(outputs: Config['events']['outputs'], r: (p: string) => string): Config['events']['outputs'] {
  const m = outputs.mqtt;
  if (!m) return outputs;
  // Only the keys that are set: an absent key stays absent (configs are compared deeply on reload).
  const files = <T extends object>(o: T, keys: readonly (keyof T)[]): T => {
    const out = { ...o };
    for (const k of keys) if (typeof out[k] === 'string') (out as Record<keyof T, unknown>)[k] = r(out[k] as string);
    return out;
  };
  return { ...outputs, mqtt: files({ ...m, ...(m.tls ? { tls: files(m.tls, ['ca', 'cert', 'key']) } : {}) }, ['passwordFile']) };
}

/** The same config with every relative file path made absolute against `baseDir`. Pure. */
export function resolveConfigPaths(config: Config, baseDir: string): Config {
  const r = (p: string) => resolvePath(p, baseDir);
  return {
    ...config,
    server: config.server.tls ? { ...config.server, tls: { cert: r(config.server.tls.cert), key: r(config.server.tls.key) } } : config.server,
    cameras: config.cameras.map((c) => resolveCamera(c, baseDir)),
    events: { ...config.events, db: r(config.events.db), snapshots: { ...config.events.snapshots, dir: r(config.events.snapshots.dir) }, outputs: resolveOutputs(config.events.outputs, r) },
    gallery: { ...config.gallery, db: r(config.gallery.db) },
    privacy: { ...config.privacy, encryption: { ...config.privacy.encryption, keyFile: r(config.privacy.encryption.keyFile) } },
    ...(config.fleet ? { fleet: resolveFleetPaths(config.fleet, r) } : {}),
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** At most MAX_CONFIG_ISSUES issues, the rest counted in one last line (a broken file must not flood a log). */
function capIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  if (issues.length <= MAX_CONFIG_ISSUES) return [...issues];
  const rest = issues.length - (MAX_CONFIG_ISSUES - 1);
  return [...issues.slice(0, MAX_CONFIG_ISSUES - 1), { path: [], message: `and ${rest} more problems not listed`, hint: 'fix the problems above first, then check again' }];
}

/**
 * Validate an already-parsed document (YAML/JSON value). Throws ConfigError (CONFIG_INVALID) with
 * every problem; returns a deep-frozen Config with all defaults, paths resolved when `baseDir` is
 * given. Pure apart from the path arithmetic.
 */
export function parseConfig(doc: unknown, source = 'config', opts: ParseConfigOptions = {}): Config {
  if (doc === null || doc === undefined) {
    throw new ConfigError('CONFIG_INVALID', source, [{ path: [], message: 'the configuration is empty', hint: 'start from config/default.yaml; `{}` alone gives every default and no cameras' }]);
  }
  // Over-long strings, over-long lists and absurd nesting are refused before zod sees the
  // document: validating a megabyte URL or a million cameras item by item costs time on the
  // hot-reload path, and the fix comes first anyway.
  // Text no store can keep (NUL, lone surrogates) likewise: its own clear error, before zod
  // reports the same string as a bad id or an unknown key.
  const bounded = boundsIssues(doc);
  const oversize = bounded.length > 0 ? bounded : badTextIssues(doc);
  if (oversize.length > 0) {
    const issues = oversize.map((x): ConfigIssue => {
      const pos = opts.locate?.(x.path);
      return { path: x.path, message: x.message, hint: x.hint, line: pos?.line, col: pos?.col };
    });
    throw new ConfigError('CONFIG_INVALID', source, capIssues(sortByPosition(issues)));
  }
  const allowedKeys = new Map<string, readonly string[]>();
  const result = configSchema.safeParse(doc, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys' && iss.inst) {
        const shape = (iss.inst._zod.def as { shape?: Record<string, unknown> }).shape;
        if (shape) allowedKeys.set(JSON.stringify(iss.path ?? []), Object.keys(shape));
      }
      return messageFor(iss);
    },
  });
  if (!result.success) {
    const issues = toConfigIssues(result.error.issues, doc, allowedKeys, opts);
    // zod skips the cross-section checks after some failures (a bad integer); run them on the raw
    // document so one pass still lists every problem.
    const seen = new Set(issues.map((i) => `${JSON.stringify(i.path)} ${i.message}`));
    for (const x of crossCheckIssues(doc)) {
      if (seen.has(`${JSON.stringify(x.path)} ${x.message}`)) continue;
      const pos = opts.locate?.(x.path);
      issues.push({ path: x.path, message: x.message, hint: x.hint, line: pos?.line, col: pos?.col });
    }
    throw new ConfigError('CONFIG_INVALID', source, capIssues(sortByPosition(issues)));
  }
  const config = opts.baseDir === undefined ? result.data : resolveConfigPaths(result.data, opts.baseDir);
  return deepFreeze(config);
}

/** Where a config path sits in the YAML text: the key of the deepest existing node on the path. */
function locator(doc: Document.Parsed, lines: LineCounter): (path: ConfigPath) => { line: number; col: number } | undefined {
  return (path) => {
    let node: unknown = doc.contents;
    let offset: number | undefined = (doc.contents as YamlNode | null)?.range?.[0];
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        offset = isScalar(pair.key) && pair.key.range ? pair.key.range[0] : offset;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as YamlNode | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    return offset === undefined ? undefined : lines.linePos(offset);
  };
}

/**
 * Why the yaml library could not turn a parsed document into a value: it throws a ReferenceError
 * for an alias used before its anchor and for an alias bomb ("billion laughs"), and a RangeError
 * for a document nested too deeply to convert.
 */
function conversionIssue(doc: Document.Parsed, lines: LineCounter, e: unknown): ConfigIssue {
  const text = e instanceof Error ? e.message : String(e);
  if (e instanceof ReferenceError && /unresolved alias/i.test(text)) {
    let at: number | undefined;
    visit(doc, {
      Alias(_key, node) {
        if (node.resolve(doc) !== undefined) return undefined;
        at = node.range?.[0];
        return visit.BREAK;
      },
    });
    const pos = at === undefined ? undefined : lines.linePos(at);
    return { path: [], message: 'YAML alias used before its anchor (a `*name` with no `&name` above it)', hint: 'define the anchor (`&name value`) before the first `*name`, or write the value out', line: pos?.line, col: pos?.col };
  }
  if (e instanceof ReferenceError) {
    return { path: [], message: 'YAML aliases expand to too many nodes (more than 100 uses of anchors)', hint: 'write the repeated values out, or use fewer `*alias` references' };
  }
  return { path: [], message: 'YAML document cannot be converted (nested too deeply)', hint: 'a facegate config is a few levels deep: check the indentation, or start from config/default.yaml' };
}

const tooLargeIssue = (size: number): ConfigIssue => ({
  path: [],
  message: `the file is too large: ${(size / 1024 / 1024).toFixed(1)} MiB, at most ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`,
  hint: 'a config with every camera fits in well under a megabyte: check that this is the right file',
});

/** Parse YAML text. Throws ConfigError: CONFIG_SYNTAX (with line/col) or CONFIG_INVALID. */
export function parseConfigText(text: string, source = 'config', opts: { baseDir?: string | undefined } = {}): Config {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError('CONFIG_INVALID', source, [tooLargeIssue(text.length)]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return {
        path: [],
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
        hint: e.code === 'DUPLICATE_KEY' ? 'remove one of the two keys' : 'check indentation (spaces, not tabs), quotes and `key: value` spacing around this line',
        line: pos.line,
        col: pos.col,
      };
    });
    throw new ConfigError('CONFIG_SYNTAX', source, capIssues(issues));
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError('CONFIG_SYNTAX', source, [conversionIssue(doc, lines, e)], { cause: e });
  }
  return parseConfig(value, source, { baseDir: opts.baseDir, locate: locator(doc, lines) });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The file's text, refusing bytes that are not UTF-8: a lenient read turns them into U+FFFD, which
 * silently changes a name or an allow-list entry (a Latin-1 'ü', a surrogate written as CESU-8).
 */
function decodeUtf8(bytes: Buffer, path: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // The first line that does not decode, for the person who opens the file.
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        strictUtf8.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new ConfigError('CONFIG_INVALID', path, [
      { path: [], message: `the file is not valid UTF-8 (first bad bytes on line ${line})`, hint: "save the file as UTF-8 (most editors: 'Save with encoding'), then retype the characters on that line", line, col: 1 },
    ]);
  }
}

/** Read the text of a config file; ConfigError CONFIG_NOT_FOUND / CONFIG_UNREADABLE / CONFIG_INVALID (not UTF-8). */
export function readConfigText(path: string): string {
  try {
    // A stray multi-gigabyte file would otherwise be read whole before parseConfigText refuses it.
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError('CONFIG_INVALID', path, [tooLargeIssue(size)]);
    }
    return decodeUtf8(readFileSync(path), path);
  } catch (e) {
    if (isConfigError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError('CONFIG_NOT_FOUND', path, [{ path: [], message: 'file not found', hint: 'check the path, or copy config/default.yaml there' }], { cause: e });
    }
    throw new ConfigError('CONFIG_UNREADABLE', path, [{ path: [], message: `cannot read the file (${code ?? 'error'})`, hint: 'check that it is a file and readable by this user' }], { cause: e });
  }
}

/**
 * Load and validate a YAML config file. Relative paths inside resolve against its folder.
 * Throws ConfigError with every problem.
 */
export function loadConfig(path: string): Config {
  const text = readConfigText(path);
  return parseConfigText(text, path, { baseDir: dirname(resolve(path)) });
}

export interface ConfigWarningHost {
  /** CPU cores this process may use (os.availableParallelism()). */
  readonly cores: number;
}

/**
 * Things that are allowed but probably not intended; one line each, for the log or `config check`.
 * `host` describes the machine the camera-count warning is about (default: this one).
 */
export function configWarnings(config: Config, host: ConfigWarningHost = { cores: availableParallelism() }): string[] {
  const out: string[] = [];
  if (config.auth.enabled && config.auth.tokens.length === 0) {
    out.push('auth.tokens is empty: nobody can use the API or the event stream (add one with `facegate config hash-token --generate`)');
  }
  if (!isLoopback(config.server.bind) && !config.server.tls) {
    out.push(`server.bind '${config.server.bind}' is reachable from the network without server.tls: tokens travel in clear text (put TLS here or in a reverse proxy)`);
  }
  if (config.cameras.length === 0) out.push('no cameras configured');
  out.push(...capacityWarnings(config, host.cores));
  out.push(...credentialWarnings(config));
  return out;
}

/**
 * The warnings `next` has that `previous` had not: what a hot reload brought in (more cameras
 * than the box runs, a password in a query string), without repeating the ones logged at start.
 */
export function newConfigWarnings(previous: Config, next: Config, host: ConfigWarningHost = { cores: availableParallelism() }): string[] {
  const before = new Set(configWarnings(previous, host));
  return configWarnings(next, host).filter((w) => !before.has(w));
}
