/**
 * One redaction module for URLs and secrets. Everything that may carry a camera URL, a webhook
 * URL or a GStreamer property line goes through here before it reaches a log line, an event, the
 * API or the CLI. Pure and synchronous.
 *
 * Redaction errs on the side of hiding too much: the userinfo of a URL ends at its LAST `@`
 * (before whitespace), so an unencoded `@`, `/`, `?` or `#` in a password (`rtsp://admin:P@ss@host/`)
 * is hidden whole. The price: a URL without credentials but with an `@` later in its path or
 * query (`http://h/x?mail=a@b`) loses everything before that `@` -> `http://***@b`.
 */

/** What replaces a secret. */
export const REDACTED = '***';

/** Query/fragment parameter names whose values are secrets (compared case-insensitively). */
const SECRET_PARAM_EXACT = new Set([
  'password',
  'pass',
  'pwd',
  'passwd',
  'passphrase',
  'token',
  'key',
  'secret',
  'auth',
  'signature',
  'sig',
  'access_token',
  'apikey',
  'api_key',
  'credential',
  'credentials',
  'user-pw',
  'proxy-pw',
]);
/** ...and names that end like one (`refresh_token`, `x-api-key`, `client_secret`, `X-Amz-Signature`). */
const SECRET_PARAM_SUFFIX = /(?:^|[_.-])(?:token|key|secret|password|passwd|pwd|signature|credential|auth)$/i;

/** Is this query parameter name one whose value must never be shown? */
export function isSecretParamName(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    // keep the raw name: a malformed escape is still compared as written
  }
  const lower = decoded.trim().toLowerCase();
  return SECRET_PARAM_EXACT.has(lower) || SECRET_PARAM_SUFFIX.test(lower);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

interface UrlParts {
  /** `rtsp://` */
  readonly scheme: string;
  /** Text between `scheme` and the last `@`, or undefined when there is none. */
  readonly userinfo: string | undefined;
  /** The rest: host, port, path, query, fragment. */
  readonly rest: string;
}

function splitUrl(url: string): UrlParts | undefined {
  const m = SCHEME.exec(url);
  if (!m) return undefined;
  const afterScheme = url.slice(m[0].length);
  const at = afterScheme.lastIndexOf('@');
  if (at < 0) return { scheme: m[0], userinfo: undefined, rest: afterScheme };
  return { scheme: m[0], userinfo: afterScheme.slice(0, at), rest: afterScheme.slice(at + 1) };
}

/** Replace secret values in `a=1&password=x` (query or fragment body). */
function redactParams(params: string, found?: Array<{ kind: 'userinfo' | 'query'; name: string }>): string {
  return params
    .split(/([&;])/)
    .map((part) => {
      if (part === '&' || part === ';') return part;
      const eq = part.indexOf('=');
      if (eq < 0) return part;
      const name = part.slice(0, eq);
      if (!isSecretParamName(name)) return part;
      found?.push({ kind: 'query', name });
      return `${name}=${REDACTED}`;
    })
    .join('');
}

/** Query and fragment of `rest` (host/path/query/fragment) with secret values replaced. */
function redactRest(rest: string, found?: Array<{ kind: 'userinfo' | 'query'; name: string }>): string {
  const q = rest.indexOf('?');
  const h = rest.indexOf('#');
  if (q < 0 && h < 0) return rest;
  // The fragment may carry params too (`#access_token=...`, OAuth implicit flow).
  if (q >= 0 && (h < 0 || q < h)) {
    const pathPart = rest.slice(0, q + 1);
    const afterQ = rest.slice(q + 1);
    const hq = afterQ.indexOf('#');
    if (hq < 0) return pathPart + redactParams(afterQ, found);
    return pathPart + redactParams(afterQ.slice(0, hq), found) + '#' + redactParams(afterQ.slice(hq + 1), found);
  }
  return rest.slice(0, h + 1) + redactParams(rest.slice(h + 1), found);
}

/**
 * A URL with its credentials hidden: the whole userinfo becomes `***` and the values of secret
 * query/fragment parameters become `***`. Text that is not a URL comes back unchanged except for
 * secret `name=value` pairs (see redactText).
 */
export function redactUrl(url: string): string {
  const parts = splitUrl(url);
  return parts ? joinRedacted(parts) : redactText(url);
}

/** A split URL put back together with the userinfo hidden and secret parameters replaced. */
function joinRedacted(parts: UrlParts): string {
  return parts.scheme + (parts.userinfo === undefined ? '' : `${REDACTED}@`) + redactRest(parts.rest);
}

