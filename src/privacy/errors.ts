/**
 * Errors of the crypto core: a CodedError (src/errors.ts) with codes a caller can switch on. The
 * service refuses to start on any of them: a gallery it cannot decrypt must never become an empty
 * gallery (everyone denied) or, worse, a silently re-keyed one.
 */
import { CodedError, type CodedErrorOptions } from '../errors.ts';

export type PrivacyErrorCode =
  /** The key-encryption key given does not unwrap this store's data keys. */
  | 'PRIVACY_WRONG_KEY'
  /** No key-encryption key where the configuration says to look. */
  | 'PRIVACY_MISSING_KEY'
  /** A key that is not 32 bytes of base64, or a key file others may read. */
  | 'PRIVACY_BAD_KEY'
  | 'PRIVACY_KEY_FILE_INSECURE'
  /** An envelope or a wrapped key that fails authentication, or is malformed. */
  | 'PRIVACY_CORRUPT'
  /** A key file already exists where `keys init` would write one. */
  | 'PRIVACY_KEY_EXISTS'
  | 'PRIVACY_BAD_ARGUMENT';

export class PrivacyError extends CodedError<PrivacyErrorCode> {
  constructor(code: PrivacyErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('PrivacyError', code, message, opts);
  }
}

export function isPrivacyError(e: unknown): e is PrivacyError {
  return e instanceof PrivacyError;
}
