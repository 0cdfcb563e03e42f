/**
 * What the operator dashboard needs from the service beyond the existing API: identity photos
 * (the stored enrollment crops as JPEG), the System page's figures, and where the built bundle
 * lives. The live frames are in ./live-frames.ts, the unknown clusters in ./unknowns.ts.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { PhotoApi, SystemInfo } from '../api/server.ts';
import { histogramSummaryByLabel, type Metrics } from '../api/metrics.ts';
import type { Gallery } from '../gallery/index.ts';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The built dashboard (scripts/build-web.ts); FACEGATE_WEB_DIR overrides it. */
export function webRoot(): string {
  return resolve(process.env.FACEGATE_WEB_DIR ?? join(ROOT, 'web/dist'));
}

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function createPhotoApi(gallery: Gallery): PhotoApi {
  const cache = new Map<string, Buffer>();
  return {
    list: (identityId) => {
      if (!gallery.getIdentity(identityId)) return undefined;
      return gallery.listCrops(identityId).map((c) => ({ id: c.id, width: c.width, height: c.height }));
    },
    jpeg: async (identityId, photoId) => {
      if (!gallery.getIdentity(identityId)) return undefined;
      if (!gallery.listCrops(identityId).some((c) => c.id === photoId)) return undefined;
      const hit = cache.get(photoId);
      if (hit) return hit;
      const img = gallery.cropImage(photoId);
      const jpeg = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
      if (cache.size > 500) cache.clear();
      cache.set(photoId, jpeg);
      return jpeg;
    },
  };
}

export interface SystemDeps {
  readonly metrics: Metrics;
  readonly startedMs: number;
  readonly models: () => Readonly<Record<string, unknown>>;
  readonly executionProvider: () => string;
  readonly eventLog: () => { lastId: number; count?: number };
}

export function createSystemInfo(d: SystemDeps): () => Promise<SystemInfo> {
  const version = packageVersion();
  return async () => ({
    version,
    uptimeMs: Date.now() - d.startedMs,
    models: d.models(),
    executionProvider: d.executionProvider(),
    eventLog: d.eventLog(),
    stages: await histogramSummaryByLabel(d.metrics.stageLatency, 'stage'),
    modelRuns: await histogramSummaryByLabel(d.metrics.modelRun, 'model'),
  });
}
