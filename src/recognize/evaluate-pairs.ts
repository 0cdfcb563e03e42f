import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FacegateError } from '../errors.ts';
import type { Detector } from '../detect/index.ts';
import { alignedPhoto, type PhotoCache } from './evaluate.ts';
import { equalErrorRateSorted, ScoreBuffer, tarAtFarSorted, type TarAtFar } from './metrics.ts';
import type { Embedder } from './models.ts';
import { kFoldAccuracy, type FacePair, type KFoldResult } from './pairs.ts';

export interface PairsReport {
  readonly embedder: string;
  readonly pairs: number;
  /** Pairs scored (both faces found). */
  readonly scoredPairs: number;
  readonly genuinePairs: number;
  readonly impostorPairs: number;
  /** Photos that are not there, and photos with no face: their pairs are left out and listed here. */
  readonly missing: readonly string[];
  readonly undetected: readonly string[];
  readonly kfold: KFoldResult;
  readonly tar_at_far: readonly TarAtFar[];
  readonly eer: number;
  readonly embedderRunsMs: number;
}

/** LFW names files `.jpg`; copies of a set are often re-encoded. Try the stem with other image extensions. */
export function locatePhoto(dataDir: string, rel: string): string | undefined {
  if (existsSync(join(dataDir, rel))) return rel;
  const stem = rel.replace(/\.[A-Za-z0-9]+$/, '');
  for (const ext of ['.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG', '.webp']) if (existsSync(join(dataDir, stem + ext))) return stem + ext;
  return undefined;
}

/**
 * A pair-list protocol through the product's own pipeline: every distinct photo is detected
 * (largest face), aligned and embedded once; each pair is the cosine of its two embeddings.
 * 10-fold accuracy with the threshold chosen on the other folds, TAR@FAR and EER over all pairs.
 */
export async function evaluatePairs(pairs: readonly FacePair[], dataDir: string, models: { detector: Detector; embedder: Embedder }, opts: { fars?: readonly number[]; onProgress?: (done: number, total: number) => void; photos?: PhotoCache } = {}): Promise<{ report: PairsReport; scores: { genuine: Float32Array; impostor: Float32Array } }> {
  const fars = opts.fars ?? [1e-2, 1e-3];
  const files = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const cache = opts.photos ?? new Map();
  const embeddings = new Map<string, Float32Array>();
  const missing: string[] = [];
  const undetected: string[] = [];
  let embedMs = 0;
  let done = 0;
  for (const f of files) {
    const rel = locatePhoto(dataDir, f);
    if (!rel) missing.push(f);
    else {
      const a = await alignedPhoto(dataDir, rel, models.detector, cache);
      if (!a) undetected.push(f);
      else {
        const t0 = performance.now();
        embeddings.set(f, await models.embedder.embed(a.aligned));
        embedMs += performance.now() - t0;
      }
    }
    opts.onProgress?.(++done, files.length);
  }
  if (missing.length === files.length) {
    throw new FacegateError('BAD_ARGUMENT', `none of the ${files.length} photos of the pair list is in ${dataDir} (first: ${files[0]})`, { context: { dataDir }, hint: 'point --data at the folder the pair list names its photos relative to (for LFW: the folder holding one sub-folder per person)' });
  }
  const scores = new Float32Array(pairs.length);
  const same = new Uint8Array(pairs.length);
  const folds = new Int32Array(pairs.length);
  const genuine = new ScoreBuffer();
  const impostor = new ScoreBuffer();
  let n = 0;
  for (const p of pairs) {
    const a = embeddings.get(p.a);
    const b = embeddings.get(p.b);
    if (!a || !b) continue;
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k] * b[k];
    scores[n] = s;
    same[n] = p.same ? 1 : 0;
    folds[n] = p.fold;
    n++;
    (p.same ? genuine : impostor).push(s);
  }
  const g = genuine.sorted();
  const i = impostor.sorted();
  if (!g.length || !i.length) throw new FacegateError('BAD_ARGUMENT', `after leaving out pairs with missing or faceless photos, ${g.length} same-person and ${i.length} different-person pairs remain`, { hint: 'the pair list needs both kinds of pairs with detectable faces' });
  const report: PairsReport = {
    embedder: models.embedder.modelId,
    pairs: pairs.length,
    scoredPairs: n,
    genuinePairs: g.length,
    impostorPairs: i.length,
    missing,
    undetected,
    kfold: kFoldAccuracy(scores.subarray(0, n), same.subarray(0, n), folds.subarray(0, n)),
    tar_at_far: fars.map((f) => tarAtFarSorted(g, i, f)),
    eer: equalErrorRateSorted(g, i).eer,
    embedderRunsMs: embeddings.size ? embedMs / embeddings.size : NaN,
  };
  return { report, scores: { genuine: g, impostor: i } };
}
