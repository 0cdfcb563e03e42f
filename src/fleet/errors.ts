/**
 * Errors of fleet mode (src/fleet): a CodedError (src/errors.ts: `code`, `context`, `hint`,
 * describe()). Messages never carry a password, token or seed (server errors
 * go through redactText; credentials never enter a message in the first place).
 */
import { CodedError, type CodedErrorOptions, type ErrorContext } from '../errors.ts';
import { redactText } from '../redact.ts';

export type FleetErrorCode =
  /** A credentials / TLS file cannot be read, or the settings cannot be used. */
  | 'FLEET_CONFIG_INVALID'
  /** NATS is unreachable or refused us (auth); retried. */
  | 'FLEET_NATS_UNAVAILABLE'
  /** NATS refused the credentials (user/password, token, creds, NKey). */
  | 'FLEET_NATS_AUTH'
  /** JetStream is off on the server, or the stream / bucket cannot be created. */
  | 'FLEET_JETSTREAM'
  /** PostgreSQL is unreachable or refused us; retried by the hub. */
  | 'FLEET_POSTGRES_UNAVAILABLE'
  /** A message or a gallery record that cannot be used (skipped, logged). */
  | 'FLEET_BAD_MESSAGE'
  /** An operation the fleet role does not allow (edge enrollment in fleet mode). */
  | 'FLEET_REFUSED'
  /** A part of the hub could not start (its API port in use, its snapshot folder); nothing is left running. */
  | 'FLEET_HUB_START';

export type FleetErrorContext = ErrorContext;

export class FleetError extends CodedError<FleetErrorCode> {
  constructor(code: FleetErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('FleetError', code, redactText(message), opts);
  }
}

export function isFleetError(e: unknown): e is FleetError {
  return e instanceof FleetError;
}

export function messageOf(e: unknown): string {
  return redactText(e instanceof Error ? e.message : String(e));
}
