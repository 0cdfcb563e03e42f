/**
 * Errors of the events stage: a CodedError (src/errors.ts: `code`, `context`, `hint`,
 * describe()) with the stage's own codes, since the shared ErrorCode union is closed.
 */
import { CodedError, type CodedErrorOptions, type ErrorContext } from '../errors.ts';

export type EventsErrorCode =
  /** An event does not match the v1 schema (the message lists the zod issues). */
  | 'EVENT_INVALID'
  /** A subscription filter that is not an EventFilter. */
  | 'EVENT_FILTER_INVALID'
  /** The log file was written by a newer facegate (schema version above ours). */
  | 'EVENT_LOG_VERSION'
  /** SQLite failed to open or write the log. */
  | 'EVENT_LOG_FAILED'
  /** A snapshot id that is not [a-z0-9_-]{8,64} (path traversal attempts land here). */
  | 'SNAPSHOT_ID_INVALID'
  /** A face box that does not overlap the frame. */
  | 'SNAPSHOT_BOX_INVALID'
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_FAILED';

export type EventsErrorContext = ErrorContext;

export class EventsError extends CodedError<EventsErrorCode> {
  constructor(code: EventsErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('EventsError', code, message, opts);
  }
}

export function isEventsError(e: unknown): e is EventsError {
  return e instanceof EventsError;
}
