import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FacegateError } from '../errors.ts';
import type { Detector } from '../detect/index.ts';
import { parseCsv } from '../lib/csv.ts';
import { dot } from '../lib/vectors.ts';
import { decodeImage } from '../image/decode.ts';
import type { Box, RgbImage } from '../types.ts';
import { alignFace } from './align.ts';
import { largestFace } from './analyze.ts';
import { ENROLLMENT_MASKS, renderMask } from './mask-render.ts';
import { equalErrorRateSorted, medianSorted, quantileSorted, rateAbove, ScoreBuffer, tarAtFarSorted, type TarAtFar } from './metrics.ts';
import type { Embedder, LivenessModel, MaskClassifier } from './models.ts';

/** One row of a data set's labels.csv (the layout of ../shared/data). */
export interface LabelledFile {
  readonly file: string;
  readonly category: string;
  readonly identity: string;
  readonly masked: string;
}

export { parseCsv };

export function readLabelsCsv(dataDir: string): LabelledFile[] {
  const path = join(dataDir, 'labels.csv');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new FacegateError('BAD_ARGUMENT', `no labels.csv in ${dataDir}`, { context: { path }, hint: 'point --data at a folder laid out like ../shared/data (labels.csv with file, category, identity, masked)' });
  }
  const [header, ...rows] = parseCsv(text);
  const need = ['file', 'category', 'identity', 'masked'];
  const idx = need.map((n) => header.indexOf(n));
  const missing = need.filter((_, i) => idx[i] < 0);
  if (missing.length) throw new FacegateError('BAD_ARGUMENT', `${path} lacks column(s) ${missing.join(', ')}`, { context: { path }, hint: 'the header must name file, category, identity, masked' });
  return rows.map((r) => ({ file: r[idx[0]], category: r[idx[1]], identity: r[idx[2]], masked: r[idx[3]] }));
}

export interface EvalModels {
  readonly detector: Detector;
  readonly embedder: Embedder;
  readonly mask?: MaskClassifier;
  readonly liveness?: LivenessModel;
}

/** One photo's face embedded: plain, and with each enrollment mask rendered on it. */
export interface EmbeddedPhoto {
  readonly file: string;
  readonly identity: string;
  readonly plain: Float32Array;
  /** ENROLLMENT_MASKS order: surgical light blue, FFP2 white, cloth black. */
  readonly maskedVariants: readonly Float32Array[];
}

/** A real photo of a masked face: a stranger (no identity in the gallery) or an enrolled person. */
export interface RealMaskedPhoto {
  readonly file: string;
  readonly identity: string | undefined;
  readonly embedding: Float32Array;
}

export interface ScoreOptions {
  /** FARs to report; the last one sets the recommended thresholds. Default [1e-2, 1e-3]. */
  readonly fars?: readonly number[];
}

/** Everything measured from embeddings alone (pure; see `scoreEmbeddings`). */
export interface ScoreReport {
  readonly people: number;
  readonly probes: number;
  readonly genuinePairs: number;
  readonly impostorPairs: number;
  readonly rank1: number;
  readonly tar_at_far: readonly TarAtFar[];
  readonly eer: number;
  /** Unmasked threshold: the one at the lowest FAR asked for (or what the pairs allow). */
  readonly threshold: number;
  readonly genuine: { readonly min: number; readonly median: number };
  readonly impostor: { readonly p99: number; readonly max: number };
  /** Masked probes (synthetic FFP2 mask on every probe) against plain templates only. */
  readonly rank1_masked_plain: number;
  /** Masked probes against plain + synthetic-masked templates (the routed path). */
  readonly rank1_masked: number;
  readonly masked: {
    readonly genuineMedianPlain: number;
    readonly genuineMedianWithMaskedTemplates: number;
    /**
     * Threshold for masked probes, calibrated on masked impostors of both kinds: the FAR target
     * over synthetic-masked probes of other people, and never below the best gallery score of any
     * real masked stranger (none of them may be accepted).
     */
    readonly threshold: number;
    /** Synthetic-masked genuine probes accepted at `threshold`. */
    readonly tar: number;
    /** What the synthetic impostors alone would have given, and how many real strangers it lets in. */
    readonly syntheticOnlyThreshold: number;
    readonly realStrangersAcceptedAtSyntheticOnly: number;
    /** Real masked strangers (data/masked) and how many the masked route accepts at `threshold`. */
    readonly realMaskedStrangers: number;
    readonly realMaskedFalseAccepts: number;
    /** Highest gallery score of any real masked stranger. */
    readonly realStrangerMax: number;
    /** Real masked photos of enrolled people: similarity to their plain template, and with masked templates. */
    readonly realPairs: readonly { file: string; identity: string; plain: number; withMaskedTemplates: number; accepted: boolean }[];
  };
  /** Recommended thresholds, rounded up to 3 decimals (accept when score > threshold). */
  readonly recommended: { readonly unmasked: number; readonly masked: number };
}

