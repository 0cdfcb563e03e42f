/**
 * Errors of the gates stage. src/errors.ts has a closed ErrorCode union, so the stage has its own
 * class with the same shape: a stable `code`, the `context` it happened in, a `hint` for a person
 * and describe() for the CLI. Messages never carry a webhook secret.
 */
export type GateErrorCode =
  /** The gate configuration does not parse (zod issues are listed in the message). */
  | 'GATE_CONFIG_INVALID'
  /** A schedule names a time zone that Intl does not know. */
  | 'GATE_TIME_ZONE_INVALID'
  /** Anti-passback pairs that do not point at each other with opposite directions. */
  | 'GATE_PAIR_INVALID'
  /** A manual action without a user, a reason, or with a bad duration. */
  | 'GATE_ACTION_INVALID'
  /** An action for a gate id that is not configured. */
  | 'GATE_UNKNOWN';

export type GateErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class GateError extends Error {
  readonly code: GateErrorCode;
  readonly context: GateErrorContext;
  readonly hint: string | undefined;

  constructor(code: GateErrorCode, message: string, opts: { context?: GateErrorContext; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GateError';
    this.code = code;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
  }

  /** One or two lines for a person: what went wrong, then how to fix it. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export function isGateError(e: unknown): e is GateError {
  return e instanceof GateError;
}
