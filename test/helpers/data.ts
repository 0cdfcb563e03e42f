import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../../src/lib/csv.ts';

/** ../shared/data beside the checkout: the real labelled photos and videos tests run on. */
export const DATA_DIR = resolve(fileURLToPath(new URL('../../../shared/data/', import.meta.url)));
export const dataPath = (rel: string): string => join(DATA_DIR, rel);

export interface LabelRow {
  readonly file: string;
  readonly category: string;
  readonly identity: string;
  readonly masked: string;
  readonly faces: string;
  readonly note: string;
}

export function readLabels(): LabelRow[] {
  const [header, ...rows] = parseCsv(readFileSync(join(DATA_DIR, 'labels.csv'), 'utf8')).filter((r) => r.length > 1);
  const col = (name: string): number => header.indexOf(name);
  return rows.map((r) => ({
    file: r[col('file')],
    category: r[col('category')],
    identity: r[col('identity')],
    masked: r[col('masked')],
    faces: r[col('faces')],
    note: r[col('note')],
  }));
}

/**
 * The labelled face count of a group photo as an inclusive range: "6" -> [6, 6],
 * "approx 25-30 (...)" -> [25, 30], "approx 13 (...)" -> [13, 13], "2 main + 2-3 background" -> [4, 5].
 */
export function labelledRange(faces: string): [number, number] {
  const plus = /^(\d+) main \+ (\d+)-(\d+)/.exec(faces);
  if (plus) return [Number(plus[1]) + Number(plus[2]), Number(plus[1]) + Number(plus[3])];
  const range = /(\d+)\s*-\s*(\d+)/.exec(faces);
  if (range) return [Number(range[1]), Number(range[2])];
  const one = /(\d+)/.exec(faces);
  if (!one) throw new Error(`no face count in "${faces}"`);
  return [Number(one[1]), Number(one[1])];
}
