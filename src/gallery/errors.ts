/**
 * Errors the gallery raises on purpose. Shaped like FacegateError (stable `code`, `context`,
 * fix `hint`, `describe()`), with the gallery's own codes: src/errors.ts's ErrorCode union is
 * shared and closed, and these codes are specific enough for a caller to switch on.
 */
export type GalleryErrorCode =
  | 'GALLERY_INVALID_NAME'
  | 'GALLERY_INVALID_GROUPS'
  | 'GALLERY_INVALID_METADATA'
  | 'GALLERY_INVALID_EMBEDDING'
  | 'GALLERY_INVALID_TEMPLATE'
  | 'GALLERY_DIM_MISMATCH'
  | 'GALLERY_NO_TEMPLATES'
  | 'GALLERY_NOT_FOUND'
  | 'GALLERY_TEMPLATE_NOT_FOUND'
  | 'GALLERY_UNKNOWN_NOT_FOUND'
  | 'GALLERY_AMBIGUOUS_NAME'
  | 'GALLERY_BAD_ARGUMENT'
  | 'GALLERY_OPEN_FAILED'
  | 'GALLERY_SCHEMA_TOO_NEW'
  | 'GALLERY_CORRUPT'
  | 'GALLERY_NOT_A_GALLERY'
  | 'GALLERY_INVALID_CROP'
  | 'GALLERY_REEMBED_ABORTED'
  | 'GALLERY_REEMBED_FAILED'
  | 'GALLERY_CLOSED';

export type GalleryErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export class GalleryError extends Error {
  readonly code: GalleryErrorCode;
  readonly context: GalleryErrorContext;
  readonly hint: string | undefined;

  constructor(code: GalleryErrorCode, message: string, opts: { context?: GalleryErrorContext; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GalleryError';
    this.code = code;
    this.context = opts.context ?? {};
    this.hint = opts.hint;
  }

  /** One or two lines for a person: what went wrong, then how to fix it. */
  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export function isGalleryError(e: unknown): e is GalleryError {
  return e instanceof GalleryError;
}
