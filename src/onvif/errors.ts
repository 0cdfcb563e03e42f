import { CodedError, type CodedErrorOptions } from '../errors.ts';

export type OnvifErrorCode =
  /** The device refused the credentials (or asked for some). */
  | 'ONVIF_AUTH'
  /** A SOAP fault other than authentication. */
  | 'ONVIF_FAULT'
  /** No answer: connection refused, timeout, DNS. */
  | 'ONVIF_UNREACHABLE'
  /** An answer that is not the SOAP we asked for. */
  | 'ONVIF_BAD_RESPONSE'
  /** The UDP socket for discovery could not be opened or used. */
  | 'ONVIF_DISCOVERY_FAILED';

/** An ONVIF failure; messages name the device URL without credentials, never a password. */
export class OnvifError extends CodedError<OnvifErrorCode> {
  constructor(code: OnvifErrorCode, message: string, opts: CodedErrorOptions = {}) {
    super('OnvifError', code, message, opts);
  }
}

export const isOnvifError = (e: unknown): e is OnvifError => e instanceof OnvifError;
