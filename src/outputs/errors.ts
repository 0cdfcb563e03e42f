/**
 * Errors of the outputs stage (event sinks), shaped like FacegateError: a stable `code`, the
 * `context`, a `hint` for a person, describe(). Messages never carry a password or a URL's
 * userinfo (the config refuses credentials in URLs; broker errors go through redactText).
 */
import { redactText } from '../redact.ts';

export type OutputsErrorCode =
  /** The cursor store (SQLite) could not be opened or written. */
  | 'SINK_CURSOR_FAILED'
  /** A sink's settings cannot be used (a password file that cannot be read, a TLS file missing). */
  | 'SINK_CONFIG_INVALID'
  /** Delivery is impossible now (broker unreachable, not authorised); the runner retries. */
  | 'SINK_UNAVAILABLE'
  /** The broker did not acknowledge a delivery in time. */
  | 'SINK_TIMEOUT';

export type OutputsErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class OutputsError extends Error {
  readonly code: OutputsErrorCode;
  readonly context: OutputsErrorContext;
  readonly hint: string | undefined;

  constructor(code: OutputsErrorCode, message: string, opts: { context?: OutputsErrorContext; hint?: string; cause?: unknown } = {}) {
    super(redactText(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OutputsError';
    this.code = code;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
  }

  /** One or two lines for a person: what went wrong, then how to fix it. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export function isOutputsError(e: unknown): e is OutputsError {
  return e instanceof OutputsError;
}
