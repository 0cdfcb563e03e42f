import { GalleryError } from './errors.ts';
import type { Consent, FaceCropInput, JsonValue, Metadata, SyntheticMask, TemplateInput } from './types.ts';
import { embeddingProblem, l2normalize } from '../lib/vectors.ts';

/** Input checks for every gallery write. Pure: each returns the cleaned value or throws a GalleryError. */

export const MAX_NAME_LENGTH = 200;
export const MAX_GROUP_LENGTH = 100;
export const MAX_GROUPS = 64;
export const MAX_METADATA_BYTES = 64 * 1024;
export const MAX_MODEL_ID_LENGTH = 200;
export const MAX_DIM = 4096;

// Control characters would break one-line logs and the CLI's table.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function cleanName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string') throw new GalleryError('GALLERY_INVALID_NAME', `${what} must be a string, got ${typeof name}`);
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new GalleryError('GALLERY_INVALID_NAME', `${what} is empty`, { hint: 'give the person a name, e.g. "Ada Lovelace"' });
  if (trimmed.length > MAX_NAME_LENGTH) {
    throw new GalleryError('GALLERY_INVALID_NAME', `${what} is ${trimmed.length} characters long (at most ${MAX_NAME_LENGTH})`, { context: { length: trimmed.length }, hint: 'shorten it; put details in metadata' });
  }
  if (CONTROL.test(trimmed)) throw new GalleryError('GALLERY_INVALID_NAME', `${what} contains control characters (newline, tab...)`, { hint: 'use printable characters only' });
  return trimmed;
}

