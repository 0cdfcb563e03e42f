/**
 * Errors of the outputs stage (event sinks): a CodedError (src/errors.ts: `code`, `context`,
 * `hint`, describe()). Messages never carry a password or a URL's
 * userinfo (the config refuses credentials in URLs; broker errors go through redactText).
 */
import { CodedError, type CodedErrorOptions, type ErrorContext } from '../errors.ts';
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

export type OutputsErrorContext = ErrorContext;

export class OutputsError extends CodedError<OutputsErrorCode> {
  constructor(code: OutputsErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('OutputsError', code, redactText(message), opts);
  }
}

export function isOutputsError(e: unknown): e is OutputsError {
  return e instanceof OutputsError;
}
