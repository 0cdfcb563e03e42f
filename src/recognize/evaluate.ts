import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FacegateError } from '../errors.ts';
import type { Detector } from '../detect/index.ts';
import { decodeImage } from '../image/decode.ts';
import { analyzeFace, largestFace } from './analyze.ts';
import { ENROLLMENT_MASKS, renderMask } from './mask-render.ts';
import { equalErrorRate, rank1, tarAtFar, type TarAtFar } from './metrics.ts';
import type { Embedder, LivenessModel, MaskClassifier } from './models.ts';
import { cosine } from './tensor.ts';

/** One row of a data set's labels.csv (the layout of ../shared/data). */
export interface LabelledFile {
  readonly file: string;
  readonly category: string;
  readonly identity: string;
  readonly masked: string;
}

/** RFC 4180 CSV: quoted fields with commas and doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

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

export interface EvalReport {
  readonly embedder: string;
  readonly people: number;
  readonly probes: number;
  readonly genuinePairs: number;
  readonly impostorPairs: number;
  readonly undetected: readonly string[];
  readonly rank1: number;
  readonly tar_at_far: readonly TarAtFar[];
  readonly eer: number;
  /** Recommended unmasked threshold: the one at the lowest FAR asked for (1e-3, or what the pairs allow). */
  readonly threshold: number;
  readonly genuine: { readonly min: number; readonly median: number };
  readonly impostor: { readonly p99: number; readonly max: number };
  /** Masked probes (synthetic masks on every probe) against plain templates only. */
  readonly rank1_masked_plain: number;
  /** Masked probes against plain + synthetic-masked templates (the routed path). */
  readonly rank1_masked: number;
  readonly masked: {
    readonly genuineMedianPlain: number;
    readonly genuineMedianWithMaskedTemplates: number;
    /** Threshold for masked probes: TAR at the lowest FAR over synthetic-masked impostor pairs. */
    readonly threshold: number;
    readonly tar: number;
    /** Real masked strangers (data/masked) accepted by the masked route at that threshold. */
    readonly realMaskedStrangers: number;
    readonly realMaskedFalseAccepts: number;
    /** Real masked photos of enrolled people: similarity to their plain template, and with masked templates. */
    readonly realPairs: readonly { file: string; identity: string; plain: number; withMaskedTemplates: number }[];
  };
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
  readonly embedderRunsMs: number;
}

const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const q = (v: readonly number[], p: number): number => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};

interface Embedded {
  readonly file: string;
  readonly identity: string;
  readonly plain: Float32Array;
  /** The same face with each enrollment mask rendered on it. */
  readonly maskedVariants: Float32Array[];
}

/**
 * The accuracy gauge: enroll the first photo of every person, query the rest; verification over
 * every same-person / different-person pair; synthetic masks on probes with and without masked
 * templates; the mask classifier on real masked vs unmasked photos; liveness pass rate on real faces.
 */