export function cleanGroups(groups: unknown): string[] {
  if (groups === undefined) return [];
  if (!Array.isArray(groups)) throw new GalleryError('GALLERY_INVALID_GROUPS', `groups must be an array of strings, got ${typeof groups}`);
  if (groups.length > MAX_GROUPS) throw new GalleryError('GALLERY_INVALID_GROUPS', `too many groups: ${groups.length} (at most ${MAX_GROUPS})`);
  const out: string[] = [];
  for (const [i, g] of groups.entries()) {
    if (typeof g !== 'string') throw new GalleryError('GALLERY_INVALID_GROUPS', `group ${i} must be a string, got ${typeof g}`);
    const t = g.trim();
    if (t.length === 0 || t.length > MAX_GROUP_LENGTH || CONTROL.test(t)) {
      throw new GalleryError('GALLERY_INVALID_GROUPS', `group ${i} ("${t.slice(0, 40)}") must be 1-${MAX_GROUP_LENGTH} printable characters`, { context: { index: i } });
    }
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function checkJson(v: unknown, path: string): asserts v is JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new GalleryError('GALLERY_INVALID_METADATA', `metadata${path} is ${v}: JSON has no such number`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${path}[${i}]`));
    return;
  }
  if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) checkJson(x, `${path}.${k}`);
    return;
  }
  throw new GalleryError('GALLERY_INVALID_METADATA', `metadata${path} is a ${typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v}, not a JSON value`, { hint: 'metadata holds JSON: strings, numbers, booleans, null, arrays, plain objects' });
}

export function cleanMetadata(metadata: unknown): Metadata {
  if (metadata === undefined) return {};
  if (!isPlainObject(metadata)) throw new GalleryError('GALLERY_INVALID_METADATA', 'metadata must be a plain object', { hint: 'e.g. { "employeeId": "E123" }' });
  checkJson(metadata, '');
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > MAX_METADATA_BYTES) throw new GalleryError('GALLERY_INVALID_METADATA', `metadata is ${bytes} bytes as JSON (at most ${MAX_METADATA_BYTES})`);
  return JSON.parse(JSON.stringify(metadata)) as Metadata;
}

export function cleanModelId(modelId: unknown, what = 'modelId'): string {
  if (typeof modelId !== 'string' || modelId.trim().length === 0 || modelId.length > MAX_MODEL_ID_LENGTH || CONTROL.test(modelId)) {
    throw new GalleryError('GALLERY_INVALID_TEMPLATE', `${what} must be the embedder's manifest name (1-${MAX_MODEL_ID_LENGTH} printable characters), got ${JSON.stringify(modelId)}`);
  }
  return modelId.trim();
}

/** A unit-length copy of a usable embedding; `what` names it in the error. */
export function cleanEmbedding(embedding: unknown, what: string): Float32Array {
  if (!(embedding instanceof Float32Array)) {
    throw new GalleryError('GALLERY_INVALID_EMBEDDING', `${what} must be a Float32Array`, { hint: 'pass the embedder output as it is (new Float32Array(values) for plain arrays)' });
  }
  if (embedding.length > MAX_DIM) throw new GalleryError('GALLERY_INVALID_EMBEDDING', `${what} has ${embedding.length} dimensions (at most ${MAX_DIM})`);
  const problem = embeddingProblem(embedding);
  if (problem) throw new GalleryError('GALLERY_INVALID_EMBEDDING', `${what} is not a usable embedding: ${problem}`, { hint: 'check the embedder output; a face that failed to embed must not be enrolled' });
  return l2normalize(embedding);
}

export interface CleanTemplate {
  readonly embedding: Float32Array;
  readonly modelId: string;
  readonly masked: boolean;
  readonly sourcePhotoSha256: string | null;
  readonly quality: number | null;
}

export function cleanTemplate(t: TemplateInput, i: number): CleanTemplate {
  const what = `template ${i}`;
  if (typeof t !== 'object' || t === null) throw new GalleryError('GALLERY_INVALID_TEMPLATE', `${what} must be an object`);
  const embedding = cleanEmbedding(t.embedding, `${what}'s embedding`);
  const modelId = cleanModelId(t.modelId, `${what}'s modelId`);
  if (typeof t.masked !== 'boolean') throw new GalleryError('GALLERY_INVALID_TEMPLATE', `${what}'s masked must be true or false, got ${JSON.stringify(t.masked)}`);
  if (typeof t.sourcePhotoSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(t.sourcePhotoSha256)) {
    throw new GalleryError('GALLERY_INVALID_TEMPLATE', `${what}'s sourcePhotoSha256 must be 64 hex characters, got ${JSON.stringify(t.sourcePhotoSha256)}`, { hint: 'the sha256 of the enrollment photo file' });
  }
  if (typeof t.quality !== 'number' || !Number.isFinite(t.quality) || t.quality < 0) {
    throw new GalleryError('GALLERY_INVALID_TEMPLATE', `${what}'s quality must be a finite number >= 0, got ${String(t.quality)}`);
  }
  return { embedding, modelId, masked: t.masked, sourcePhotoSha256: t.sourcePhotoSha256.toLowerCase(), quality: t.quality };
}

/**
 * Check a batch of templates: each usable, and one dimension per model id, both within the batch
 * and against `knownDim` (what the gallery already holds for that model).
 */
export function cleanTemplates(templates: unknown, knownDim: (modelId: string) => number | undefined, opts: { allowEmpty?: boolean } = {}): CleanTemplate[] {
  if (!Array.isArray(templates)) throw new GalleryError('GALLERY_INVALID_TEMPLATE', 'templates must be an array');
  if (templates.length === 0 && !opts.allowEmpty) {
    throw new GalleryError('GALLERY_NO_TEMPLATES', 'no templates given: an identity without templates can never be recognised', { hint: 'enroll from at least one photo with a usable face' });
  }
  const cleaned = templates.map((t, i) => cleanTemplate(t as TemplateInput, i));
  const dims = new Map<string, number>();
  for (const [i, t] of cleaned.entries()) {
    const expected = dims.get(t.modelId) ?? knownDim(t.modelId);
    if (expected !== undefined && expected !== t.embedding.length) {
      throw new GalleryError('GALLERY_DIM_MISMATCH', `template ${i} has a ${t.embedding.length}-d embedding, but model "${t.modelId}" makes ${expected}-d embeddings`, {
        context: { modelId: t.modelId, expected, got: t.embedding.length },
        hint: 'a model id must always name the same embedder: give a different model its own manifest name',
      });
    }
    dims.set(t.modelId, t.embedding.length);
  }
  return cleaned;
}

export const MAX_CROP_SIDE = 1024;
export const MAX_MASKS_PER_CROP = 16;

export interface CleanCrop {
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly sourcePhotoSha256: string;
  readonly quality: number;
  readonly masks: readonly SyntheticMask[];
}

function cleanMask(m: unknown, what: string): SyntheticMask {
  if (typeof m !== 'object' || m === null) throw new GalleryError('GALLERY_INVALID_CROP', `${what} must be { shape, colour }`);
  const { shape, colour } = m as { shape?: unknown; colour?: unknown };
  if (typeof shape !== 'string' || !/^[a-z0-9_-]{1,40}$/i.test(shape)) throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s shape must be a mask shape name, got ${JSON.stringify(shape)}`, { hint: 'use the masks enrollment rendered (ENROLLMENT_MASKS)' });
  if (!Array.isArray(colour) || colour.length !== 3 || !colour.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
    throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s colour must be [r, g, b] with integers 0-255, got ${JSON.stringify(colour)}`);
  }
  return { shape, colour: [colour[0], colour[1], colour[2]] as [number, number, number] };
}

