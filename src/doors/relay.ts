/**
 * The lock relay: a Shelly Gen2+ device driven by RPC `Switch.Set` over HTTP (`POST <url>/rpc`,
 * a JSON-RPC 2.0 frame). Every release carries `toggle_after` (seconds), so the relay flips back
 * to locked on its own timer: the door re-locks even when facegate, the box or the network dies
 * in between.
 *
 * Polarity follows the door's failMode: `secure` (a strike, locked without power) is released by
 * switching the relay on; `safe` (a maglock, open without power) by switching it off.
 *
 * A relay that does not answer within its timeout, answers an HTTP error, an RPC error or anything
 * that is not Switch.Set's reply (`result.was_on`) is a DoorError (DOOR_RELAY_FAILED): the caller
 * reports a failed actuation, never a silent success. URLs are logged and reported redacted.
 */
import { redactText, redactUrl } from '../redact.ts';
import type { LockCommand } from './machine.ts';
import { DoorError } from './errors.ts';

export interface RelayTarget {
  readonly url: string;
  readonly switchId: number;
  readonly toggleAfterMs: number;
  readonly timeoutMs: number;
}

/** What one Switch.Set asks of the relay. */
export interface SwitchSetParams {
  readonly id: number;
  readonly on: boolean;
  /** Seconds until the relay flips back by itself; absent: stay. */
  readonly toggle_after?: number;
}

/**
 * The Switch.Set for a lock command (pure). A release is capped at the relay's `toggleAfterMs`,
 * so even an open-ended release (a mode) ends by itself when nobody renews it; `remainingMs` is
 * what is left of the release (the strike, a hold-open), null for open-ended.
 */
export function switchSetFor(failMode: 'secure' | 'safe', command: LockCommand, relay: Pick<RelayTarget, 'switchId' | 'toggleAfterMs'>, remainingMs: number | null): SwitchSetParams {
  const releasedOn = failMode === 'secure';
  if (command.action === 'lock') return { id: relay.switchId, on: !releasedOn };
  const ms = remainingMs === null ? relay.toggleAfterMs : Math.min(remainingMs, relay.toggleAfterMs);
  // Shelly takes seconds (fractions allowed); never 0, which would mean "no timer".
  return { id: relay.switchId, on: releasedOn, toggle_after: Math.max(0.1, Math.round(ms / 100) / 10) };
}

/** A release that outlasts one toggle_after must be renewed before the relay flips back. */
export function needsRenewal(relay: Pick<RelayTarget, 'toggleAfterMs'>, remainingMs: number | null): boolean {
  return remainingMs === null || remainingMs > relay.toggleAfterMs;
}

export interface SwitchSetResult {
  readonly wasOn: boolean;
  readonly status: number;
  readonly durationMs: number;
}

let rpcId = 0;

/** One Switch.Set. Throws DoorError (DOOR_RELAY_FAILED) with the redacted URL when it did not take. */
export async function switchSet(relay: RelayTarget, params: SwitchSetParams, signal?: AbortSignal): Promise<SwitchSetResult> {
  const started = performance.now();
  const url = `${relay.url.replace(/\/+$/, '')}/rpc`;
  const shown = redactUrl(url);
  const fail = (why: string, status?: number, cause?: unknown): DoorError =>
    new DoorError('DOOR_RELAY_FAILED', `relay ${shown}: Switch.Set ${params.on ? 'on' : 'off'} failed: ${why}`, {
      context: { url: shown, switchId: params.id, ...(status !== undefined ? { status } : {}) },
      hint: 'check that the relay is powered and reachable from this box (`curl <url>/rpc/Switch.GetStatus?id=0`), and its switchId',
      cause,
    });
  const timeout = AbortSignal.timeout(relay.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, src: 'facegate', method: 'Switch.Set', params }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: 'error',
    });
  } catch (e) {
    const timedOut = timeout.aborted;
    throw fail(timedOut ? `no answer within ${relay.timeoutMs} ms` : redactText(e instanceof Error ? e.message : String(e)), undefined, e);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    throw fail(`HTTP ${res.status}, not a JSON-RPC reply`, res.status, e);
  }
  if (!res.ok) throw fail(`HTTP ${res.status}`, res.status);
  const reply = body as { result?: { was_on?: unknown }; error?: { code?: unknown; message?: unknown } } | null;
  if (reply?.error) throw fail(`RPC error ${String(reply.error.code)}: ${redactText(String(reply.error.message ?? '')).slice(0, 200)}`, res.status);
  if (typeof reply?.result?.was_on !== 'boolean') throw fail("the reply has no result.was_on: is this a Shelly Gen2+ Switch?", res.status);
  return { wasOn: reply.result.was_on, status: res.status, durationMs: Math.round(performance.now() - started) };
}