/** Sorted score sets behind a report: for ROC plots. Float32, ascending. */
export interface ScoreSets {
  readonly genuine: Float32Array;
  readonly impostor: Float32Array;
  readonly maskedGenuine: Float32Array;
  readonly maskedImpostor: Float32Array;
}

export interface EvalReport extends ScoreReport {
  readonly embedder: string;
  readonly undetected: readonly string[];
  readonly mask_accuracy: number;
  readonly mask: { readonly masked: number; readonly unmasked: number; readonly maskedCorrect: number; readonly unmaskedCorrect: number; readonly threshold: number };
  readonly liveness?: {
    readonly faces: number;
    readonly passRate: number;
    /** Photos with room for MiniFASNet's 2.7x context crop, and tight crops without it. */
    readonly withContext: { readonly faces: number; readonly passRate: number };
    readonly tightCrops: { readonly faces: number; readonly passRate: number };
    readonly threshold: number;
  };
  /** Embedder run (tensor + ORT) per face, ms: the cost that differs between embedders. */
  readonly embedderRunsMs: number;
}


/** Round a similarity threshold up to 3 decimals: never lets in a score the exact threshold rejected. */
export const roundThresholdUp = (t: number): number => Math.ceil(t * 1000 - 1e-9) / 1000;

/**
 * Every metric of the gauge from embeddings (pure, no I/O). The first photo of each identity is
 * its template (plain + the enrollment masks), the rest are probes. All scores live in typed
 * arrays and embeddings in one flat matrix, so 5,000 photos (12.5 M pairs) take seconds and tens
 * of MB (bench: test/eval-scale.test.ts).
 */
