import { z } from 'zod';
import { FacegateError } from '../errors.ts';

/**
 * Pair-list verification protocols (LFW and the sets that copied its format): pure parsing and the
 * standard 10-fold accuracy. No I/O here; `evaluatePairs` in evaluate-pairs.ts embeds the photos.
 */

export interface FacePair {
  /** Image paths relative to the data folder. */
  readonly a: string;
  readonly b: string;
  readonly same: boolean;
  /** 0-based fold index. */
  readonly fold: number;
}

/** LFW's file naming: `name/name_0001.jpg`. */
export function lfwPath(name: string, index: number): string {
  return `${name}/${name}_${String(index).padStart(4, '0')}.jpg`;
}

function badPairs(source: string, line: number | undefined, what: string): FacegateError {
  return new FacegateError('BAD_ARGUMENT', `${source}${line === undefined ? '' : `:${line}`}: ${what}`, {
    context: { source, ...(line === undefined ? {} : { line }) },
    hint: 'use LFW pairs.txt lines (`name n1 n2` for a same-person pair, `name1 n1 name2 n2` for a different-person pair; optional header `FOLDS N`), or a JSON list of {"a": "...", "b": "...", "same": true|false, "fold": 0}',
  });
}

/** Give pairs without a fold one by stratified round robin: the k-th same pair and the k-th different pair go to fold k mod folds. */
export function assignFolds<T extends { same: boolean }>(pairs: readonly T[], folds = 10): (T & { fold: number })[] {
  let s = 0;
  let d = 0;
  return pairs.map((p) => ({ ...p, fold: p.same ? s++ % folds : d++ % folds }));
}

/**
 * LFW pairs.txt. Header forms: `10 300` (10 folds, each 300 same-person then 300 different-person
 * pairs: the View 2 protocol), a single count `1100` (pairsDevTrain/DevTest: that many same, then
 * that many different), or no header (pair lines only). Without folds in the header, folds are
 * assigned by stratified round robin.
 */
export function parseLfwPairs(text: string, source = 'pairs.txt'): FacePair[] {
  const lines = text.split(/\r?\n/).map((l, i) => ({ n: i + 1, tokens: l.trim().split(/\s+/).filter(Boolean) })).filter((l) => l.tokens.length > 0);
  if (!lines.length) throw badPairs(source, undefined, 'no pairs in the file');
  const isInt = (s: string): boolean => /^\d+$/.test(s);
  let header: number[] | undefined;
  if (lines[0].tokens.length <= 2 && lines[0].tokens.every(isInt)) header = lines.shift()?.tokens.map(Number);
  const raw: { a: string; b: string; same: boolean; line: number }[] = [];
  for (const { n, tokens } of lines) {
    if (tokens.length === 3 && isInt(tokens[1]) && isInt(tokens[2])) raw.push({ a: lfwPath(tokens[0], Number(tokens[1])), b: lfwPath(tokens[0], Number(tokens[2])), same: true, line: n });
    else if (tokens.length === 4 && isInt(tokens[1]) && isInt(tokens[3])) raw.push({ a: lfwPath(tokens[0], Number(tokens[1])), b: lfwPath(tokens[2], Number(tokens[3])), same: false, line: n });
    else throw badPairs(source, n, `cannot read "${tokens.join(' ')}" as a pair`);
  }
  if (header && header.length === 2) {
    const [folds, perClass] = header;
    if (folds < 2 || perClass < 1) throw badPairs(source, 1, `header "${header.join(' ')}" must be FOLDS (>= 2) and PAIRS per class (>= 1)`);
    if (raw.length !== folds * perClass * 2) throw badPairs(source, 1, `header promises ${folds} folds x ${perClass} same + ${perClass} different = ${folds * perClass * 2} pairs, the file has ${raw.length}`);
    return raw.map((p, i) => {
      const fold = Math.floor(i / (2 * perClass));
      const sameExpected = i % (2 * perClass) < perClass;
      if (p.same !== sameExpected) throw badPairs(source, p.line, `fold ${fold + 1} should hold ${perClass} same-person pairs then ${perClass} different-person pairs`);
      return { a: p.a, b: p.b, same: p.same, fold };
    });
  }
  if (header && header.length === 1) {
    const [perClass] = header;
    if (raw.length !== perClass * 2) throw badPairs(source, 1, `header promises ${perClass} same + ${perClass} different pairs, the file has ${raw.length}`);
  }
  return assignFolds(raw.map((p) => ({ a: p.a, b: p.b, same: p.same })));
}