export function cleanCrop(c: FaceCropInput, i: number): CleanCrop {
  const what = `crop ${i}`;
  if (typeof c !== 'object' || c === null) throw new GalleryError('GALLERY_INVALID_CROP', `${what} must be { image, sourcePhotoSha256, quality, masks }`);
  const img = c.image as { data?: unknown; width?: unknown; height?: unknown } | undefined;
  if (typeof img !== 'object' || img === null || !(img.data instanceof Uint8Array)) {
    throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s image must be { data: Uint8Array (RGB), width, height }`, { hint: 'pass the aligned crop from alignFace() as it is' });
  }
  const { width, height, data } = img as { data: Uint8Array; width: unknown; height: unknown };
  if (!Number.isInteger(width) || !Number.isInteger(height) || (width as number) < 1 || (height as number) < 1 || (width as number) > MAX_CROP_SIDE || (height as number) > MAX_CROP_SIDE) {
    throw new GalleryError('GALLERY_INVALID_CROP', `${what} is ${String(width)}x${String(height)}: sides must be integers from 1 to ${MAX_CROP_SIDE}`);
  }
  const w = width as number;
  const h = height as number;
  if (data.length !== w * h * 3) throw new GalleryError('GALLERY_INVALID_CROP', `${what} has ${data.length} bytes; ${w}x${h} RGB needs ${w * h * 3}`, { hint: 'the image must be packed RGB, 3 bytes a pixel, no row padding' });
  if (typeof c.sourcePhotoSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(c.sourcePhotoSha256)) {
    throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s sourcePhotoSha256 must be 64 hex characters, got ${JSON.stringify(c.sourcePhotoSha256)}`, { hint: 'the sha256 of the enrollment photo file' });
  }
  if (typeof c.quality !== 'number' || !Number.isFinite(c.quality) || c.quality < 0) throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s quality must be a finite number >= 0, got ${String(c.quality)}`);
  if (!Array.isArray(c.masks) || c.masks.length > MAX_MASKS_PER_CROP) throw new GalleryError('GALLERY_INVALID_CROP', `${what}'s masks must be an array of at most ${MAX_MASKS_PER_CROP} { shape, colour }`);
  const masks = c.masks.map((m, k) => cleanMask(m, `${what}'s mask ${k}`));
  return { pixels: new Uint8Array(data), width: w, height: h, sourcePhotoSha256: c.sourcePhotoSha256.toLowerCase(), quality: c.quality, masks };
}

/**
 * Check the crops given with a batch of templates: each usable, and each the source of at least
 * one of the templates (same photo sha256), so a crop can never be stored for a photo whose
 * templates are not there (a wiring mistake that would later rebuild templates nobody enrolled).
 */
export function cleanCrops(crops: unknown, templates: readonly CleanTemplate[]): CleanCrop[] {
  if (crops === undefined) return [];
  if (!Array.isArray(crops)) throw new GalleryError('GALLERY_INVALID_CROP', 'crops must be an array');
  const shas = new Set(templates.map((t) => t.sourcePhotoSha256));
  const seen = new Set<string>();
  const out: CleanCrop[] = [];
  for (const [i, c] of crops.entries()) {
    const clean = cleanCrop(c as FaceCropInput, i);
    if (!shas.has(clean.sourcePhotoSha256)) {
      throw new GalleryError('GALLERY_INVALID_CROP', `crop ${i} comes from photo ${clean.sourcePhotoSha256.slice(0, 12)}..., which none of the templates comes from`, {
        context: { index: i },
        hint: "pass each photo's crop together with that photo's templates (prepareEnrollmentPhoto's verdict has both)",
      });
    }
    if (seen.has(clean.sourcePhotoSha256)) continue; // the same photo twice: one crop
    seen.add(clean.sourcePhotoSha256);
    out.push(clean);
  }
  return out;
}

export function cleanK(k: unknown): number {
  if (k === undefined) return 5;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 1000) throw new GalleryError('GALLERY_BAD_ARGUMENT', `k must be an integer from 1 to 1000, got ${String(k)}`);
  return k;
}

export function cleanThreshold(threshold: unknown, what: string): number {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < -1 || threshold > 1) {
    throw new GalleryError('GALLERY_BAD_ARGUMENT', `${what} must be a cosine similarity in [-1, 1], got ${String(threshold)}`);
  }
  return threshold;
}

export function cleanTime(timeMs: unknown): number {
  if (typeof timeMs !== 'number' || !Number.isFinite(timeMs)) throw new GalleryError('GALLERY_BAD_ARGUMENT', `time must be a finite number of ms, got ${String(timeMs)}`);
  return Math.round(timeMs);
}

/** At most this many characters of consent text (a notice, a form reference). */
export const MAX_CONSENT_TEXT = 4000;

/** A checked copy of a consent record (undefined when none is given). */
export function cleanConsent(consent: unknown): Consent | undefined {
  if (consent === undefined || consent === null) return undefined;
  const bad = (why: string): GalleryError => new GalleryError('GALLERY_INVALID_CONSENT', `consent ${why}`, { hint: 'consent is { givenAt (ms), recordedBy, method, purpose, expiresAt (ms or null), text }' });
  if (!isPlainObject(consent)) throw bad('must be an object');
  const c = consent as Record<string, unknown>;
  const text = (k: string, max: number): string => {
    const v = c[k];
    if (typeof v !== 'string' || v.trim().length === 0 || v.length > max || CONTROL.test(v)) throw bad(`${k} must be 1-${max} printable characters`);
    return v.trim();
  };
  const givenAt = c.givenAt;
  if (typeof givenAt !== 'number' || !Number.isSafeInteger(givenAt) || givenAt < 0) throw bad('givenAt must be a time in ms since the epoch');
  const expiresAt = c.expiresAt ?? null;
  if (expiresAt !== null && (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt) || expiresAt <= givenAt)) throw bad('expiresAt must be null or a time after givenAt');
  return { givenAt, recordedBy: text('recordedBy', 256), method: text('method', 64), purpose: text('purpose', 256), expiresAt, text: text('text', MAX_CONSENT_TEXT) };
}
