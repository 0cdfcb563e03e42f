/**
 * Which gallery a CLI command opens, and how: `--db PATH` as before, or `--config FILE`, which
 * names the gallery (gallery.db) and, with privacy.encryption on, its key (docs/privacy.md).
 */
import { Option } from 'commander';
import { loadConfig } from '../config/index.ts';
import { isEventsError } from '../events/index.ts';
import { isFacegateError } from '../errors.ts';
import { isGalleryError, openGallery, type Gallery, type GalleryOptions } from '../gallery/index.ts';
import { isPrivacyError, loadKek } from '../privacy/index.ts';
import { describeError } from './common.ts';

export interface GalleryTargetOptions {
  readonly db: string;
  readonly config?: string;
}

export const configOption = (): Option => new Option('-c, --config <file>', "take the gallery (gallery.db) and its encryption key from this config file instead of --db");

export function galleryTarget(o: GalleryTargetOptions, base: GalleryOptions = {}): { path: string; opts: GalleryOptions } {
  if (!o.config) return { path: o.db, opts: base };
  const config = loadConfig(o.config);
  const e = config.privacy.encryption;
  const withCrops = { ...base, keepCrops: config.privacy.keepEnrollmentCrops };
  if (!e.enabled) return { path: config.gallery.db, opts: withCrops };
  const { kek, source } = loadKek({ keyFile: e.keyFile, keyEnv: e.keyEnv });
  return { path: config.gallery.db, opts: { ...withCrops, encryption: { kek, source } } };
}

/** Person-readable error (message + fix hint), never a stack (FACEGATE_DEBUG=1 shows it). */
export function describeGalleryError(e: unknown): string {
  if (isGalleryError(e) || isFacegateError(e) || isPrivacyError(e) || isEventsError(e)) return e.describe();
  return describeError(e);
}

/** Run a command body against the gallery (--db or --config), closing it; errors print and set exit code 1. */
export function withGallery(o: GalleryTargetOptions, fn: (gallery: Gallery) => void, base: GalleryOptions = { create: false }): void {
  let gallery: Gallery | undefined;
  try {
    const { path, opts } = galleryTarget(o, base);
    gallery = openGallery(path, opts);
    fn(gallery);
  } catch (e) {
    process.stderr.write(`error: ${describeGalleryError(e)}\n`);
    process.exitCode = 1;
  } finally {
    gallery?.close();
  }
}
