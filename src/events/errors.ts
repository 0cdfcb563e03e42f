/**
 * Errors of the events stage, shaped like FacegateError (src/errors.ts has a closed ErrorCode
 * union): a stable `code`, the `context`, a `hint` for a person, describe().
 */
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

export type EventsErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class EventsError extends Error {
  readonly code: EventsErrorCode;
  readonly context: EventsErrorContext;
  readonly hint: string | undefined;

  constructor(code: EventsErrorCode, message: string, opts: { context?: EventsErrorContext; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EventsError';
    this.code = code;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
  }

  /** One or two lines for a person: what went wrong, then how to fix it. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export function isEventsError(e: unknown): e is EventsError {
  return e instanceof EventsError;
}
