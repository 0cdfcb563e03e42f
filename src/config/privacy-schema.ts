/**
 * `privacy:`: encryption at rest of biometric data (templates, enrollment crops, unknown-face
 * centroids, face and frame snapshots) and consent at enrollment. See docs/privacy.md.
 */
import { z } from 'zod';
import { MAX_LENGTH } from './limits.ts';
import { filePath } from './schema-common.ts';

export const DEFAULT_CONSENT_NOTICE =
  'I have informed this person that their face template is used to identify them at this door, for access control only, and they have given their explicit consent.';

export const privacySchema = z.strictObject({
  encryption: z
    .strictObject({
      enabled: z.boolean().default(false).meta({ description: 'encrypt templates, enrollment crops, unknown-face data and snapshots at rest (AES-256-GCM); needs a key (`facegate keys init --config FILE`)' }),
      keyFile: filePath.default('data/facegate.key').meta({ description: 'the key-encryption key (base64, mode 0600), relative to the config file; back it up apart from the data: without it the data cannot be read' }),
      keyEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, { error: 'expected an environment variable name (A-Z, 0-9, _)' })
        .default('FACEGATE_KEK')
        .meta({ description: 'environment variable that, when set, holds the key (base64) instead of keyFile; a systemd credential named facegate-kek also takes precedence over keyFile' }),
    })
    .prefault({}),
  retention: z
    .strictObject({
      unknownHours: z.number().positive().max(24 * 3650).default(24).meta({ description: "hours an unknown face's cluster and its snapshots are kept after it was last seen (strangers; decision events and their snapshots follow events.retention and events.snapshots)" }),
      intervalMinutes: z.number().int().min(1).max(24 * 60).default(60).meta({ description: 'how often the retention run removes what has expired (unknowns, identities past their validUntil, old events and snapshots); each run is logged as a privacy.retention event' }),
    })
    .prefault({}),
  keepEnrollmentCrops: z.boolean().default(true).meta({ description: "keep the aligned 112x112 face crop of each enrollment photo (encrypted with privacy.encryption) so templates can be rebuilt for another embedder; false: templates only, no face image of enrolled people is kept, and a change of embedder needs everyone enrolled again. Turning it off does not delete crops already stored: `facegate gallery drop-crops --config FILE`" }),
  requireConsent: z.boolean().default(false).meta({ description: 'refuse enrollment (API, CLI with --config, dashboard) without a consent record; new configs set it true' }),
  consentNotice: z.string().min(1).max(MAX_LENGTH.other).default(DEFAULT_CONSENT_NOTICE).meta({ description: 'the text the operator confirms at enrollment (dashboard checkbox, recorded with the consent)' }),
});

export type PrivacyConfig = z.output<typeof privacySchema>;
