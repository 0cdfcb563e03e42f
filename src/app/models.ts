/**
 * The service's shared model sessions: one detector per tier x size (cameras with the same
 * detector settings share it), one embedder, the mask classifier and, when enabled, liveness —
 * each on the execution provider of its role, every run timed into the model-run histogram.
 * Split out of service.ts: loading and releasing models is one concern, running the service another.
 */
import type { Metrics } from '../api/metrics.ts';
import { providerFor, type CameraEntry, type Config } from '../config/index.ts';
import { chooseTier, createDetector, readProfile, type Detector, type DetectorConfig } from '../detect/index.ts';
import type { Logger } from '../log.ts';
import { calibratedThresholds, SERVICE_RESOLVE_OPTIONS } from '../models/index.ts';
import { createEmbedder, createLiveness, createMaskClassifier, ensureTemplatesFor, type Embedder, type LivenessModel, type MaskClassifier } from '../recognize/index.ts';
import type { Gallery } from '../gallery/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { RecognitionSettings } from '../pipeline/index.ts';

/** The detector settings of a camera as one key: cameras with equal keys share a session. */
export function detectorKey(camera: CameraEntry, log: Logger): { key: string; tier: string; model: string | undefined; size: number } {
  const d = camera.detector;
  let tier = d.tier;
  let size = d.size;
  if (d.budgetMs !== undefined && d.model === undefined) {
    const profile = readProfile();
    if (profile) {
      const choice = chooseTier(profile, d.budgetMs);
      tier = choice.entry.tier;
      size = choice.entry.size;
      log.info({ camera: camera.id, budgetMs: d.budgetMs, tier, size, p95Ms: choice.entry.p95Ms }, 'detector tier chosen from the time budget');
    } else {
      log.warn({ camera: camera.id, budgetMs: d.budgetMs, tier }, 'no detect profile on this machine (run `npx facegate bench detect`); using the configured tier');
    }
  }
  return { key: `${d.model ?? tier}@${size}`, tier, model: d.model, size };
}

/** Time every call of an async model method into the model-run histogram. */
export function timed<A extends unknown[], R>(metrics: Metrics, model: string, fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  return async (...a: A) => {
    const t0 = performance.now();
    try {
      return await fn(...a);
    } finally {
      metrics.modelRun.observe({ model }, performance.now() - t0);
    }
  };
}

/**
 * The recognition settings the stream runs with: thresholds from the config where it sets them,
 * else the embedder's calibration (local file first, then the manifest).
 */
export function recognitionSettings(r: Config['recognition'], embedderModel: string): RecognitionSettings & { readonly source: string } {
  const needCalibration = r.thresholds.unmasked === undefined || r.thresholds.masked === undefined;
  const cal = needCalibration ? calibratedThresholds(embedderModel) : undefined;
  const unmasked = r.thresholds.unmasked ?? cal?.unmasked ?? 0;
  const masked = r.thresholds.masked ?? cal?.masked ?? 0;
  const source = cal ? (needCalibration && (r.thresholds.unmasked !== undefined || r.thresholds.masked !== undefined) ? `config + ${cal.source}` : cal.source) : 'config';
  return { ...r, thresholds: { unmasked, masked }, unknownThreshold: r.unknownThreshold ?? unmasked, source };
}

export interface ServiceModels {
  /** The embedder as loaded (enrollment and template rebuilds use it untimed). */
  readonly embedderRaw: Embedder;
  /** The embedder the stream uses: every run timed. */
  readonly embedder: Embedder;
  readonly mask: MaskClassifier;
  readonly liveness: LivenessModel | undefined;
  /** Options a detector for upload enrollment is created with (the detector role's provider). */
  readonly detectorOptions: DetectorConfig;
  /** The detector of a camera (after ensureDetector for it). */
  detectorFor(cameraId: string): Detector | undefined;
  /** Load (or share) the detector a camera's settings need. */
  ensureDetector(camera: CameraEntry): Promise<void>;
  /** Release detector sessions no running camera uses any more (after hot reload). */
  releaseUnused(cameraIds: readonly string[]): Promise<void>;
  /** The detectors loaded now, with their provider (the dashboard's System page). */
  detectors(): readonly { readonly model: string; readonly tier: string; readonly size: number; readonly executionProvider: string }[];
  close(): Promise<void>;
}