/**
 * The secret strings of a URL (user, password, whole userinfo, secret query/fragment values),
 * raw and percent-decoded, longest first: what to scrub from text that repeats them outside a URL
 * (GStreamer's stderr). Short user names (< 3 characters) would shred unrelated words, so they
 * are left out; the password is always kept.
 */
export function secretStringsOf(url: string): string[] {
  const parts = splitUrl(url);
  if (!parts) return [];
  const out = new Set<string>();
  const add = (raw: string | undefined) => {
    if (!raw) return;
    out.add(raw);
    out.add(safeDecode(raw));
  };
  let pass: string | undefined;
  if (parts.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(':');
    pass = colon >= 0 ? parts.userinfo.slice(colon + 1) : undefined;
    add(parts.userinfo);
    add(pass);
    add(colon >= 0 ? parts.userinfo.slice(0, colon) : parts.userinfo);
  }
  // Values of secret query/fragment parameters (what redactUrl replaces), anywhere after the scheme.
  const afterScheme = parts.userinfo === undefined ? parts.rest : `${parts.userinfo}@${parts.rest}`;
  for (const [, name, value] of afterScheme.matchAll(/[?&#;]([^=&#;?]+)=([^&#;]*)/g)) {
    if (isSecretParamName(name)) add(value);
  }
  const passForms = new Set([pass, pass === undefined ? undefined : safeDecode(pass)]);
  return [...out].filter((x) => x.length >= 3 || passForms.has(x)).sort((a, b) => b.length - a.length);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not percent-encoded: the raw form is all there is
  }
}

/** The secrets a URL carries, by where they are (what `config check` warns about). */
export function urlSecrets(url: string): ReadonlyArray<{ kind: 'userinfo' | 'query'; name: string }> {
  const parts = splitUrl(url.trim());
  if (!parts) return [];
  const found: Array<{ kind: 'userinfo' | 'query'; name: string }> = [];
  if (parts.userinfo !== undefined && parts.userinfo.length > 0) {
    found.push({ kind: 'userinfo', name: parts.userinfo.includes(':') ? 'password' : 'user' });
  }
  redactRest(parts.rest, found);
  return found;
}

/**
 * A URL inside free text runs from its scheme to the next whitespace or quote/bracket character
 * that cannot be part of a URL written by a person or GStreamer.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*/gi;
const TRAILING_PUNCTUATION = /[.,;:!)\]}]+$/;
/** `user-pw=secret`, `password: "x y"`, `--token=abc`: GStreamer properties and key/value text. */
const SECRET_PROPERTY =
  /(\b(?:user-pw|user-id|proxy-pw|proxy-id|password|passwd|passphrase|pwd|secret|token|access_token|api_key|apikey)\b"?\s*[=:]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,;&)}\]]+)/gi;

/** Every URL in `text` redacted, plus secret `name=value` properties outside URLs. */
export function redactText(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(URL_IN_TEXT)) {
    const start = m.index ?? 0;
    out += redactProperties(text.slice(last, start));
    // Sentence punctuation after a URL (`(rtsp://h/x), retrying`) is not part of it.
    const url = m[0].replace(TRAILING_PUNCTUATION, '');
    const parts = splitUrl(url);
    out += parts ? joinRedacted(parts) : url;
    last = start + url.length;
  }
  return out + redactProperties(text.slice(last));
}

function redactProperties(text: string): string {
  if (!text) return text;
  return text.replace(SECRET_PROPERTY, (_all, prefix: string, value: string) => {
    const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    return `${prefix}${quote}${REDACTED}${quote}`;
  });
}

/**
 * Any value made safe to log: strings through redactText, arrays and plain objects walked
 * (depth-bounded, cycles cut), Errors copied with message, stack, cause and own fields redacted
 * (same prototype, so pino's err serializer still names the class).
 */
export function redactValue(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth > 8) return '[too deep]';
  seen.add(value);
  if (value instanceof Error) return redactError(value, depth, seen);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof Map || value instanceof Set) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1, seen);
  return out;
}

function redactError(e: Error, depth: number, seen: WeakSet<object>): Error {
  const copy = Object.create(Object.getPrototypeOf(e) as object) as Error;
  const fields = copy as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) fields[k] = redactValue(v, depth + 1, seen);
  const hidden = (key: string, v: unknown) => Object.defineProperty(copy, key, { value: v, enumerable: false, writable: true, configurable: true });
  hidden('message', redactText(e.message));
  if (e.stack !== undefined) hidden('stack', redactText(e.stack));
  if (e.cause !== undefined) hidden('cause', redactValue(e.cause, depth + 1, seen));
  return copy;
}
