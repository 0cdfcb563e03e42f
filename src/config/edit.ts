/**
 * Editing the config file from a program (the API, the dashboard) while the YAML file stays the
 * one source of truth: the file is read as a `yaml` Document so that comments, key order and
 * quoting of everything not touched survive; a change (a camera or gate by id, or one path) is
 * applied to the document; the result goes through the same checks as `facegate config check`
 * (a ConfigError with every problem's path and fix); it is written atomically, keeping the
 * file's mode; and each written version is kept in the history (./history.ts).
 *
 * A version is the sha256 of the file's bytes, shortened: it changes whenever the file does,
 * whoever changed it, so an edit made against an older version (a second browser tab, a person
 * with an editor) is refused with the version now on disk instead of silently overwriting it.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node as YamlNode, type YAMLMap, type YAMLSeq } from 'yaml';
import { CodedError, type CodedErrorOptions } from '../errors.ts';
import { isSecretParamName, REDACTED, redactText } from '../redact.ts';
import { writeFileAtomic } from './atomic.ts';
import { deepEqual, diffConfig } from './diff.ts';
import { formatConfigPath, type ConfigPath } from './errors.ts';
import { DEFAULT_HISTORY_KEEP, historyDir, openConfigHistory, unifiedDiff, type HistoryEntry } from './history.ts';
import { parseConfigText, readConfigText } from './parse.ts';
import type { Config } from './schema.ts';
import { isRecord } from '../lib/records.ts';

export type ConfigEditErrorCode =
  /** The edit was made against another version than the one on disk. */
  | 'CONFIG_CONFLICT'
  /** No camera / gate with that id, or no such version in the history. */
  | 'CONFIG_EDIT_NOT_FOUND'
  /** The change itself is malformed (not a mapping, an id that differs from the one named). */
  | 'CONFIG_EDIT_BAD';

export class ConfigEditError extends CodedError<ConfigEditErrorCode> {
  /** The version on disk now (on a conflict). */
  readonly current: string | undefined;
  constructor(code: ConfigEditErrorCode, message: string, opts: CodedErrorOptions & { readonly current?: string } = {}) {
    super('ConfigEditError', code, message, opts);
    this.current = opts.current;
  }
}

export const isConfigEditError = (e: unknown): e is ConfigEditError => e instanceof ConfigEditError;

/** Hex digits of the sha256 a version keeps: 64 bits, plenty to tell a file's versions apart. */
const VERSION_LENGTH = 16;

/** The version of a file's text: the first 16 hex digits of the sha256 of its UTF-8 bytes. Pure. */
export function configVersion(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, VERSION_LENGTH);
}

export type ConfigListSection = 'cameras' | 'gates';

export type ConfigChange =
  /** Add the camera / gate with this id, or replace it (untouched keys keep their comments). */
  | { readonly op: 'put'; readonly section: ConfigListSection; readonly id: string; readonly value: Readonly<Record<string, unknown>> }
  | { readonly op: 'remove'; readonly section: ConfigListSection; readonly id: string }
  /** Set one path (`['recognition', 'threshold']`); `value` undefined removes the key. */
  | { readonly op: 'set'; readonly path: ConfigPath; readonly value: unknown };

const singular = (s: ConfigListSection): string => (s === 'cameras' ? 'camera' : 'gate');

/**
 * A string sent back as the redacted form of the one in the file (`rtsp://***@host/x`, `***`):
 * what GET /v1/config showed, not a new value. The file keeps its secret.
 */
function isRedactedEcho(old: unknown, next: unknown): boolean {
  return typeof old === 'string' && typeof next === 'string' && old !== next && (next === REDACTED || redactText(old) === next);
}

const nodeJs = (doc: Document, node: unknown): unknown => (node !== null && typeof node === 'object' && 'toJS' in node ? (node as YamlNode).toJS(doc) : node);

/**
 * `next` merged into the node `cur`: equal values keep their node (comments, quoting), mappings
 * and lists are merged item by item, scalars change in place. Returns the node to put in its
 * place when `cur` cannot take the value (another type).
 */
