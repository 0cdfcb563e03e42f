/**
 * Errors the gallery raises on purpose: a CodedError (src/errors.ts: stable `code`, `context`,
 * fix `hint`, `describe()`) with the gallery's own codes: src/errors.ts's ErrorCode union is
 * shared and closed, and these codes are specific enough for a caller to switch on.
 */
import { CodedError, type CodedErrorOptions, type ErrorContext } from '../errors.ts';

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
  | 'GALLERY_INVALID_CONSENT'
  | 'GALLERY_REEMBED_ABORTED'
  | 'GALLERY_REEMBED_FAILED'
  | 'GALLERY_CLOSED';

export type GalleryErrorContext = ErrorContext;

export class GalleryError extends CodedError<GalleryErrorCode> {
  constructor(code: GalleryErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('GalleryError', code, message, opts);
  }
}

export function isGalleryError(e: unknown): e is GalleryError {
  return e instanceof GalleryError;
}