const jsonPairs = z.array(z.strictObject({ a: z.string().min(1), b: z.string().min(1), same: z.boolean(), fold: z.number().int().min(0).optional() })).min(1);

/** A JSON list of `{a, b, same, fold?}`; pairs without a fold get one by stratified round robin. */
export function parseJsonPairs(text: string, source = 'pairs.json'): FacePair[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw badPairs(source, undefined, `not valid JSON: ${(e as Error).message}`);
  }
  const parsed = jsonPairs.safeParse(doc);
  if (!parsed.success) throw badPairs(source, undefined, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  const list = parsed.data;
  const withFold = list.filter((p) => p.fold !== undefined).length;
  if (withFold !== 0 && withFold !== list.length) throw badPairs(source, undefined, `${withFold} of ${list.length} pairs have a fold: give every pair a fold or none`);
  if (withFold) return list.map((p) => ({ a: p.a, b: p.b, same: p.same, fold: p.fold as number }));
  return assignFolds(list.map((p) => ({ a: p.a, b: p.b, same: p.same })));
}

/** By content: a JSON list starts with `[`, anything else is read as LFW pairs.txt. */
export function parsePairs(text: string, source: string): FacePair[] {
  return text.trimStart().startsWith('[') ? parseJsonPairs(text, source) : parseLfwPairs(text, source);
}

/**
 * The threshold that classifies the given pairs best (accept when score > threshold): one sweep
 * over the scores sorted once. Ties in accuracy keep the lowest threshold; the threshold is the
 * midpoint between neighbouring scores so an unseen score equal to a training score is not on the edge.
 */
export function bestThreshold(scores: ArrayLike<number>, same: ArrayLike<number>, indices: readonly number[] | Int32Array): { threshold: number; accuracy: number } {
  const idx = Int32Array.from(indices).sort((x, y) => scores[x] - scores[y]);
  const n = idx.length;
  if (!n) return { threshold: 0, accuracy: NaN };
  let positives = 0;
  for (const i of idx) positives += same[i] ? 1 : 0;
  // Threshold below every score: all accepted.
  let correct = positives;
  let best = correct;
  let threshold = scores[idx[0]] - 1e-6;
  for (let k = 0; k < n; k++) {
    // Move pair k to the rejected side.
    correct += same[idx[k]] ? -1 : 1;
    if (k + 1 < n && scores[idx[k + 1]] === scores[idx[k]]) continue; // cannot split equal scores
    if (correct > best) {
      best = correct;
      threshold = k + 1 < n ? (scores[idx[k]] + scores[idx[k + 1]]) / 2 : scores[idx[k]] + 1e-6;
    }
  }
  return { threshold, accuracy: best / n };
}

export interface FoldResult {
  readonly fold: number;
  readonly pairs: number;
  /** Chosen on the other folds. */
  readonly threshold: number;
  readonly accuracy: number;
}

export interface KFoldResult {
  readonly folds: readonly FoldResult[];
  readonly mean: number;
  /** Population standard deviation over folds, as LFW tables report it. */
  readonly std: number;
}

/**
 * The standard protocol: for each fold, the threshold is chosen on the other folds and the
 * accuracy measured on this one; the result is the mean (and spread) over folds.
 */
export function kFoldAccuracy(scores: ArrayLike<number>, same: ArrayLike<number>, folds: ArrayLike<number>): KFoldResult {
  if (scores.length !== same.length || scores.length !== folds.length) throw new RangeError('scores, same and folds must have one entry per pair');
  const ids = [...new Set(Array.from(folds))].sort((a, b) => a - b);
  if (ids.length < 2) throw new FacegateError('BAD_ARGUMENT', `k-fold accuracy needs at least 2 folds, the pairs have ${ids.length}`, { hint: 'give the pairs several folds (or none, to get 10 assigned)' });
  const results: FoldResult[] = [];
  for (const f of ids) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < scores.length; i++) (folds[i] === f ? test : train).push(i);
    const { threshold } = bestThreshold(scores, same, train);
    let correct = 0;
    for (const i of test) correct += (scores[i] > threshold) === Boolean(same[i]) ? 1 : 0;
    results.push({ fold: f, pairs: test.length, threshold, accuracy: correct / test.length });
  }
  const mean = results.reduce((s, r) => s + r.accuracy, 0) / results.length;
  const std = Math.sqrt(results.reduce((s, r) => s + (r.accuracy - mean) ** 2, 0) / results.length);
  return { folds: results, mean, std };
}