function mergeNode(doc: Document, cur: unknown, next: unknown): unknown | undefined {
  const old = nodeJs(doc, cur);
  if (isRedactedEcho(old, next) || deepEqual(old, next)) return undefined;
  if (isMap(cur) && isRecord(next)) {
    mergeMap(doc, cur, next);
    return undefined;
  }
  if (isSeq(cur) && Array.isArray(next)) {
    mergeSeq(doc, cur, next);
    return undefined;
  }
  if (isScalar(cur) && (next === null || typeof next !== 'object')) {
    cur.value = next;
    return undefined;
  }
  return doc.createNode(next);
}

function mergeMap(doc: Document, map: YAMLMap, next: Readonly<Record<string, unknown>>): void {
  for (const pair of [...map.items]) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    if (typeof key !== 'string' || !Object.hasOwn(next, key)) map.delete(pair.key);
  }
  for (const [k, v] of Object.entries(next)) {
    if (v === undefined) continue;
    if (!map.has(k)) {
      map.set(k, doc.createNode(v));
      continue;
    }
    const replacement = mergeNode(doc, map.get(k, true), v);
    if (replacement !== undefined) map.set(k, replacement);
  }
}

function mergeSeq(doc: Document, seq: YAMLSeq, next: readonly unknown[]): void {
  seq.items.splice(next.length);
  next.forEach((v, i) => {
    if (i >= seq.items.length) {
      seq.items.push(doc.createNode(v));
      return;
    }
    const replacement = mergeNode(doc, seq.items[i], v);
    if (replacement !== undefined) seq.items[i] = replacement;
  });
}

function itemIndex(seq: YAMLSeq, id: string): number {
  return seq.items.findIndex((item) => isMap(item) && item.get('id') === id);
}

function applyToDocument(doc: Document, change: ConfigChange): string[] {
  if (change.op === 'set') {
    if (change.path.length === 0) throw new ConfigEditError('CONFIG_EDIT_BAD', 'a path to set is required', { hint: "name the key, e.g. ['recognition', 'threshold']" });
    const path = formatConfigPath(change.path);
    if (change.value === undefined) {
      doc.deleteIn(change.path);
      return [path];
    }
    const cur = doc.getIn(change.path, true);
    if (cur === undefined) doc.setIn(change.path, doc.createNode(change.value));
    else {
      const replacement = mergeNode(doc, cur, change.value);
      if (replacement !== undefined) doc.setIn(change.path, replacement);
    }
    return [path];
  }
  const { section, id } = change;
  const what = singular(section);
  const path = `${section}.${id}`;
  let seq = doc.get(section, true);
  if (seq !== undefined && !isSeq(seq) && !(isScalar(seq) && seq.value === null)) {
    throw new ConfigEditError('CONFIG_EDIT_BAD', `${section} in the file is not a list`, { context: { section }, hint: `fix the file by hand first: ${section} is a list of \`- id: ...\` items` });
  }
  const index = isSeq(seq) ? itemIndex(seq, id) : -1;
  if (change.op === 'remove') {
    if (!isSeq(seq) || index < 0) throw new ConfigEditError('CONFIG_EDIT_NOT_FOUND', `no ${what} '${id}' in the config`, { context: { section, id }, hint: `GET /v1/config lists the ${section}` });
    seq.items.splice(index, 1);
    return [path];
  }
  if (!isRecord(change.value)) throw new ConfigEditError('CONFIG_EDIT_BAD', `the ${what} must be a mapping`, { context: { section, id }, hint: `send a JSON object such as { "id": "${id}", ... }` });
  if (change.value.id !== undefined && change.value.id !== id) {
    throw new ConfigEditError('CONFIG_EDIT_BAD', `the ${what}'s id differs from the one in the path ('${id}')`, { context: { section, id }, hint: `leave id out or send '${id}'; to rename, add the new ${what} and remove the old one` });
  }
  const value = { id, ...change.value };
  if (!isSeq(seq)) {
    doc.set(section, doc.createNode([value]));
    return [path];
  }
  // `cameras: []` (the way an empty list is written) grows into a block list, one item per entry.
  // Its trailing comment stays with it, above the first item.
  if (seq.flow && seq.items.length === 0) {
    seq.flow = false;
    if (seq.comment) [seq.commentBefore, seq.comment] = [seq.comment, undefined];
  }
  if (index < 0) seq.items.push(doc.createNode(value));
  else {
    const replacement = mergeNode(doc, seq.items[index], value);
    if (replacement !== undefined) seq.items[index] = replacement;
  }
  return [path];
}