export function scoreEmbeddings(photos: readonly EmbeddedPhoto[], realMasked: readonly RealMaskedPhoto[], opts: ScoreOptions = {}): { report: ScoreReport; scores: ScoreSets } {
  const fars = opts.fars ?? [1e-2, 1e-3];
  if (photos.length < 2) throw new FacegateError('BAD_ARGUMENT', `only ${photos.length} identity photos with a face`, { hint: 'the data set needs at least two people with two photos each' });
  const dim = photos[0].plain.length;
  const n = photos.length;
  const flat = new Float32Array(n * dim);
  const idOf = new Int32Array(n);
  const ids = new Map<string, number>();
  photos.forEach((p, i) => {
    if (p.plain.length !== dim) throw new RangeError(`${p.file}: embedding of ${p.plain.length} values, expected ${dim}`);
    flat.set(p.plain, i * dim);
    let id = ids.get(p.identity);
    if (id === undefined) ids.set(p.identity, (id = ids.size));
    idOf[i] = id;
  });

  // Verification over all pairs.
  const genuine = new ScoreBuffer(4096);
  const impostor = new ScoreBuffer(Math.min(1 << 24, (n * (n - 1)) / 2));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = dot(flat, flat, dim, i * dim, j * dim);
      (idOf[i] === idOf[j] ? genuine : impostor).push(s);
    }
  }
  const gSorted = genuine.sorted();
  const iSorted = impostor.sorted();
  if (!gSorted.length || !iSorted.length) throw new FacegateError('BAD_ARGUMENT', `need same-person and different-person pairs (got ${gSorted.length} genuine, ${iSorted.length} impostor)`, { hint: 'the data set needs at least two people, one of them with two photos' });
  const tars = fars.map((f) => tarAtFarSorted(gSorted, iSorted, f));
  const threshold = tars[tars.length - 1].threshold;

  // Gallery: the first photo of each identity; templates = plain + masked variants, in one matrix.
  const galleryIdx: number[] = [];
  const isTemplate = new Uint8Array(n);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (!seen.has(idOf[i])) {
      seen.add(idOf[i]);
      galleryIdx.push(i);
      isTemplate[i] = 1;
    }
  }
  const people = galleryIdx.length;
  const variants = photos[galleryIdx[0]].maskedVariants.length;
  const perId = 1 + variants;
  const templates = new Float32Array(people * perId * dim);
  const templateId = new Int32Array(people);
  galleryIdx.forEach((gi, k) => {
    templateId[k] = idOf[gi];
    templates.set(photos[gi].plain, (k * perId) * dim);
    photos[gi].maskedVariants.forEach((v, m) => templates.set(v, (k * perId + 1 + m) * dim));
  });
  /** Score of a probe against every identity: plain template only, or best over plain + masked. */
  const scoreAll = (probe: Float32Array, withMasked: boolean, out: Float32Array): void => {
    for (let k = 0; k < people; k++) {
      let s = dot(probe, templates, dim, 0, k * perId * dim);
      if (withMasked) for (let m = 1; m < perId; m++) s = Math.max(s, dot(probe, templates, dim, 0, (k * perId + m) * dim));
      out[k] = s;
    }
  };
  const argmax = (v: Float32Array): number => {
    let b = 0;
    for (let k = 1; k < v.length; k++) if (v[k] > v[b]) b = k;
    return b;
  };
  const row = new Float32Array(people);
  const galleryPos = new Map<number, number>();
  templateId.forEach((id, k) => galleryPos.set(id, k));
  let probes = 0;
  let hits = 0;
  let hitsMaskedPlain = 0;
  let hitsMasked = 0;
  const mGenPlain = new ScoreBuffer();
  const mGen = new ScoreBuffer();
  const mImp = new ScoreBuffer(Math.max(16, n * people));
  // The probe wears FFP2 white (variant 1): a shape/colour pair no template of the same person
  // has except variant 1 itself, which is why three shapes are enrolled.
  const probeVariant = Math.min(1, variants - 1);
  for (let i = 0; i < n; i++) {
    if (isTemplate[i]) continue;
    probes++;
    const own = galleryPos.get(idOf[i]) as number;
    scoreAll(photos[i].plain, false, row);
    if (argmax(row) === own) hits++;
    if (variants > 0) {
      const mp = photos[i].maskedVariants[probeVariant];
      scoreAll(mp, false, row);
      if (argmax(row) === own) hitsMaskedPlain++;
      mGenPlain.push(row[own]);
      scoreAll(mp, true, row);
      if (argmax(row) === own) hitsMasked++;
      mGen.push(row[own]);
      for (let k = 0; k < people; k++) if (k !== own) mImp.push(row[k]);
    }
  }

  // Real masked photos: strangers are impostors for the masked route; enrolled people are genuine pairs.
  const far = fars[fars.length - 1];
  const strangerBest = new ScoreBuffer();
  const mImpAll = new ScoreBuffer(mImp.length + realMasked.length * people + 16);
  for (const v of mImp.values()) mImpAll.push(v);
  const realPairs: { file: string; identity: string; plain: number; withMaskedTemplates: number; accepted: boolean }[] = [];
  for (const r of realMasked) {
    if (r.identity !== undefined && ids.has(r.identity)) {
      const k = galleryPos.get(ids.get(r.identity) as number) as number;
      scoreAll(r.embedding, false, row);
      const plain = row[k];
      scoreAll(r.embedding, true, row);
      realPairs.push({ file: r.file, identity: r.identity, plain, withMaskedTemplates: row[k], accepted: false });
    } else if (r.identity === undefined) {
      scoreAll(r.embedding, true, row);
      for (const v of row) mImpAll.push(v);
      strangerBest.push(row[argmax(row)]);
    }
  }
  const mGenSorted = mGen.sorted();
  const mImpSorted = mImp.sorted();
  const mImpAllSorted = mImpAll.sorted();
  const strangersSorted = strangerBest.sorted();
  const syntheticOnly = mGenSorted.length && mImpSorted.length ? tarAtFarSorted(mGenSorted, mImpSorted, far).threshold : NaN;
  const realStrangerMax = strangersSorted.length ? strangersSorted[strangersSorted.length - 1] : -Infinity;
  // Each kind of impostor must hold on its own: pooling the (mostly low) real-stranger scores with
  // the synthetic ones would only dilute the FAR and lower the threshold.
  const maskedThreshold = Math.max(Number.isFinite(syntheticOnly) ? syntheticOnly : -Infinity, realStrangerMax);
  const recommendedMasked = roundThresholdUp(maskedThreshold);
  const acceptedAbove = (sorted: Float32Array, t: number): number => Math.round(rateAbove(sorted, t) * sorted.length) || 0;
  const report: ScoreReport = {
    people,
    probes,
    genuinePairs: gSorted.length,
    impostorPairs: iSorted.length,
    rank1: probes ? hits / probes : NaN,
    tar_at_far: tars,
    eer: equalErrorRateSorted(gSorted, iSorted).eer,
    threshold,
    genuine: { min: gSorted[0], median: medianSorted(gSorted) },
    impostor: { p99: quantileSorted(iSorted, 0.99), max: iSorted[iSorted.length - 1] },
    rank1_masked_plain: probes ? hitsMaskedPlain / probes : NaN,
    rank1_masked: probes ? hitsMasked / probes : NaN,
    masked: {
      genuineMedianPlain: medianSorted(mGenPlain.sorted()),
      genuineMedianWithMaskedTemplates: medianSorted(mGenSorted),
      threshold: maskedThreshold,
      tar: rateAbove(mGenSorted, recommendedMasked),
      syntheticOnlyThreshold: syntheticOnly,
      realStrangersAcceptedAtSyntheticOnly: acceptedAbove(strangersSorted, syntheticOnly),
      realMaskedStrangers: strangersSorted.length,
      realMaskedFalseAccepts: acceptedAbove(strangersSorted, recommendedMasked),
      realStrangerMax,
      realPairs: realPairs.map((p) => ({ ...p, accepted: p.withMaskedTemplates > recommendedMasked })),
    },
    recommended: { unmasked: roundThresholdUp(threshold), masked: recommendedMasked },
  };
  return { report, scores: { genuine: gSorted, impostor: iSorted, maskedGenuine: mGenSorted, maskedImpostor: mImpAllSorted } };
}

