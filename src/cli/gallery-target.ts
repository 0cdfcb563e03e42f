/**
 * Which gallery a CLI command opens, and how: `--db PATH` as before, or `--config FILE`, which
 * names the gallery (gallery.db) and, with privacy.encryption on, its key (docs/privacy.md).
 */
import { Option } from 'commander';
import { loadConfig } from '../config/index.ts';
import type { GalleryOptions } from '../gallery/index.ts';
import { loadKek } from '../privacy/index.ts';

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
