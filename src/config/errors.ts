/**
 * Config errors. Not a FacegateError (whose code union is closed): a ConfigError carries every
 * problem of a file at once, each with its path (`cameras[1].fps`), the YAML line/column where
 * known, and a fix. Messages never echo string values from the file (camera URLs carry passwords);
 * as a second line of defence every message, hint and key of an issue goes through redactText
 * when the error is built, so a value that does slip into one (a URL pasted as an id or a key)
 * is shown without its credentials.
 */
import { redactText } from '../redact.ts';

export type ConfigErrorCode =
  /** The file does not exist. */
  | 'CONFIG_NOT_FOUND'
  /** The file exists but could not be read (permissions, a folder...). */
  | 'CONFIG_UNREADABLE'
  /** Not valid YAML. */
  | 'CONFIG_SYNTAX'
  /** Valid YAML, but not a valid configuration. */
  | 'CONFIG_INVALID';

export type ConfigPath = readonly (string | number)[];

export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly message: string;
  readonly hint?: string | undefined;
  /** 1-based position in the YAML file, when the config came from one. */
  readonly line?: number | undefined;
  readonly col?: number | undefined;
}

const IDENT = /^[A-Za-z_$][\w$-]*$/;
/** Keys longer than this are shown cut (an unknown key may be a whole pasted line). */
const MAX_SHOWN_KEY = 64;

const shownKey = (key: string): string => {
  const safe = redactText(key);
  return safe.length > MAX_SHOWN_KEY ? `${safe.slice(0, MAX_SHOWN_KEY - 1)}…` : safe;
};

/**
 * `cameras[1].fps`, `server.tls.cert`, `gates[0].allow["odd key"]`; empty path = the whole file.
 * Keys are shown redacted and cut to 64 characters.
 */
export function formatConfigPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg) && seg.length <= MAX_SHOWN_KEY) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(shownKey(seg))}]`;
  }
  return out;
}

/** An issue with its message, hint and keys redacted (see the module comment). */
function redactIssue(issue: ConfigIssue): ConfigIssue {
  return {
    ...issue,
    path: issue.path.map((seg) => (typeof seg === 'string' ? redactText(seg) : seg)),
    message: redactText(issue.message),
    hint: issue.hint === undefined ? undefined : redactText(issue.hint),
  };
}

/** One line per issue (`file:line:col path: message`) with its fix on the next line. */
export function formatConfigIssue(issue: ConfigIssue, source?: string): string {
  const at = issue.line !== undefined ? `${source ?? ''}:${issue.line}:${issue.col ?? 1}` : (source ?? '');
  const where = formatConfigPath(issue.path);
  const head = [at, where].filter(Boolean).join(' ');
  const line = head ? `${head}: ${issue.message}` : issue.message;
  return issue.hint ? `${line}\n  fix: ${issue.hint}` : line;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** The file (or label) the configuration came from. */
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, source: string, rawIssues: readonly ConfigIssue[], opts: { cause?: unknown } = {}) {
    const issues = rawIssues.map(redactIssue);
    const first = issues[0];
    const summary = first ? formatConfigIssue({ ...first, hint: undefined }, source) : `${source}: invalid configuration`;
    super(issues.length > 1 ? `${summary} (and ${issues.length - 1} more)` : summary, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ConfigError';
    this.code = code;
    this.source = source;
    this.issues = issues;
  }

  /** The fix of the first issue (FacegateError's shape, for callers that print message + hint). */
  get hint(): string | undefined {
    return this.issues[0]?.hint;
  }

  /** Every issue with its path and fix, for a person. */
  describe(): string {
    return formatConfigErrors(this);
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}

/** A heading and every issue with its fix; accepts a ConfigError or a bare issue list. */
export function formatConfigErrors(error: ConfigError | readonly ConfigIssue[], source?: string): string {
  const issues = error instanceof ConfigError ? error.issues : error;
  const src = error instanceof ConfigError ? error.source : source;
  const n = issues.length;
  const heading = `${src ? `${src}: ` : ''}${n === 1 ? '1 problem' : `${n} problems`}`;
  return [heading, ...issues.map((i) => formatConfigIssue(i, src))].join('\n');
}
