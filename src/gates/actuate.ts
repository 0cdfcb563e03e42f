/**
 * Actuation: what happens at the door after a grant or a manual action.
 *
 * webhook: HTTP POST (global fetch) of a JSON body, signed with HMAC-SHA256 of the raw body bytes
 *   under the configured secret: `X-Facegate-Signature: sha256=<hex>`, plus
 *   `X-Facegate-Timestamp: <ms since epoch>` (the same value is `sentAtMs` inside the signed
 *   body, so a receiver can reject replays without trusting an unsigned header). Each attempt has
 *   its own timeout (AbortSignal.timeout); network errors, timeouts, 408, 429 and 5xx are retried
 *   up to `retries` times with exponential backoff; other statuses fail at once.
 * command: child_process.execFile(argv[0], argv.slice(1)) - never a shell - with a timeout
 *   (SIGKILL). The event reaches the program through FACEGATE_* environment variables only.
 *
 * The secret is never logged, never put into an outcome or error message; URLs are logged with
 * their credentials redacted (credentials in a webhook URL are sent as Authorization: Basic).
 */
import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.ts';
import { redactText, redactUrl } from '../redact.ts';
import type { ActuationConfig, CommandConfig, WebhookConfig } from './config.ts';
import type { GateGranted, GateOpened, ManualActionKind } from './policy.ts';

export interface ActuationRequest {
  readonly gateId: string;
  /** A grant opens the gate once ('open'). */
  readonly action: ManualActionKind;
  readonly event: GateGranted | GateOpened;
}

export interface ActuationOutcome {
  readonly target: 'webhook' | 'command';
  readonly ok: boolean;
  readonly attempts: number;
  /** Last HTTP status (webhook). */
  readonly status?: number | undefined;
  /** Exit code (command); null when killed by a signal. */
  readonly exitCode?: number | null | undefined;
  /** Why the last attempt failed; undefined when ok. Never contains the secret. */
  readonly error?: string | undefined;
  readonly durationMs: number;
}

export interface ActuationResult {
  /** Every configured target succeeded (true when none is configured). */
  readonly ok: boolean;
  readonly outcomes: readonly ActuationOutcome[];
}

export interface Actuator {
  actuate(request: ActuationRequest, signal?: AbortSignal): Promise<ActuationResult>;
}

export const SIGNATURE_HEADER = 'X-Facegate-Signature';
export const TIMESTAMP_HEADER = 'X-Facegate-Timestamp';

/** `sha256=<hex>` HMAC of the raw body. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a signature header against the raw body (for receivers and tests). */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | undefined | null): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** The JSON a webhook receives (and signs). */
export interface WebhookBody {
  readonly v: 1;
  readonly gateId: string;
  readonly action: ManualActionKind;
  readonly sentAtMs: number;
  readonly attempt: number;
  readonly event: GateGranted | GateOpened;
}

/** Any pino logger (only these levels are used). */
export type GateLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ActuatorOptions {
  readonly log?: GateLogger | undefined;
  /** Injected for tests; defaults to a timer that an abort signal cuts short. */
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
}

const MAX_BACKOFF_MS = 5000;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function describeFetchError(e: unknown, timeoutMs: number): string {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
    if (e.name === 'AbortError') return 'aborted';
    const cause = (e as Error & { cause?: unknown }).cause;
    const code = cause && typeof cause === 'object' && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
    return redactText(code ? `${e.message} (${code})` : e.message);
  }
  return redactText(String(e));
}

/**
 * fetch refuses URLs with credentials (and would echo them in its error): move `user:pass@` into
 * an Authorization: Basic header once, up front.
 */
function splitCredentials(url: string): { url: string; authorization: string | undefined } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url, authorization: undefined };
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