export async function loadServiceModels(m: Config['models'], metrics: Metrics, log: Logger): Promise<ServiceModels> {
  // Every weight file is hashed in full at each start: a file corrupted in place keeps its size and
  // mtime, and would otherwise run silently (the size+mtime verdict cache is for short CLI runs).
  // models.threads 0 (the config's default) = the session default: one intra-op thread per session
  // (DEFAULT_INTRA_OP_THREADS in src/models/session.ts, measured there).
  const base = { threads: m.threads || undefined, logger: log, resolve: SERVICE_RESOLVE_OPTIONS, sessionThread: m.sessionThread };
  const detectorOptions = { ...base, executionProvider: providerFor(m, 'detector') };
  const classifierOptions = { ...base, executionProvider: providerFor(m, 'classifiers') };
  const embedderRaw = await createEmbedder(m.embedder, { ...base, executionProvider: providerFor(m, 'embedder') });
  const embedder: Embedder = { ...embedderRaw, embed: timed(metrics, embedderRaw.modelId, (img) => embedderRaw.embed(img)), close: () => embedderRaw.close() };
  const maskRaw = await createMaskClassifier(m.mask, classifierOptions);
  const mask: MaskClassifier = { ...maskRaw, maskProbability: timed(metrics, maskRaw.modelId, (img) => maskRaw.maskProbability(img)), close: () => maskRaw.close() };
  const livenessRaw = m.liveness.enabled ? await createLiveness(m.liveness.models, { ...classifierOptions, track: { window: m.liveness.window, minFrames: m.liveness.minFrames } }) : undefined;
  // The ensemble is timed as one run (its models run back to back per face), named by its members.
  const liveness: LivenessModel | undefined = livenessRaw && { ...livenessRaw, realProbability: timed(metrics, livenessRaw.models.join('+'), (frame, box) => livenessRaw.realProbability(frame, box)), close: () => livenessRaw.close() };

  const byKey = new Map<string, Detector>();
  const byCamera = new Map<string, { key: string; detector: Detector }>();
  const ensureDetector = async (camera: CameraEntry): Promise<void> => {
    const k = detectorKey(camera, log);
    let det = byKey.get(k.key);
    if (!det) {
      const raw = await createDetector({ tier: k.tier, model: k.model, size: k.size, ...detectorOptions });
      // The histogram gets ORT's own run time (not the wait for the shared session, which
      // several cameras queue on): the raw model cost that the benches compare against.
      const detectTimed = async (img: Parameters<Detector['detect']>[0]) => {
        const d = await raw.detectTimed(img);
        metrics.modelRun.observe({ model: raw.model.name }, d.timings.runMs);
        metrics.stageLatency.observe({ stage: 'detect' }, d.timings.preMs + d.timings.runMs + d.timings.postMs);
        return d;
      };
      det = { model: raw.model, tier: raw.tier, size: raw.size, executionProvider: raw.executionProvider, detect: async (img) => (await detectTimed(img)).faces, detectTimed, close: () => raw.close() };
      byKey.set(k.key, det);
    }
    byCamera.set(camera.id, { key: k.key, detector: det });
  };

  return {
    embedderRaw,
    embedder,
    mask,
    liveness,
    detectorOptions,
    detectorFor: (id) => byCamera.get(id)?.detector,
    ensureDetector,
    releaseUnused: async (cameraIds) => {
      const running = new Set(cameraIds);
      for (const id of [...byCamera.keys()]) if (!running.has(id)) byCamera.delete(id);
      const used = new Set([...byCamera.values()].map((c) => c.key));
      for (const [key, det] of [...byKey]) {
        if (used.has(key)) continue;
        byKey.delete(key);
        log.info({ detector: key }, 'detector session released: no camera uses it any more');
        await det.close();
      }
    },
    detectors: () => [...byKey.values()].map((d) => ({ model: d.model.name, tier: d.tier, size: d.size, executionProvider: d.executionProvider ?? 'cpu' })),
    close: async () => {
      for (const d of byKey.values()) await d.close();
      byKey.clear();
      await embedderRaw.close();
      await mask.close();
      await liveness?.close();
    },
  };
}

/**
 * After the embedder changed: when NOBODY in a non-empty gallery has a template of it (every
 * identity without a stored crop, e.g. template-only mode), every face would silently be
 * 'unknown'; this says so as an error, with how many need enrolling again. Pure; undefined when
 * at least one identity can be recognised (ensureTemplatesFor's warning names the others).
 */
export function strandedNotice(modelId: string, stranded: number, identities: number): string | undefined {
  if (stranded === 0 || stranded < identities) return undefined;
  return `no identity has a template of ${modelId} and none has a stored enrollment crop to build one (privacy.keepEnrollmentCrops: false, or enrolled before crops were kept): all ${stranded} need re-enrollment; until then nobody is recognised`;
}

/**
 * The models part of the service: sessions loaded, templates for the configured embedder built
 * from the stored enrollment crops (once; later starts find nothing missing; identities enrolled
 * before crops were kept are named in a warning: they must be enrolled again), the thresholds
 * resolved, and every configured camera's detector ready before the cameras start.
 */
export async function startServiceModels(initial: Config, p: { readonly metrics: Metrics; readonly log: Logger; readonly gallery: Gallery; readonly lifetime: Lifetime; readonly started: () => void }): Promise<{ readonly models: ServiceModels; readonly recognition: RecognitionSettings & { readonly source: string } }> {
  const models = await loadServiceModels(initial.models, p.metrics, p.log);
  p.lifetime.add('models', () => models.close());
  p.started();
  const built = await ensureTemplatesFor(p.gallery, models.embedderRaw, p.log);
  const stranded = strandedNotice(models.embedderRaw.modelId, built.skipped.length, p.gallery.stats().identities);
  if (stranded) p.log.error({ embedder: models.embedderRaw.modelId, needReenrollment: built.skipped.length }, stranded);
  const recognition = recognitionSettings(initial.recognition, models.embedder.modelId);
  p.log.info({ embedder: models.embedder.modelId, thresholds: recognition.thresholds, source: recognition.source }, 'recognition thresholds');
  for (const c of initial.cameras) await models.ensureDetector(c);
  p.started();
  return { models, recognition };
}