/** What one photo's face gives, independent of the embedder: reused across embedders in one run. */
export interface AnalyzedPhoto {
  readonly aligned: RgbImage;
  readonly box: Box;
  readonly width: number;
  readonly height: number;
  maskProbability?: number;
  liveness?: number;
}

/** file -> its largest face aligned (null: no face). Pass the same cache to evaluate each embedder once per photo detection. */
export type PhotoCache = Map<string, AnalyzedPhoto | null>;

/** Detect + align the largest face of a photo (cached). */
export async function alignedPhoto(dataDir: string, file: string, detector: Detector, cache: PhotoCache, onDecoded?: (image: RgbImage) => Promise<void>): Promise<AnalyzedPhoto | null> {
  const hit = cache.get(file);
  if (hit !== undefined) return hit;
  const { image } = await decodeImage(join(dataDir, file));
  const face = largestFace(await detector.detect(image));
  if (!face) {
    cache.set(file, null);
    return null;
  }
  const a: AnalyzedPhoto = { aligned: alignFace(image, face.landmarks).crop, box: face.box, width: image.width, height: image.height };
  if (onDecoded) await onDecoded(image);
  cache.set(file, a);
  return a;
}

export interface EvaluateOptions extends ScoreOptions {
  readonly onProgress?: (done: number, total: number) => void;
  /** Detections shared between embedders of one run. */
  readonly photos?: PhotoCache;
}

/**
 * The accuracy gauge: enroll the first photo of every person, query the rest; verification over
 * every same-person / different-person pair; synthetic masks on probes with and without masked
 * templates; real masked strangers and real masked pairs; the mask classifier on real masked vs
 * unmasked photos; liveness pass rate on real faces.
 */
