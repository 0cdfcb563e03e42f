/**
 * What the operator dashboard needs from the service beyond the existing API: identity photos
 * (the stored enrollment crops as JPEG), the System page's figures, and where the built bundle
 * lives. The live frames are in ./live-frames.ts, the unknown clusters in ./unknowns.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IdentityApi, PhotoApi, SystemInfo } from '../api/server.ts';
import { histogramSummaryByLabel, type Metrics } from '../api/metrics.ts';
import type { Event, NewEventOf } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import type { Logger } from '../log.ts';
import type { PhotoVerdict } from '../recognize/index.ts';
import { createIdentityApi } from './identities.ts';
import { PROJECT_ROOT } from '../paths.ts';
import { loadSharp } from '../image/sharp.ts';

const ROOT = PROJECT_ROOT;

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
      const jpeg = await (await loadSharp())(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
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

/**
 * The API's identity management with one more enrolment check: a photo whose face already
 * matches *another* identity (similarity at or above the recognition threshold) is rejected with
 * reason `looks-like` and that person's name, instead of silently giving two people one face.
 * The identity a photo is being added to is carried through the enrolment call in an
 * AsyncLocalStorage, so a new photo of the same person is never refused as a look-alike.
 */
export function createCheckedIdentityApi(o: {
  readonly gallery: Gallery;
  readonly enroll: (photo: Buffer) => Promise<PhotoVerdict>;
  readonly publish: (event: NewEventOf<'identity.created' | 'identity.updated' | 'identity.removed'>) => Event | void;
  readonly logger: Logger;
  /** Similarity at which a face counts as someone's (the recognition threshold, read per call). */
  readonly threshold: () => number;
}): IdentityApi {
  const target = new AsyncLocalStorage<{ readonly identityId: string | undefined; readonly force: boolean }>();
  const enroll = async (photo: Buffer): Promise<PhotoVerdict> => {
    const v = await o.enroll(photo);
    if (!v.ok) return v;
    const plain = v.templates.find((t) => !t.masked) ?? v.templates[0];
    if (!plain) return v;
    const self = target.getStore()?.identityId;
    if (target.getStore()?.force) return v;
    const other = o.gallery.search(plain.embedding, { modelId: plain.modelId, k: 3 }).find((m) => m.identityId !== self);
    if (!other || other.score < o.threshold()) return v;
    // RejectReason (src/recognize) lists what a photo alone can fail on; this one needs the gallery.
    const rejected = { ok: false, photo: v.photo, reason: 'looks-like', message: `looks like ${other.name} (similarity ${other.score.toFixed(2)}): already enrolled as ${other.name} at ${other.score.toFixed(2)}`, hint: `a photo of ${other.name}? add it to that person instead, choose another photo, or enroll it anyway with force=true` };
    return rejected as unknown as PhotoVerdict;
  };
  const inner = createIdentityApi({ gallery: o.gallery, enroll, publish: o.publish, logger: o.logger });
  return {
    ...inner,
    create: (input, actor) => target.run({ identityId: undefined, force: input.force === true }, () => inner.create(input, actor)),
    enrollPhoto: (id, photo, actor, opts) => target.run({ identityId: id, force: opts?.force === true }, () => inner.enrollPhoto(id, photo, actor)),
  };
}
