/**
 * A small, independent JSON Schema (draft 2020-12) validator for the keywords the event schema
 * uses, so tests can check events against src/events/schema.v1.json itself rather than against
 * the zod schema it was generated from. Unknown keywords fail loudly, so the check cannot pass by
 * silently ignoring a constraint.
 */
type Schema = boolean | { readonly [k: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'format']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'oneOf',
  'anyOf',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'pattern',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Errors as `path: message`; empty when valid. */
export function validateJsonSchema(schema: Schema, value: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: not allowed`];
  const errors: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`validator does not support keyword '${k}' at ${path}`);
  const s = schema as Record<string, unknown>;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const t = typeOf(value);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return [`${path}: expected ${types.join('|')}, got ${t}`];
  }
  if ('const' in s && !equal(value, s.const)) errors.push(`${path}: expected const ${JSON.stringify(s.const)}`);
  if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => equal(e, value))) errors.push(`${path}: not one of ${JSON.stringify(s.enum)}`);
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) errors.push(`${path}: < minimum ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) errors.push(`${path}: > maximum ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) errors.push(`${path}: <= exclusiveMinimum ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) errors.push(`${path}: >= exclusiveMaximum ${s.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (typeof s.minLength === 'number' && len < s.minLength) errors.push(`${path}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && len > s.maxLength) errors.push(`${path}: longer than ${s.maxLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) errors.push(`${path}: does not match ${s.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) errors.push(`${path}: fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) errors.push(`${path}: more than ${s.maxItems} items`);
    const prefix = (s.prefixItems as Schema[] | undefined) ?? [];
    value.forEach((item, i) => {
      if (i < prefix.length) errors.push(...validateJsonSchema(prefix[i], item, `${path}[${i}]`));
      else if (s.items !== undefined) errors.push(...validateJsonSchema(s.items as Schema, item, `${path}[${i}]`));
    });
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in obj)) errors.push(`${path}: missing required '${r}'`);
    for (const [k, v] of Object.entries(obj)) {
      if (s.propertyNames !== undefined) errors.push(...validateJsonSchema(s.propertyNames as Schema, k, `${path}.<key ${k}>`));
      if (k in props) errors.push(...validateJsonSchema(props[k], v, `${path}.${k}`));
      else if (s.additionalProperties !== undefined) errors.push(...validateJsonSchema(s.additionalProperties as Schema, v, `${path}.${k}`));
    }
  }
  if (s.oneOf !== undefined) {
    const results = (s.oneOf as Schema[]).map((sub) => validateJsonSchema(sub, value, path));
    const passing = results.filter((r) => r.length === 0).length;
    if (passing !== 1) errors.push(`${path}: matches ${passing} of oneOf (want exactly 1)${passing === 0 ? `; closest: ${results.sort((a, b) => a.length - b.length)[0].join(', ')}` : ''}`);
  }
  if (s.anyOf !== undefined) {
    const results = (s.anyOf as Schema[]).map((sub) => validateJsonSchema(sub, value, path));
    if (!results.some((r) => r.length === 0)) errors.push(`${path}: matches none of anyOf`);
  }
  return errors;
}
