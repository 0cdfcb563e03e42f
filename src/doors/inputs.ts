/**
 * Door inputs from MQTT payloads (pure): a contact reading (open / closed) or a REX press. A
 * payload is compared as UTF-8 text, or, with `field`, as that top-level key of a JSON object
 * (zigbee2mqtt publishes `{"contact": true, ...}`, `{"action": "single"}`); strings, numbers and
 * booleans compare by their text ('true', '1').
 */

export interface ContactPayloadRule {
  readonly open: string;
  readonly closed: string;
  readonly field?: string | undefined;
}

export interface RexPayloadRule {
  readonly press: string;
  readonly field?: string | undefined;
}

/** The value a rule compares, or undefined for a payload that carries none. */
export function payloadValue(payload: Uint8Array | string, field: string | undefined): string | undefined {
  const text = (typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')).trim();
  if (field === undefined) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || !Object.hasOwn(parsed, field)) return undefined;
  const v = (parsed as Record<string, unknown>)[field];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** true: open, false: closed, undefined: neither (logged and ignored by the caller). */
export function contactReading(rule: ContactPayloadRule, payload: Uint8Array | string): boolean | undefined {
  const v = payloadValue(payload, rule.field);
  if (v === rule.open) return true;
  if (v === rule.closed) return false;
  return undefined;
}

export function isRexPress(rule: RexPayloadRule, payload: Uint8Array | string): boolean {
  return payloadValue(payload, rule.field) === rule.press;
}
