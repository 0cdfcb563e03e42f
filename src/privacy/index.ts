/** Encryption at rest for biometric data: the envelope, data keys wrapped under a KEK, key sources. */
export { seal, open, envelopeKeyId, placeLabel, ENVELOPE_OVERHEAD, ENVELOPE_VERSION, KEY_BYTES, type RecordPlace } from './envelope.ts';
export { DataKeys, kekId, newDataKey, unlockKeyring, unwrapKey, wrapKey, type WrappedKey } from './keyring.ts';
export { CREDENTIAL_NAME, DEFAULT_KEY_ENV, formatKek, fsyncDir, loadKek, newKek, parseKek, readKeyFile, writeKeyFile, type KeySourceOptions, type LoadedKek } from './key-source.ts';
export { PrivacyError, isPrivacyError, type PrivacyErrorCode } from './errors.ts';
export { readKeyringFile, writeKeyringFile } from './keyring-file.ts';
export { zipStore, type ZipEntry } from './zip.ts';
