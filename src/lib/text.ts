/**
 * Text that every store downstream can keep. A NUL (U+0000) or a lone UTF-16 surrogate is valid in
 * a JS string and in JSON, but PostgreSQL's jsonb and text refuse them, SQLite TEXT truncates at
 * NUL in some clients, and a lone surrogate cannot be encoded as UTF-8 at all. One such character
 * accepted at an entry (API body, MQTT command, CLI argument, config file) travels through the
 * event log to the hub and stops there, so every entry refuses it where it comes in.
 */

export type BadTextKind = 'nul' | 'lone-surrogate';

export interface BadText {
  /** Where in the value, as a dotted path (`reason`, `gates[2].name`); '' for the value itself. */
  readonly path: string;
  /** UTF-16 index of the offending code unit within that string. */
  readonly index: number;
  readonly kind: BadTextKind;
}

/** The first NUL or lone surrogate in one string, or undefined when the string is storable. */
export function findBadChar(s: string): { index: number; kind: BadTextKind } | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return { index: i, kind: 'nul' };
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return { index: i, kind: 'lone-surrogate' };
    }
    if (c >= 0xdc00 && c <= 0xdfff) return { index: i, kind: 'lone-surrogate' };
  }
  return undefined;
}

/**
 * The first unstorable string anywhere in a JSON-like value (object keys included), depth-first
 * in key order, or undefined. Cycles are not followed (values come from JSON.parse / YAML).
 */
export function findBadText(value: unknown, path = ''): BadText | undefined {
  if (typeof value === 'string') {
    const bad = findBadChar(value);
    return bad ? { path, ...bad } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = findBadText(value[i], `${path}[${i}]`);
      if (bad) return bad;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const keyPath = path === '' ? k : `${path}.${k}`;
      const badKey = findBadChar(k);
      if (badKey) return { path: keyPath, ...badKey };
      const bad = findBadText(v, keyPath);
      if (bad) return bad;
    }
  }
  return undefined;
}

/** One sentence for a person: what, where, how to fix. */
export function describeBadText(bad: BadText, where = 'value'): string {
  const what = bad.kind === 'nul' ? 'a NUL character (U+0000)' : 'a lone UTF-16 surrogate (not valid Unicode)';
  const at = bad.path === '' ? where : `${where} ${bad.path}`;
  return `${at} contains ${what} at index ${bad.index}: remove it (text must be valid Unicode without NUL)`;
}
