/**
 * A plain object (a parsed JSON or YAML mapping): not null, not an array. Pure, no imports, so the
 * dashboard bundle shares it with the config code.
 */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
