/**
 * The signed HTTP input of a door contact or REX button (docs/doors.md): a sensor bridge POSTs
 * `{"state": "open" | "closed", "sentAtMs": MS}` (contact) or `{"press": true, "sentAtMs": MS}`
 * (REX) with `X-Facegate-Signature: sha256=<HMAC-SHA256 of the raw body>` under the input's
 * secret, the gate webhook's scheme. The time is inside the signed body, so a replay cannot
 * carry a fresh one; a body seen before inside the window is a replay too (ReplayGuard).
 * Pure: bytes, secret and time in, a reading or a refusal with its reason out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isRecord } from '../lib/records.ts';

export const DOOR_WEBHOOK_SIGNATURE_HEADER = 'x-facegate-signature';
/** How far the signed time may be from the box's clock, either way. */
export const DOOR_WEBHOOK_WINDOW_MS = 5 * 60_000;

export type DoorWebhookInput = 'contact' | 'rex';

export type DoorWebhookVerdict =
  | { readonly ok: true; readonly reading: { readonly kind: 'contact'; readonly open: boolean } | { readonly kind: 'rex' }; readonly sentAtMs: number }
  | { readonly ok: false; readonly status: 400 | 401; readonly code: 'DOOR_WEBHOOK_SIGNATURE' | 'DOOR_WEBHOOK_STALE' | 'DOOR_WEBHOOK_BODY'; readonly message: string; readonly hint: string };

/** `sha256=<hex>` of the raw body (what a bridge sends; the tests sign with it). */
export function signDoorWebhook(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

const refuse = (status: 400 | 401, code: 'DOOR_WEBHOOK_SIGNATURE' | 'DOOR_WEBHOOK_STALE' | 'DOOR_WEBHOOK_BODY', message: string, hint: string): DoorWebhookVerdict => ({ ok: false, status, code, message, hint });

/** Check one request: the signature (constant time), then the signed time, then the reading. */
export function verifyDoorWebhook(input: DoorWebhookInput, secret: string, body: Buffer, signature: string | undefined, nowMs: number): DoorWebhookVerdict {
  const expected = Buffer.from(signDoorWebhook(secret, body));
  const got = Buffer.from(signature ?? '');
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    return refuse(401, 'DOOR_WEBHOOK_SIGNATURE', signature ? 'the signature does not match the body' : 'the request is not signed', 'send X-Facegate-Signature: sha256=<hex HMAC-SHA256 of the raw body under the input secret>');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse(400, 'DOOR_WEBHOOK_BODY', 'the body is not JSON', input === 'contact' ? 'send {"state": "open", "sentAtMs": <ms>}' : 'send {"press": true, "sentAtMs": <ms>}');
  }
  const d = isRecord(doc) ? doc : {};
  const sentAtMs = d.sentAtMs;
  if (typeof sentAtMs !== 'number' || !Number.isFinite(sentAtMs)) return refuse(400, 'DOOR_WEBHOOK_BODY', 'sentAtMs is missing', 'put the send time (ms since the epoch) in the signed body as sentAtMs');
  if (Math.abs(nowMs - sentAtMs) > DOOR_WEBHOOK_WINDOW_MS) {
    return refuse(401, 'DOOR_WEBHOOK_STALE', `sentAtMs is ${Math.round((nowMs - sentAtMs) / 1000)} s off the box's clock (at most ${DOOR_WEBHOOK_WINDOW_MS / 1000} s)`, "sign each request when it is sent, and keep the bridge's and the box's clocks in sync (NTP)");
  }
  if (input === 'contact') {
    if (d.state !== 'open' && d.state !== 'closed') return refuse(400, 'DOOR_WEBHOOK_BODY', 'state must be "open" or "closed"', 'send {"state": "open", "sentAtMs": <ms>}');
    return { ok: true, reading: { kind: 'contact', open: d.state === 'open' }, sentAtMs };
  }
  if (d.press !== true) return refuse(400, 'DOOR_WEBHOOK_BODY', 'press must be true', 'send {"press": true, "sentAtMs": <ms>}');
  return { ok: true, reading: { kind: 'rex' }, sentAtMs };
}

/**
 * Signatures already taken, kept for the window: a body replayed inside the window (where its
 * time still passes) is refused. Bounded: at most `max` entries, the oldest forgotten first.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = DOOR_WEBHOOK_WINDOW_MS,
    private readonly max = 10_000,
  ) {}

  /** True the first time `signature` is seen inside the window; false for a replay. */
  admit(signature: string, sentAtMs: number, nowMs: number): boolean {
    for (const [k, at] of this.seen) {
      if (at >= nowMs - this.windowMs * 2) break;
      this.seen.delete(k);
    }
    if (this.seen.has(signature)) return false;
    this.seen.set(signature, Math.max(sentAtMs, nowMs));
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }
}