export async function evaluateWithScores(dataDir: string, models: EvalModels, opts: EvaluateOptions = {}): Promise<{ report: EvalReport; scores: ScoreSets }> {
  const labels = readLabelsCsv(dataDir);
  const unmaskedLabel = (l: LabelledFile): boolean => l.masked === 'no' || l.masked.startsWith('no ');
  const people = labels.filter((l) => l.category === 'identity' && l.identity && unmaskedLabel(l));
  const maskedFiles = labels.filter((l) => l.masked === 'yes');
  const unmaskedFiles = labels.filter((l) => unmaskedLabel(l) && ['identity', 'group', 'single'].includes(l.category) && !people.includes(l));
  const total = people.length + maskedFiles.length + unmaskedFiles.length;
  const cache = opts.photos ?? new Map();
  let done = 0;
  const tick = (): void => opts.onProgress?.(++done, total);
  const undetected: string[] = [];
  let embedMs = 0;
  let embedRuns = 0;
  const embed = async (crop: RgbImage): Promise<Float32Array> => {
    const t0 = performance.now();
    const e = await models.embedder.embed(crop);
    embedMs += performance.now() - t0;
    embedRuns++;
    return e;
  };
  const photo = async (file: string, withLiveness: boolean): Promise<AnalyzedPhoto | null> => {
    let fullImage: RgbImage | undefined;
    const a = await alignedPhoto(dataDir, file, models.detector, cache, async (image) => void (fullImage = image));
    if (!a) return a;
    if (models.mask && a.maskProbability === undefined) a.maskProbability = await models.mask.maskProbability(a.aligned);
    if (withLiveness && models.liveness && a.liveness === undefined) {
      const image = fullImage ?? (await decodeImage(join(dataDir, file))).image;
      a.liveness = await models.liveness.realProbability(image, a.box);
    }
    return a;
  };

  const embedded: EmbeddedPhoto[] = [];
  const liveContext: number[] = [];
  const liveTight: number[] = [];
  const maskScores = { masked: [] as number[], unmasked: [] as number[] };
  for (const l of people) {
    const a = await photo(l.file, true);
    tick();
    if (!a) {
      undetected.push(l.file);
      continue;
    }
    const maskedVariants: Float32Array[] = [];
    const plain = await embed(a.aligned);
    for (const m of ENROLLMENT_MASKS) maskedVariants.push(await embed(renderMask(a.aligned, m.shape, m.colour)));
    embedded.push({ file: l.file, identity: l.identity, plain, maskedVariants });
    if (a.maskProbability !== undefined) maskScores.unmasked.push(a.maskProbability);
    if (a.liveness !== undefined) {
      // MiniFASNet needs context around the face: crops that cannot hold a 2.7x box are reported apart.
      const bw = a.box[2] - a.box[0];
      const bh = a.box[3] - a.box[1];
      (bw * 2.7 <= a.width && bh * 2.7 <= a.height ? liveContext : liveTight).push(a.liveness);
    }
  }
  const enrolled = new Set(embedded.map((e) => e.identity));
  const realMasked: RealMaskedPhoto[] = [];
  for (const l of [...maskedFiles, ...unmaskedFiles]) {
    const a = await photo(l.file, false);
    tick();
    if (!a) {
      undetected.push(l.file);
      continue;
    }
    if (a.maskProbability !== undefined) (l.masked === 'yes' ? maskScores.masked : maskScores.unmasked).push(a.maskProbability);
    if (l.masked !== 'yes') continue;
    if (l.category === 'identity' && enrolled.has(l.identity)) realMasked.push({ file: l.file, identity: l.identity, embedding: await embed(a.aligned) });
    else if (l.category !== 'identity') realMasked.push({ file: l.file, identity: undefined, embedding: await embed(a.aligned) });
  }
  const { report: scored, scores } = scoreEmbeddings(embedded, realMasked, opts);

  const maskThreshold = 0.5;
  const maskedCorrect = maskScores.masked.filter((p) => p >= maskThreshold).length;
  const unmaskedCorrect = maskScores.unmasked.filter((p) => p < maskThreshold).length;
  const maskN = maskScores.masked.length + maskScores.unmasked.length;
  const livenessThreshold = 0.5;
  const pass = (v: readonly number[]): number => v.filter((s) => s >= livenessThreshold).length / v.length;
  const live = [...liveContext, ...liveTight];
  const report: EvalReport = {
    embedder: models.embedder.modelId,
    undetected,
    ...scored,
    mask_accuracy: maskN ? (maskedCorrect + unmaskedCorrect) / maskN : NaN,
    mask: { masked: maskScores.masked.length, unmasked: maskScores.unmasked.length, maskedCorrect, unmaskedCorrect, threshold: maskThreshold },
    ...(models.liveness ? {
          liveness: {
            faces: live.length,
            passRate: pass(live),
            withContext: { faces: liveContext.length, passRate: pass(liveContext) },
            tightCrops: { faces: liveTight.length, passRate: pass(liveTight) },
            threshold: livenessThreshold,
          },
        } : {}),
    embedderRunsMs: embedRuns ? embedMs / embedRuns : NaN,
  };
  return { report, scores };
}

export async function evaluate(dataDir: string, models: EvalModels, opts: EvaluateOptions = {}): Promise<EvalReport> {
  return (await evaluateWithScores(dataDir, models, opts)).report;
}
