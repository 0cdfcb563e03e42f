import { stat } from 'node:fs/promises';
import { FacegateError, errorMessage } from '../errors.ts';
import type { RgbImage } from '../types.ts';
import { loadSharp } from './sharp.ts';

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). */
  readonly maxPixels?: number;
  /** Images with a longer side are downscaled on decode; coordinates are mapped back by `scale`. */
  readonly maxSide?: number;
}

export interface DecodedImage {
  readonly image: RgbImage;
  /** Size of the file's image (after EXIF rotation), which results are reported in. */
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** originalWidth / image.width: multiply decoded-image coordinates by this. */
  readonly scale: number;
}

export const MIN_IMAGE_SIDE = 16;
const DEFAULT_MAX_PIXELS = 100_000_000;
const DEFAULT_MAX_SIDE = 4096;

/** Decodes running now, the most at once since start, and in all: what the upload limits are checked against. */
const activity = { active: 0, peak: 0, total: 0 };
export function decodeActivity(): { readonly active: number; readonly peak: number; readonly total: number } {
  return { ...activity };
}

/**
 * Decode any image sharp reads (JPEG, PNG, WebP, TIFF, GIF, AVIF...) to packed RGB: EXIF
 * orientation applied, grayscale and CMYK converted to sRGB, alpha flattened on black (what a
 * camera would see). Every failure is a FacegateError naming the file and what to do.
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const label = typeof input === 'string' ? input : '(buffer)';
  if (typeof input === 'string') {
    const st = await stat(input).catch(() => undefined);
    if (!st) throw new FacegateError('IMAGE_NOT_FOUND', `image not found: ${input}`, { context: { image: input }, hint: 'check the path' });
    if (!st.isFile()) throw new FacegateError('IMAGE_UNREADABLE', `not a file: ${input}`, { context: { image: input }, hint: 'pass an image file, not a folder' });
    if (st.size === 0) throw new FacegateError('IMAGE_UNREADABLE', `image file is empty: ${input}`, { context: { image: input }, hint: 'the file has 0 bytes; re-export or re-download it' });
  }
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = opts.maxSide ?? DEFAULT_MAX_SIDE;
  activity.active++;
  activity.total++;
  activity.peak = Math.max(activity.peak, activity.active);
  try {
    const sharp = await loadSharp();
    const base = sharp(input, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true }).rotate();
    const meta = await sharp(input, { limitInputPixels: maxPixels, failOn: 'error' }).metadata();
    const swap = (meta.orientation ?? 1) >= 5;
    const originalWidth = (swap ? meta.height : meta.width) ?? 0;
    const originalHeight = (swap ? meta.width : meta.height) ?? 0;
    if (originalWidth < MIN_IMAGE_SIDE || originalHeight < MIN_IMAGE_SIDE) {
      throw new FacegateError('IMAGE_TOO_SMALL', `image ${label} is ${originalWidth}x${originalHeight}; a face needs at least ${MIN_IMAGE_SIDE}x${MIN_IMAGE_SIDE} pixels`, {
        context: { image: label, width: originalWidth, height: originalHeight },
        hint: 'use a larger image',
      });
    }
    let pipeline = base;
    // With a resize in the pipeline libvips shrinks JPEG and WebP while decoding (DCT scaling):
    // the full-size image is never in memory.
    if (Math.max(originalWidth, originalHeight) > maxSide) pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: 'inside' });
    const { data, info } = await pipeline.flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    const image: RgbImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
    return { image, originalWidth, originalHeight, scale: originalWidth / info.width };
  } catch (e) {
    if (e instanceof FacegateError) throw e;
    const msg = errorMessage(e);
    if (/pixel limit/i.test(msg)) {
      throw new FacegateError('IMAGE_TOO_LARGE', `image ${label} has more than ${maxPixels} pixels`, { context: { image: label }, hint: 'downscale it first (decompression-bomb guard)' });
    }
    if (/unsupported image format|Input buffer contains unsupported/i.test(msg)) {
      throw new FacegateError('IMAGE_UNREADABLE', `${label} is not an image (or a format this build cannot read)`, { context: { image: label }, hint: 'pass a JPEG, PNG, WebP, TIFF, GIF or AVIF file' });
    }
    throw new FacegateError('IMAGE_UNREADABLE', `image ${label} is corrupt or truncated: ${msg}`, { context: { image: label }, hint: 're-export or re-download the image' });
  } finally {
    activity.active--;
  }
}

/** Decode and scale an image to exactly width x height (cropping to cover): camera-sized test frames. */
export async function decodeImageCover(path: string, width: number, height: number): Promise<RgbImage> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(path).rotate().resize(width, height, { fit: 'cover' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}