export async function evaluate(dataDir: string, models: EvalModels, opts: { fars?: readonly number[]; onProgress?: (done: number, total: number) => void } = {}): Promise<EvalReport> {
  const labels = readLabelsCsv(dataDir);
  const unmaskedLabel = (l: LabelledFile): boolean => l.masked === 'no' || l.masked.startsWith('no ');
  const people = labels.filter((l) => l.category === 'identity' && l.identity && unmaskedLabel(l));
  const maskedFiles = labels.filter((l) => l.masked === 'yes');
  const unmaskedFiles = labels.filter((l) => unmaskedLabel(l) && ['identity', 'group', 'single'].includes(l.category));
  const fars = opts.fars ?? [1e-2, 1e-3];
  const total = people.length + maskedFiles.length + unmaskedFiles.length;
  let done = 0;
  const tick = (): void => opts.onProgress?.(++done, total);
  const undetected: string[] = [];
  let embedMs = 0;
  let embedRuns = 0;

  const embedded: Embedded[] = [];
  const maskScores = { masked: [] as number[], unmasked: [] as number[] };
  const liveScores: number[] = [];
  const liveContext: number[] = [];
  const liveTight: number[] = [];
  const maskCache = new Map<string, number>();
  for (const l of people) {
    const { image } = await decodeImage(join(dataDir, l.file));
    const face = largestFace(await models.detector.detect(image));
    tick();
    if (!face) {
      undetected.push(l.file);
      continue;
    }
    const t0 = performance.now();
    const a = await analyzeFace(image, face, models.embedder, models.mask);
    embedMs += performance.now() - t0;
    embedRuns++;
    if (a.maskProbability !== undefined) maskCache.set(l.file, a.maskProbability);
    const maskedVariants: Float32Array[] = [];
    for (const m of ENROLLMENT_MASKS) maskedVariants.push(await models.embedder.embed(renderMask(a.aligned, m.shape, m.colour)));
    embedded.push({ file: l.file, identity: l.identity, plain: a.embedding, maskedVariants });
    if (models.liveness) {
      const score = await models.liveness.realProbability(image, face.box);
      // MiniFASNet needs context around the face: crops that cannot hold a 2.7x box are reported apart.
      const bw = face.box[2] - face.box[0];
      const bh = face.box[3] - face.box[1];
      const hasContext = bw * 2.7 <= image.width && bh * 2.7 <= image.height;
      liveScores.push(score);
      (hasContext ? liveContext : liveTight).push(score);
    }
  }
  if (embedded.length < 2) throw new FacegateError('BAD_ARGUMENT', `only ${embedded.length} identity photos with a face in ${dataDir}`, { hint: 'the data set needs at least two people with two photos each' });

  // Gallery: the first photo of each person (labels order); probes: the rest.
  const gallery = new Map<string, Embedded>();
  const probes: Embedded[] = [];
  for (const e of embedded) {
    if (!gallery.has(e.identity)) gallery.set(e.identity, e);
    else probes.push(e);
  }

  // Verification over all pairs.
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < embedded.length; i++) {
    for (let j = i + 1; j < embedded.length; j++) {
      const s = cosine(embedded[i].plain, embedded[j].plain);
      (embedded[i].identity === embedded[j].identity ? genuine : impostor).push(s);
    }
  }
  const tars = fars.map((f) => tarAtFar(genuine, impostor, f));
  const threshold = tars[tars.length - 1].threshold;

  // Identification, unmasked and with synthetic masks on the probe (variant 0: surgical light blue,
  // the commonest real mask; the probe never wears the exact mask a template was rendered with
  // except by coincidence of shape, which is why three shapes are enrolled).
  const scoreAll = (probe: Float32Array, withMasked: boolean): Map<string, number> => {
    const m = new Map<string, number>();
    for (const [id, g] of gallery) {
      let s = cosine(probe, g.plain);
      if (withMasked) for (const v of g.maskedVariants) s = Math.max(s, cosine(probe, v));
      m.set(id, s);
    }
    return m;
  };
  const r1 = rank1(probes.map((p) => ({ truth: p.identity, scores: scoreAll(p.plain, false) })));
  const maskedProbe = (p: Embedded): Float32Array => p.maskedVariants[1]; // FFP2 white on the probe: a shape/colour pair no template of the same person has
  const maskedPlain = probes.map((p) => ({ truth: p.identity, scores: scoreAll(maskedProbe(p), false) }));
  const maskedBoth = probes.map((p) => ({ truth: p.identity, scores: scoreAll(maskedProbe(p), true) }));
  const mGenuinePlain = maskedPlain.map((p) => p.scores.get(p.truth) ?? 0);
  const mGenuineBoth = maskedBoth.map((p) => p.scores.get(p.truth) ?? 0);
  const mImpostorBoth = maskedBoth.flatMap((p) => [...p.scores].filter(([id]) => id !== p.truth).map(([, s]) => s));
  const maskedTar = tarAtFar(mGenuineBoth, mImpostorBoth, fars[fars.length - 1]);

  // Mask classifier and the masked route's false accepts on real masked strangers.
  const realMaskedPairs: { file: string; identity: string; plain: number; withMaskedTemplates: number }[] = [];
  let realMaskedFalseAccepts = 0;
  let realMaskedStrangers = 0;
  for (const l of [...maskedFiles, ...unmaskedFiles]) {
    tick();
    let p = maskCache.get(l.file);
    let strangerEmbedding: Float32Array | undefined;
    if (p === undefined || l.masked === 'yes') {
      const { image } = await decodeImage(join(dataDir, l.file));
      const face = largestFace(await models.detector.detect(image));
      if (!face) {
        undetected.push(l.file);
        continue;
      }
      const a = await analyzeFace(image, face, models.embedder, models.mask);
      p = a.maskProbability;
      if (l.masked === 'yes' && l.category !== 'identity') strangerEmbedding = a.embedding;
    }
    if (p !== undefined) (l.masked === 'yes' ? maskScores.masked : maskScores.unmasked).push(p);
    if (l.masked === 'yes' && l.category === 'identity' && gallery.has(l.identity)) {
      const { image } = await decodeImage(join(dataDir, l.file));
      const face = largestFace(await models.detector.detect(image));
      if (face) {
        const a = await analyzeFace(image, face, models.embedder);
        const g = gallery.get(l.identity) as Embedded;
        realMaskedPairs.push({ file: l.file, identity: l.identity, plain: cosine(a.embedding, g.plain), withMaskedTemplates: Math.max(cosine(a.embedding, g.plain), ...g.maskedVariants.map((v) => cosine(a.embedding, v))) });
      }
    }
    if (strangerEmbedding) {
      realMaskedStrangers++;
      const best = Math.max(...scoreAll(strangerEmbedding, true).values());
      if (best > maskedTar.threshold) realMaskedFalseAccepts++;
    }
  }
  const maskThreshold = 0.5;
  const maskedCorrect = maskScores.masked.filter((p) => p >= maskThreshold).length;
  const unmaskedCorrect = maskScores.unmasked.filter((p) => p < maskThreshold).length;
  const maskN = maskScores.masked.length + maskScores.unmasked.length;

  const livenessThreshold = 0.5;
  return {
    embedder: models.embedder.modelId,
    people: gallery.size,
    probes: probes.length,
    genuinePairs: genuine.length,
    impostorPairs: impostor.length,
    undetected,
    rank1: r1,
    tar_at_far: tars,
    eer: equalErrorRate(genuine, impostor).eer,
    threshold,
    genuine: { min: Math.min(...genuine), median: median(genuine) },
    impostor: { p99: q(impostor, 0.99), max: Math.max(...impostor) },
    rank1_masked_plain: rank1(maskedPlain),
    rank1_masked: rank1(maskedBoth),
    masked: {
      genuineMedianPlain: median(mGenuinePlain),
      genuineMedianWithMaskedTemplates: median(mGenuineBoth),
      threshold: maskedTar.threshold,
      tar: maskedTar.tar,
      realMaskedStrangers,
      realMaskedFalseAccepts,
      realPairs: realMaskedPairs,
    },
    mask_accuracy: maskN ? (maskedCorrect + unmaskedCorrect) / maskN : NaN,
    mask: { masked: maskScores.masked.length, unmasked: maskScores.unmasked.length, maskedCorrect, unmaskedCorrect, threshold: maskThreshold },
    ...(models.liveness ? {
          liveness: {
            faces: liveScores.length,
            passRate: liveScores.filter((s) => s >= livenessThreshold).length / liveScores.length,
            withContext: { faces: liveContext.length, passRate: liveContext.filter((s) => s >= livenessThreshold).length / liveContext.length },
            tightCrops: { faces: liveTight.length, passRate: liveTight.filter((s) => s >= livenessThreshold).length / liveTight.length },
            threshold: livenessThreshold,
          },
        } : {}),
    embedderRunsMs: embedRuns ? embedMs / embedRuns : NaN,
  };
}
