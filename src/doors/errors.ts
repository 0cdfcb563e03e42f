/**
 * Errors of the doors stage: a CodedError (src/errors.ts) with the stage's own codes. Messages
 * never carry a relay password or a webhook secret.
 */
import { CodedError, type CodedErrorOptions } from '../errors.ts';

export type DoorErrorCode =
  /** A credential that does not fit the Wiegand format (facility code or card number too large). */
  | 'DOOR_CREDENTIAL_INVALID'
  /** A Wiegand frame with the wrong length or a parity bit that does not match. */
  | 'DOOR_FRAME_INVALID'
  /** The relay did not answer, answered an error, or answered something that is not Switch.Set's reply. */
  | 'DOOR_RELAY_FAILED'
  /** A libgpiod tool (gpioset, gpiomon, gpioget) failed on a door's GPIO line. */
  | 'DOOR_GPIO_FAILED'
  /** A door input or output that is designed (docs/doors.md) but not built, or lacks what it needs. */
  | 'DOOR_INPUT_UNSUPPORTED';

export class DoorError extends CodedError<DoorErrorCode> {
  constructor(code: DoorErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('DoorError', code, message, opts);
  }
}

export function isDoorError(e: unknown): e is DoorError {
  return e instanceof DoorError;
}
