/**
 * Every error facegate raises on purpose is a FacegateError: a stable `code` a program can switch
 * on, the `context` it happened in (file, model, camera...) and a `hint` that tells a person how
 * to fix it. The CLI prints `message` + `hint` and never a stack trace for these.
 */
export type ErrorCode =
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_TOO_SMALL'
  | 'IMAGE_TOO_LARGE'
  | 'MODEL_UNKNOWN'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_CORRUPT'
  | 'MODEL_INVALID'
  | 'MODEL_DOWNLOAD_FAILED'
  | 'MANIFEST_INVALID'
  | 'PROVIDER_UNAVAILABLE'
  | 'CALIBRATION_INVALID' | 'THRESHOLDS_MISSING'
  | 'DETECTOR_OUTPUT_INVALID'
  | 'BAD_ARGUMENT'
  | 'PROFILE_INVALID'
  | 'NO_TIER_FITS'
  | 'DATA_MISSING'
  | 'ENROLL_REJECTED'
  | 'PORT_UNAVAILABLE';

export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export interface CodedErrorOptions {
  readonly context?: ErrorContext;
  readonly hint?: string;
  readonly cause?: unknown;
}

/**
 * The shape every stage's error shares (FacegateError, GalleryError, EventsError, GateError,
 * OutputsError, FleetError): a stable `code` of the stage's own union, the `context`, a `hint`
 * for a person and describe(). Stages subclass it with their code union and name, so callers
 * can still switch on `instanceof GalleryError` and the code type stays closed per stage.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C;
  readonly context: ErrorContext;
  readonly hint: string | undefined;

  constructor(name: string, code: C, message: string, opts: CodedErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = name;
    this.code = code;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
  }

  /** One or two lines for a person: what went wrong, then how to fix it. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export class FacegateError extends CodedError<ErrorCode> {
  constructor(code: ErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('FacegateError', code, message, opts);
  }
}

export function isFacegateError(e: unknown): e is FacegateError {
  return e instanceof FacegateError;
}

/** Message of any thrown value, for wrapping foreign errors into FacegateErrors. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
