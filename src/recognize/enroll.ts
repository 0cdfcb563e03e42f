import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Detector } from '../detect/index.ts';
import { isFacegateError } from '../errors.ts';
import { decodeImage } from '../image/decode.ts';
import type { Face } from '../types.ts';
import { alignFace } from './align.ts';
import { ENROLLMENT_MASKS, renderMask } from './mask-render.ts';
import type { Embedder } from './models.ts';
import { faceQuality, type FaceQuality } from './quality.ts';

export type RejectReason = 'unreadable' | 'no-face' | 'several-faces' | 'too-small' | 'too-blurry' | 'bad-pose';

export interface EnrollmentTemplate {
  readonly embedding: Float32Array;
  readonly modelId: string;
  readonly masked: boolean;
  readonly sourcePhotoSha256: string;
  readonly quality: number;
}

export type PhotoVerdict =
  | { readonly ok: true; readonly photo: string; readonly face: Face; readonly quality: FaceQuality; readonly templates: EnrollmentTemplate[] }
  | { readonly ok: false; readonly photo: string; readonly reason: RejectReason; readonly message: string; readonly hint: string };

export interface EnrollmentRules {
  /** Inter-ocular distance below which a face is too small to enroll (px). Real photos here: >= 45. */
  readonly minInterOcular: number;
  /** Laplacian variance of the aligned crop below which it is too blurry. Real photos here: >= 336. */
  readonly minSharpness: number;
  /** A second face at least this fraction of the largest one's area makes the photo ambiguous. */
  readonly secondFaceRatio: number;
  /** |yaw| proxy above which the face is too turned to be a reference. */
  readonly maxYaw: number;
}

export const DEFAULT_ENROLLMENT_RULES: EnrollmentRules = { minInterOcular: 30, minSharpness: 150, secondFaceRatio: 0.3, maxYaw: 0.45 };

const area = (f: Face): number => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);

/**
 * Check one enrollment photo and build its templates: exactly one usable face (the detector's
 * padded retry handles passport-style crops), big, sharp and frontal enough; then the plain
 * embedding plus one masked template per synthetic mask.
 */
export async function prepareEnrollmentPhoto(photo: string, detector: Detector, embedder: Embedder, rules: EnrollmentRules = DEFAULT_ENROLLMENT_RULES): Promise<PhotoVerdict> {
  const reject = (reason: RejectReason, message: string, hint: string): PhotoVerdict => ({ ok: false, photo, reason, message, hint });
  let decoded;
  let bytes: Buffer;
  try {
    bytes = await readFile(photo);
    decoded = await decodeImage(bytes.length ? bytes : photo);
  } catch (e) {
    if (isFacegateError(e)) return reject('unreadable', e.message.replace('(buffer)', photo), e.hint ?? 'use another photo');
    return reject('unreadable', `cannot read ${photo}: ${(e as Error).message}`, 'check the path');
  }
  const faces = (await detector.detect(decoded.image)).sort((a, b) => area(b) - area(a));
  if (faces.length === 0) return reject('no-face', `no face found in ${photo}`, 'use a photo where the face is visible, frontal and well lit');
  const [face, second] = faces;
  if (second && area(second) >= rules.secondFaceRatio * area(face)) {
    return reject('several-faces', `${faces.length} faces in ${photo}; enrollment needs exactly one person`, 'crop the photo to the person, or use a portrait');
  }
  const { crop } = alignFace(decoded.image, face.landmarks);
  const quality = faceQuality(face, crop);
  const scale = decoded.scale;
  if (quality.interOcular * scale < rules.minInterOcular) {
    return reject('too-small', `the face in ${photo} is too small (${(quality.interOcular * scale).toFixed(0)} px between the eyes, need ${rules.minInterOcular})`, 'use a closer or higher-resolution photo');
  }
  if (quality.sharpness < rules.minSharpness) {
    return reject('too-blurry', `the face in ${photo} is too blurry (sharpness ${quality.sharpness.toFixed(0)}, need ${rules.minSharpness})`, 'use a sharper photo');
  }
  if (Math.abs(quality.pose.yaw) > rules.maxYaw) {
    return reject('bad-pose', `the face in ${photo} is turned too far (yaw ${quality.pose.yaw.toFixed(2)})`, 'use a photo looking at the camera');
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  const templates: EnrollmentTemplate[] = [{ embedding: await embedder.embed(crop), modelId: embedder.modelId, masked: false, sourcePhotoSha256: sha, quality: quality.value }];
  for (const m of ENROLLMENT_MASKS) {
    templates.push({ embedding: await embedder.embed(renderMask(crop, m.shape, m.colour)), modelId: embedder.modelId, masked: true, sourcePhotoSha256: sha, quality: quality.value });
  }
  return { ok: true, photo, face, quality, templates };
}
