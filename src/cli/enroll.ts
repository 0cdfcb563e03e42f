import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { createDetector } from '../detect/index.ts';
import { FacegateError } from '../errors.ts';
import { userInfo } from 'node:os';
import { encryptionFor } from '../app/storage.ts';
import { consentRecord, enrollmentRulesOf } from '../app/identities.ts';
import { parseValidUntil } from './identities.ts';
import { DEFAULT_EMBEDDER, loadConfig } from '../config/index.ts';
import { openGallery } from '../gallery/index.ts';
import { calibratedThresholds } from '../models/index.ts';
import { createEmbedder, DEFAULT_ENROLLMENT_RULES, prepareEnrollmentPhoto, type EnrollmentRules, type EnrollmentTemplate, type QualityFailure } from '../recognize/index.ts';
import type { EnrollmentCrop } from '../recognize/index.ts';

export const DEFAULT_GALLERY_DB = (): string => resolve(process.env.FACEGATE_GALLERY_DB ?? 'data/gallery.sqlite');

interface EnrollCliOptions {
  name: string;
  group: string[];
  db: string;
  /** Take the gallery, its key and privacy.requireConsent from this config file. */
  config?: string;
  consent?: string;
  consentMethod?: string;
  consentPurpose?: string;
  /** A visitor: erased by the retention run after this time (ISO date or ms). */
  validUntil?: string;
  embedder: string;
  /** Absent: the embedder's calibrated unmasked threshold (a photo that would be recognised as someone else). */
  duplicateThreshold?: number;
  /** Enroll a photo even when it matches another identity. */
  force?: boolean;
  minEyeDistance?: number;
  maxYaw?: number;
  maxPitch?: number;
  minSharpness?: number;
  json?: boolean;
}

/** The quality rules with the command line's overrides. */
export function enrollmentRulesFrom(o: Pick<EnrollCliOptions, 'minEyeDistance' | 'maxYaw' | 'maxPitch' | 'minSharpness'>, base: EnrollmentRules = DEFAULT_ENROLLMENT_RULES): EnrollmentRules {
  return { ...base, ...(o.minEyeDistance !== undefined ? { minInterOcular: o.minEyeDistance } : {}), ...(o.maxYaw !== undefined ? { maxYaw: o.maxYaw } : {}), ...(o.maxPitch !== undefined ? { maxPitch: o.maxPitch } : {}), ...(o.minSharpness !== undefined ? { minSharpness: o.minSharpness } : {}) };
}

/** The embedder's calibrated threshold, or the historical 0.36 for a model without calibration. */
function duplicateThresholdFor(modelId: string): number {
  try {
    return calibratedThresholds(modelId).unmasked;
  } catch {
    return 0.36;
  }
}

/**
 * `facegate enroll --name NAME [--group G]... PHOTO...`: every photo is checked (exactly one usable
 * face, size, sharpness, pose); the accepted ones become the identity's templates (plain + synthetic
 * masks) in one transaction; rejected photos are listed with the reason and exit code 1, and the
 * accepted ones are still enrolled.
 */
