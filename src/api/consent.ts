/**
 * Consent as a client states it with a new identity: `consent` (the notice shown or a form
 * reference), `consentMethod`, `consentPurpose`, `consentExpiresAt` (ms or an ISO date). Read
 * from query parameters (a photo upload, the photo being the body) or a JSON body (naming an
 * unknown cluster): one parser, one set of limits. Undefined when `consent` is absent.
 */
import { HttpError } from './router.ts';
import type { ConsentInput } from './types.ts';

export function parseConsent(get: (key: string) => string | undefined): ConsentInput | undefined {
  const text = get('consent')?.trim();
  if (!text) return undefined;
  if (text.length > 4000) throw new HttpError(400, 'consent must be at most 4000 characters');
  const word = (k: string, max: number): string | undefined => {
    const v = get(k)?.trim();
    if (v !== undefined && (v.length === 0 || v.length > max)) throw new HttpError(400, `${k} must be 1-${max} characters`);
    return v;
  };
  const method = word('consentMethod', 64);
  const purpose = word('consentPurpose', 256);
  const exp = get('consentExpiresAt');
  let expiresAt: number | undefined;
  if (exp !== undefined) {
    expiresAt = /^\d+$/.test(exp) ? Number(exp) : Date.parse(exp);
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= Date.now()) throw new HttpError(400, 'consentExpiresAt must be a future time (ms since the epoch or an ISO date)');
  }
  return { text, ...(method ? { method } : {}), ...(purpose ? { purpose } : {}), ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** A JSON body's consent fields as parseConsent reads them (strings and numbers only). */
export function bodyField(body: Record<string, unknown>): (key: string) => string | undefined {
  return (key) => {
    const v = body[key];
    return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
  };
}
