import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** RFC 4180 CSV (quoted fields with commas and doubled quotes), enough for labels.csv. */
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
  return rows;
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