/**
 * The yaml library writes the whole document again: match the file's own habits where they
 * differ from its defaults (`[a, b]`, no folding of long lines, list items under their key or not).
 */
function stringifyLike(doc: Document, original: string): string {
  const indentSeq = !/^[^\s#][^\n]*:[ \t]*\n-[ \t]/m.test(original);
  return doc.toString({ flowCollectionPadding: /[[{] \S/.test(original), lineWidth: 0, indentSeq });
}

/** Keys whose values are secrets wherever they are (besides what src/redact.ts names): token hashes. */
const SECRET_KEYS = new Set(['sha256']);

/**
 * The config text as an API client may see it: the value of every secret-named key (`password`,
 * `token`, `secret`, a token's `sha256`) replaced by `***`, and every URL (values and comments)
 * without its userinfo or secret parameters. Comments and key order stay. Pure.
 */
export function redactConfigText(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return redactText(text);
  visit(doc, {
    Pair(_key, pair) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key === 'string' && (SECRET_KEYS.has(key) || isSecretParamName(key)) && isScalar(pair.value) && pair.value.value !== null) {
        pair.value.value = REDACTED;
      }
    },
    Scalar(_key, node) {
      if (typeof node.value === 'string') node.value = redactText(node.value);
    },
  });
  return redactText(stringifyLike(doc, text));
}

export interface AppliedChange {
  readonly text: string;
  /** The config paths it touched: 'cameras.door', 'gates.main', 'recognition.threshold'. */
  readonly paths: readonly string[];
}

/**
 * A change applied to the YAML text, keeping its comments and key order. Not validated (see
 * checkConfigText). Throws ConfigEditError for a malformed change or a missing id, and the
 * ConfigError of `config check` when the text itself is not YAML. Pure.
 */
export function applyConfigChange(text: string, change: ConfigChange, source = 'config'): AppliedChange {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) parseConfigText(text, source); // throws the syntax error with its line
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const paths = applyToDocument(doc, change);
  return { text: stringifyLike(doc, text), paths };
}

/** The config paths that differ between two configs: cameras and gates by id, other sections whole. Pure. */
export function changedPaths(previous: Config, next: Config): string[] {
  const d = diffConfig(previous, next);
  const out = [...d.cameras.added, ...d.cameras.changed, ...d.cameras.removed].map((id) => `cameras.${id}`);
  const gates = new Map(previous.gates.map((g) => [g.id, g]));
  const nextIds = new Set(next.gates.map((g) => g.id));
  for (const g of next.gates) if (!deepEqual(gates.get(g.id), g)) out.push(`gates.${g.id}`);
  for (const id of gates.keys()) if (!nextIds.has(id)) out.push(`gates.${id}`);
  for (const s of d.sections) if (s !== 'cameras' && s !== 'gates') out.push(s);
  return out;
}

// ---------------------------------------------------------------------------------------------

export interface ConfigEditorOptions {
  /** Versions the history keeps (default 20). */
  readonly keep?: number;
  /** Where the history lives (default: `.history/<file name>/` beside the file). */
  readonly historyDir?: string;
  /** Time source for the history (tests). */
  readonly now?: () => number;
}

export interface EditResult {
  readonly version: string;
  readonly previous: string;
  /** The config as validated (paths resolved against the file's folder, like loadConfig). */
  readonly config: Config;
  readonly paths: readonly string[];
  /** False when the change left the file as it was (nothing written, nothing recorded). */
  readonly changed: boolean;
  readonly rollback: boolean;
}

export interface VersionDiff {
  readonly version: string;
  readonly previous: string | undefined;
  readonly entry: HistoryEntry;
  /** Unified diff from `previous` (empty text when that version is no longer kept) to `version`. */
  readonly diff: string;
  readonly previousKept: boolean;
}