export function webhookActuator(cfg: WebhookConfig, opts: ActuatorOptions = {}): Actuator {
  const sleep = opts.sleep ?? defaultSleep;
  const where = redactUrl(cfg.url);
  const target = splitCredentials(cfg.url);
  const backoffMs = cfg.backoffMs ?? 250;
  return {
    async actuate(request, signal) {
      const started = performance.now();
      const maxAttempts = 1 + cfg.retries;
      let attempts = 0;
      let status: number | undefined;
      let error: string | undefined;
      while (attempts < maxAttempts) {
        if (attempts > 0) {
          await sleep(Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempts - 1)), signal);
        }
        if (signal?.aborted) {
          error = 'aborted';
          break;
        }
        attempts++;
        const sentAtMs = Date.now();
        const body: WebhookBody = { v: 1, gateId: request.gateId, action: request.action, sentAtMs, attempt: attempts, event: request.event };
        const raw = JSON.stringify(body);
        let retryable: boolean;
        try {
          const timeout = AbortSignal.timeout(cfg.timeoutMs);
          const headers: Record<string, string> = { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(cfg.secret, raw), [TIMESTAMP_HEADER]: String(sentAtMs) };
          if (target.authorization) headers.authorization = target.authorization;
          const res = await fetch(target.url, {
            method: 'POST',
            headers,
            body: raw,
            signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
            redirect: 'manual',
          });
          status = res.status;
          await res.body?.cancel().catch(() => undefined);
          if (res.status >= 200 && res.status < 300) {
            error = undefined;
            opts.log?.debug({ gateId: request.gateId, url: where, status, attempts }, 'gate webhook delivered');
            return { ok: true, outcomes: [{ target: 'webhook', ok: true, attempts, status, durationMs: performance.now() - started }] };
          }
          error = `HTTP ${res.status}`;
          retryable = res.status >= 500 || res.status === 408 || res.status === 429;
        } catch (e) {
          status = undefined;
          error = describeFetchError(e, cfg.timeoutMs);
          retryable = !(signal?.aborted ?? false);
        }
        opts.log?.warn({ gateId: request.gateId, url: where, attempt: attempts, of: maxAttempts, error }, 'gate webhook attempt failed');
        if (!retryable) break;
      }
      return { ok: false, outcomes: [{ target: 'webhook', ok: false, attempts, status, error, durationMs: performance.now() - started }] };
    },
  };
}

export function commandActuator(cfg: CommandConfig, opts: ActuatorOptions = {}): Actuator {
  const [program, ...args] = cfg.argv;
  return {
    actuate(request, signal) {
      const started = performance.now();
      const env = {
        ...process.env,
        FACEGATE_GATE_ID: request.gateId,
        FACEGATE_ACTION: request.action,
        FACEGATE_EVENT_TYPE: request.event.type,
        FACEGATE_EVENT: JSON.stringify(request.event),
      };
      return new Promise<ActuationResult>((resolve) => {
        execFile(program, args, { timeout: cfg.timeoutMs, killSignal: 'SIGKILL', env, signal, maxBuffer: 64 * 1024, windowsHide: true }, (err, _stdout, stderr) => {
          const durationMs = performance.now() - started;
          if (!err) {
            opts.log?.debug({ gateId: request.gateId, program }, 'gate command ran');
            return resolve({ ok: true, outcomes: [{ target: 'command', ok: true, attempts: 1, exitCode: 0, durationMs }] });
          }
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
          let error: string;
          let exitCode: number | null | undefined;
          if (e.name === 'AbortError') error = 'aborted';
          else if (e.killed && e.signal) error = `timed out after ${cfg.timeoutMs} ms (killed with ${e.signal})`;
          else if (typeof e.code === 'number') {
            exitCode = e.code;
            const tail = String(stderr ?? '').trim().split('\n').at(-1)?.slice(0, 200);
            error = `exited with code ${e.code}${tail ? `: ${tail}` : ''}`;
          } else if (e.signal) {
            exitCode = null;
            error = `killed by ${e.signal}`;
          } else error = `cannot run '${program}': ${e.code ?? e.message}`;
          opts.log?.warn({ gateId: request.gateId, program, error }, 'gate command failed');
          resolve({ ok: false, outcomes: [{ target: 'command', ok: false, attempts: 1, exitCode, error, durationMs }] });
        });
      });
    },
  };
}

/** Webhook and/or command from a gate's actuation config; both run concurrently when both are set. */
export function createActuator(cfg: ActuationConfig, opts: ActuatorOptions = {}): Actuator {
  const parts: Actuator[] = [];
  if (cfg.webhook) parts.push(webhookActuator(cfg.webhook, opts));
  if (cfg.command) parts.push(commandActuator(cfg.command, opts));
  return {
    async actuate(request, signal) {
      const results = await Promise.all(parts.map((p) => p.actuate(request, signal)));
      const outcomes = results.flatMap((r) => r.outcomes);
      return { ok: outcomes.every((o) => o.ok), outcomes };
    },
  };
}
