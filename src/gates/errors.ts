/**
 * Errors of the gates stage: a CodedError (src/errors.ts: a stable `code`, the `context` it
 * happened in, a `hint` for a person, describe() for the CLI) with the stage's own codes, since
 * the shared ErrorCode union is closed. Messages never carry a webhook secret.
 */
import { CodedError, type CodedErrorOptions, type ErrorContext } from '../errors.ts';

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

export type GateErrorContext = ErrorContext;

export class GateError extends CodedError<GateErrorCode> {
  constructor(code: GateErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('GateError', code, message, opts);
  }
}

export function isGateError(e: unknown): e is GateError {
  return e instanceof GateError;
}
