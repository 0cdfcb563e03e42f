import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Detector } from '../detect/index.ts';
import { isFacegateError } from '../errors.ts';
import { decodeImage, type DecodeOptions } from '../image/decode.ts';
import type { Face, RgbImage } from '../types.ts';
import { alignFace } from './align.ts';
import { ENROLLMENT_MASKS, MASK_SHAPES, renderMask, type MaskShape, type Rgb } from './mask-render.ts';
import type { Embedder } from './models.ts';
import { enrollmentQualityFailures, type QualityCheck, type QualityFailure } from './enroll-quality.ts';
import { faceQuality, type FaceQuality } from './quality.ts';

export type RejectReason = 'unreadable' | 'no-face' | 'several-faces' | 'too-small' | 'too-blurry' | 'bad-pose';

export interface EnrollmentTemplate {
  readonly embedding: Float32Array;
  readonly modelId: string;
  readonly masked: boolean;
  readonly sourcePhotoSha256: string;
  readonly quality: number;
}

/** A synthetic mask painted on the aligned crop at enrollment (one masked template each). */
export interface EnrollmentMask {
  readonly shape: MaskShape;
  readonly colour: Rgb;
}

/**
 * What rebuilds a photo's templates for any embedder: the ArcFace-aligned crop the embedder saw
 * and the masks painted on it. The gallery stores it with the templates (Gallery.enroll's
 * `crops`, addTemplates' third argument), so a model change needs no re-enrollment.
 */
export interface EnrollmentCrop {
  readonly image: RgbImage;
  readonly sourcePhotoSha256: string;
  readonly quality: number;
  readonly masks: readonly EnrollmentMask[];
}

export type PhotoVerdict =
  | { readonly ok: true; readonly photo: string; readonly face: Face; readonly quality: FaceQuality; readonly templates: EnrollmentTemplate[]; readonly crop: EnrollmentCrop }
  | {
      readonly ok: false;
      readonly photo: string;
      readonly reason: RejectReason;
      readonly message: string;
      readonly hint: string;
      /** The quality checks that failed (check, measured value, threshold, fix); absent for an unreadable photo. */
      readonly checks?: readonly QualityFailure[];
    };

const REASON_OF: Record<QualityCheck, RejectReason> = { 'one-face': 'several-faces', 'eye-distance': 'too-small', yaw: 'bad-pose', pitch: 'bad-pose', sharpness: 'too-blurry' };

export interface EnrollmentRules {
  /** Inter-ocular distance below which a face is too small to enroll (px, in the photo's own pixels). */
  readonly minInterOcular: number;
  /** Laplacian variance of the aligned crop below which it is too blurry. */
  readonly minSharpness: number;
  /** A second face at least this fraction of the largest one's area makes the photo ambiguous. */
  readonly secondFaceRatio: number;
  /** |yaw| proxy above which the face is too turned to be a reference. */
  readonly maxYaw: number;
  /** |pitch| proxy above which the head is tilted too far up or down. */
  readonly maxPitch: number;
}

/**
 * Defaults below the worst good enrollment photo of ../shared/data on each measure, with room
 * for ordinary portraits (docs/benchmarks.md, enrollment quality, has the distributions).
 */
export const DEFAULT_ENROLLMENT_RULES: EnrollmentRules = { minInterOcular: 30, minSharpness: 150, secondFaceRatio: 0.3, maxYaw: 0.45, maxPitch: 0.35 };

const area = (f: Face): number => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);

/**
 * Check one enrollment photo and build its templates: exactly one usable face (the detector's
 * padded retry handles passport-style crops), big, sharp and frontal enough; then the plain
 * embedding plus one masked template per synthetic mask. `decode.maxSide` shrinks large photos
 * while they are decoded (the size rules still read the photo's own pixels, through its scale).
 */
export async function prepareEnrollmentPhoto(photo: string, detector: Detector, embedder: Embedder, rules: EnrollmentRules = DEFAULT_ENROLLMENT_RULES, decode: DecodeOptions = {}): Promise<PhotoVerdict> {
  const reject = (reason: RejectReason, message: string, hint: string): PhotoVerdict => ({ ok: false, photo, reason, message, hint });
  let decoded;
  let bytes: Buffer;
  try {
    bytes = await readFile(photo);
    decoded = await decodeImage(bytes.length ? bytes : photo, decode);
  } catch (e) {
    if (isFacegateError(e)) return reject('unreadable', e.message.replace('(buffer)', photo), e.hint ?? 'use another photo');
    return reject('unreadable', `cannot read ${photo}: ${(e as Error).message}`, 'check the path');
  }
  const faces = (await detector.detect(decoded.image)).sort((a, b) => area(b) - area(a));
  if (faces.length === 0) {
    const checks = enrollmentQualityFailures({ faces: 0, eyeDistancePx: 0, yaw: 0, pitch: 0, sharpness: 0 }, rules);
    return { ok: false, photo, reason: 'no-face', message: `no face found in ${photo}`, hint: checks[0].fix, checks };
  }
  const [face] = faces;
  // A much smaller face in the background does not make the photo ambiguous.
  const counted = faces.filter((f) => area(f) >= rules.secondFaceRatio * area(face)).length;
  const { crop } = alignFace(decoded.image, face.landmarks);
  const quality = faceQuality(face, crop);
  const failures = enrollmentQualityFailures({ faces: counted, eyeDistancePx: quality.interOcular * decoded.scale, yaw: quality.pose.yaw, pitch: quality.pose.pitch, sharpness: quality.sharpness }, rules);
  if (failures.length) {
    return { ok: false, photo, reason: REASON_OF[failures[0].check], message: `${photo}: ${failures.map((f) => f.message).join('; ')}`, hint: failures.map((f) => f.fix).join('; '), checks: failures };
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  const enrollmentCrop: EnrollmentCrop = { image: crop, sourcePhotoSha256: sha, quality: quality.value, masks: ENROLLMENT_MASKS };
  return { ok: true, photo, face, quality, templates: await templatesFromCrop(enrollmentCrop, embedder), crop: enrollmentCrop };
}

/**
 * A photo's templates from its aligned crop: the plain embedding, then one per painted mask, in
 * the crop's mask order. Enrollment and re-embedding both build templates here, so a rebuild for
 * another model makes exactly the set enrollment would have made with it.
 */
export async function templatesFromCrop(crop: EnrollmentCrop, embedder: Embedder): Promise<EnrollmentTemplate[]> {
  const base = { modelId: embedder.modelId, sourcePhotoSha256: crop.sourcePhotoSha256, quality: crop.quality };
  const templates: EnrollmentTemplate[] = [{ ...base, embedding: await embedder.embed(crop.image), masked: false }];
  for (const m of crop.masks) templates.push({ ...base, embedding: await embedder.embed(renderMask(crop.image, m.shape, m.colour)), masked: true });
  return templates;
}

/** Whether a stored mask name is one this facegate can paint (a gallery from a newer one may know more). */
export function isMaskShape(shape: string): shape is MaskShape {
  return Object.hasOwn(MASK_SHAPES, shape);
}