export interface ConfigEditor {
  readonly file: string;
  /** The file's text and version now. */
  current(): { readonly text: string; readonly version: string };
  /** Apply a change made against `ifMatch`; throws ConfigEditError (conflict...) or ConfigError (invalid result). */
  edit(change: ConfigChange, opts: { readonly ifMatch: string; readonly actor: string }): EditResult;
  /** Write an earlier version back (it is validated again: the schema may have moved on). */
  rollback(version: string, opts: { readonly actor: string; readonly ifMatch?: string | undefined }): EditResult;
  /** The kept versions, newest first. */
  history(): HistoryEntry[];
  /** The diff of a version against the one it replaced, both seen through `view` (redaction for a client). */
  diff(version: string, view?: (text: string) => string): VersionDiff;
}

/**
 * The editor of one config file. Every step is synchronous, so two edits in this process never
 * interleave between the version check and the rename; an edit from elsewhere (a person's editor)
 * between the two is the remaining window, and the next edit through here sees its version.
 */
export function createConfigEditor(path: string, opts: ConfigEditorOptions = {}): ConfigEditor {
  const file = resolve(path);
  const baseDir = dirname(file);
  const now = opts.now ?? Date.now;
  const history = openConfigHistory(opts.historyDir ?? historyDir(file), opts.keep ?? DEFAULT_HISTORY_KEEP);
  const current = () => {
    const text = readConfigText(file);
    return { text, version: configVersion(text) };
  };
  const conflict = (expected: string, version: string): ConfigEditError =>
    new ConfigEditError('CONFIG_CONFLICT', `the config changed since version ${expected}: it is now ${version}`, { current: version, context: { expected, current: version }, hint: 'read the config again (GET /v1/config), then repeat the change on the current version' });

  const write = (before: { text: string; version: string }, text: string, paths: readonly string[], actor: string, rollback: boolean): EditResult => {
    const config = parseConfigText(text, file, { baseDir });
    const version = configVersion(text);
    if (text === before.text) return { version, previous: before.version, config, paths: [], changed: false, rollback };
    const mode = statSync(file).mode & 0o7777;
    // The version being replaced is kept first, so a rollback to it works even when it was
    // written by hand (the first edit through here, or an edit between two of them).
    if (history.entry(before.version) === undefined) {
      history.add({ version: before.version, timeMs: Math.floor(statSync(file).mtimeMs), actor: 'file', paths: [] }, before.text, mode);
    }
    writeFileAtomic(file, text, mode);
    history.add({ version, previous: before.version, timeMs: now(), actor, paths, ...(rollback ? { rollback: true } : {}) }, text, mode);
    return { version, previous: before.version, config, paths, changed: true, rollback };
  };

  return {
    file,
    current,
    edit: (change, o) => {
      const before = current();
      if (o.ifMatch !== before.version) throw conflict(o.ifMatch, before.version);
      const applied = applyConfigChange(before.text, change, file);
      return write(before, applied.text, applied.paths, o.actor, false);
    },
    rollback: (version, o) => {
      const before = current();
      if (o.ifMatch !== undefined && o.ifMatch !== before.version) throw conflict(o.ifMatch, before.version);
      const text = history.text(version);
      if (text === undefined || configVersion(text) !== version) {
        throw new ConfigEditError('CONFIG_EDIT_NOT_FOUND', `version ${version} is not in the history`, { context: { version }, hint: 'GET /v1/config/history lists the versions kept' });
      }
      const previousConfig = parseConfigText(before.text, file, { baseDir });
      const nextConfig = parseConfigText(text, file, { baseDir });
      return write(before, text, changedPaths(previousConfig, nextConfig), o.actor, true);
    },
    history: () => history.list(),
    diff: (version, view = (x) => x) => {
      const entry = history.entry(version);
      const text = entry && history.text(version);
      if (!entry || text === undefined) throw new ConfigEditError('CONFIG_EDIT_NOT_FOUND', `version ${version} is not in the history`, { context: { version }, hint: 'GET /v1/config/history lists the versions kept' });
      const before = entry.previous === undefined ? undefined : history.text(entry.previous);
      return { version, previous: entry.previous, entry, diff: unifiedDiff(before === undefined ? '' : view(before), view(text), { from: entry.previous ?? '(none)', to: version }), previousKept: before !== undefined };
    },
  };
}