export async function runEnroll(photos: string[], opts: EnrollCliOptions): Promise<number> {
  const name = opts.name.trim();
  if (!name) throw new FacegateError('BAD_ARGUMENT', '--name must not be empty', { hint: 'e.g. --name "Ada Lovelace"' });
  const config = opts.config ? loadConfig(opts.config) : undefined;
  // Checked before any model loads: a bad time fails at once.
  const validUntil = opts.validUntil === undefined ? undefined : parseValidUntil(opts.validUntil);
  if (typeof validUntil === 'number' && validUntil <= Date.now()) throw new FacegateError('BAD_ARGUMENT', `--valid-until ${opts.validUntil} is in the past`, { hint: 'give a future time, e.g. 2027-01-31T18:00:00Z' });
  const consentText = opts.consent?.trim();
  if (config?.privacy.requireConsent && !consentText) {
    throw new FacegateError('BAD_ARGUMENT', `${opts.config} sets privacy.requireConsent: enrollment needs the person's consent`, { hint: '--consent TEXT (the notice the person was shown, or the reference of the signed form)' });
  }
  const consent = consentText ? consentRecord({ text: consentText, ...(opts.consentMethod ? { method: opts.consentMethod } : {}), ...(opts.consentPurpose ? { purpose: opts.consentPurpose } : {}) }, `cli:${userInfo().username}`, 'cli', Date.now()) : undefined;
  const encryption = config ? encryptionFor(config) : undefined;
  const gallery = openGallery(config ? config.gallery.db : resolve(opts.db), { ...(config ? { keepCrops: config.privacy.keepEnrollmentCrops } : {}), ...(encryption ? { encryption } : {}) });
  const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
  const embedder = await createEmbedder(opts.embedder);
  const bar = new SingleBar({ format: `enrolling ${name} [{bar}] {value}/{total} photos`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  const interactive = process.stderr.isTTY;
  if (interactive) bar.start(photos.length, 0);
  const accepted: EnrollmentTemplate[] = [];
  // Each accepted photo's aligned crop, stored with its templates so a model change needs no re-enrollment.
  const crops: EnrollmentCrop[] = [];
  const rejected: { photo: string; reason: string; message: string; hint: string; checks?: readonly QualityFailure[] }[] = [];
  const duplicates: { photo: string; name: string; identityId: string; score: number; forced: boolean }[] = [];
  // With --config: the site's limits and recognition threshold (the flags still win).
  const rules = enrollmentRulesFrom(opts, config ? enrollmentRulesOf(config.recognition.enrollment) : DEFAULT_ENROLLMENT_RULES);
  const duplicateThreshold = opts.duplicateThreshold ?? config?.recognition.thresholds.unmasked ?? duplicateThresholdFor(embedder.modelId);
  try {
    const existing = gallery.findByName(name);
    if (existing.length > 1) {
      throw new FacegateError('BAD_ARGUMENT', `${existing.length} identities are named "${name}" (${existing.map((i) => i.id).join(', ')})`, { hint: 'rename one of them first (`facegate identities rename ID NEW_NAME`)' });
    }
    for (const photo of photos) {
      const v = await prepareEnrollmentPhoto(photo, detector, embedder, rules);
      if (interactive) bar.increment();
      if (!v.ok) {
        rejected.push({ photo, reason: v.reason, message: v.message, hint: v.hint, ...(v.checks ? { checks: v.checks } : {}) });
        continue;
      }
      // The best match among the other identities: a photo recognised as someone else is refused unless forced.
      const best = gallery.search(v.templates[0].embedding, { modelId: embedder.modelId, k: 3, masked: 'plain' }).find((m) => m.name !== name);
      if (best && best.score >= duplicateThreshold) {
        duplicates.push({ photo, name: best.name, identityId: best.identityId, score: best.score, forced: opts.force === true });
        if (!opts.force) {
          rejected.push({ photo, reason: 'duplicate', message: `${photo}: already enrolled as ${best.name} at ${best.score.toFixed(2)} (${best.identityId}; threshold ${duplicateThreshold})`, hint: `add it to ${best.name} instead, or pass --force if this really is ${name}` });
          continue;
        }
      }
      accepted.push(...v.templates);
      crops.push(v.crop);
    }
    if (interactive) bar.stop();
    let identity;
    if (accepted.length) identity = existing.length === 1 ? gallery.addTemplates(existing[0].id, accepted, crops) : gallery.enroll({ name, groups: opts.group, templates: accepted, crops, ...(consent ? { consent } : {}), ...(validUntil !== undefined ? { validUntil } : {}) });
    // Consent given again for a known person replaces the recorded one.
    if (identity && consent && existing.length === 1) identity = gallery.setConsent(identity.id, consent);
    if (identity && validUntil !== undefined && existing.length === 1) identity = gallery.setValidUntil(identity.id, validUntil);
    if (identity && opts.group.length && existing.length === 1) identity = gallery.setGroups(identity.id, [...new Set([...identity.groups, ...opts.group])]);
    const photosOk = photos.length - rejected.length;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ identity: identity ?? null, photosAccepted: photosOk, templatesAdded: accepted.length, rejected, duplicates })}\n`);
    } else {
      if (identity) process.stdout.write(`${existing.length ? 'added to' : 'enrolled'} ${identity.name} (${identity.id}, groups: ${identity.groups.join(', ') || '-'}): ${photosOk} photo(s), ${accepted.length} templates (plain + synthetic masks, model ${embedder.modelId})\n`);
    }
    for (const d of duplicates) if (d.forced) process.stderr.write(`warning: ${d.photo} is already enrolled as ${d.name} at ${d.score.toFixed(2)} (${d.identityId}); enrolled anyway (--force)\n`);
    for (const r of rejected) process.stderr.write(`rejected ${r.photo}: ${r.message}\n  fix: ${r.hint}\n`);
    if (!identity) process.stderr.write(`error: no usable photo; ${name} was not enrolled\n`);
    return rejected.length ? 1 : 0;
  } finally {
    if (interactive) bar.stop();
    await detector.close();
    await embedder.close();
    gallery.close();
  }
}

export function registerEnrollCommand(program: Command): void {
  program
    .command('enroll')
    .description('enroll a person from photos: one usable face per photo, plain + synthetic-masked templates')
    .argument('<photos...>', 'photos of the person (portraits; tight passport crops work)')
    .requiredOption('--name <name>', 'the person\'s name (an existing name adds templates to it)')
    .option('--group <group>', 'a group for gate allow-lists (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--db <file>', 'gallery database', DEFAULT_GALLERY_DB())
    .option('-c, --config <file>', 'take the gallery, its encryption key and privacy.requireConsent from this config file (instead of --db)')
    .option('--consent <text>', "the person's consent: the notice they were shown, or the signed form's reference (needed when privacy.requireConsent)")
    .option('--consent-method <method>', 'how consent was given (default cli)')
    .option('--consent-purpose <purpose>', 'what it was given for (default "access control")')
    .option('--valid-until <time>', "a visitor: erased by the retention run after this time (ISO date or ms since the epoch; 'none' clears it)")
    .option('--embedder <model>', 'embedder model', DEFAULT_EMBEDDER)
    .option('--duplicate-threshold <s>', "refuse a photo that matches another identity this well (default: the embedder's calibrated threshold)", (v: string) => Number(v))
    .option('--force', 'enroll a photo even when it matches another identity')
    .option('--min-eye-distance <px>', `refuse faces with the eyes closer than this (default ${DEFAULT_ENROLLMENT_RULES.minInterOcular})`, (v: string) => Number(v))
    .option('--max-yaw <v>', `refuse heads turned more than this (yaw proxy, default ${DEFAULT_ENROLLMENT_RULES.maxYaw})`, (v: string) => Number(v))
    .option('--max-pitch <v>', `refuse heads tilted more than this (pitch proxy, default ${DEFAULT_ENROLLMENT_RULES.maxPitch})`, (v: string) => Number(v))
    .option('--min-sharpness <v>', `refuse crops blurrier than this (Laplacian variance, default ${DEFAULT_ENROLLMENT_RULES.minSharpness})`, (v: string) => Number(v))
    .option('--json', 'print a JSON summary')
    .action(async (photos: string[], opts: EnrollCliOptions) => {
      process.exitCode = await runEnroll(photos, opts);
    });
}
