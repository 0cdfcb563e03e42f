import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openGallery, simdAvailable, type EnrollInput, type Gallery, type GalleryOptions, type TemplateInput } from '../src/gallery/index.ts';
import { near } from '../test/helpers/gallery-data.ts';
import { mulberry32 } from '../src/lib/random.ts';
import { quantile } from '../src/lib/stats.ts';

interface GalleryBenchRow {
  dim: number;
  identities: number;
  templates: number;
  enrollMsEach: number;
  batchPerSecond: number;
  fileMb: number;
  openMs: number;
  rssMb: number;
  search: Record<string, { median: number; p95: number }>;
}

const MODES: Record<string, { label: string; opts: GalleryOptions['search'] }> = {
  screened: { label: 'search (default: int8 screen + exact re-score)', opts: {} },
  simd: { label: 'exact f32 SIMD scan', opts: { screenMinRows: Number.POSITIVE_INFINITY } },
  js: { label: 'JS scalar scan', opts: { useSimd: false } },
};

/** Random unit vector; uniform per element then normalised (cheaper than Gaussian for 50M values). */
function randomVector(dim: number, rand: () => number): Float32Array {
  const v = new Float32Array(dim);
  let s = 0;
  for (let i = 0; i < dim; i++) {
    v[i] = rand() * 2 - 1;
    s += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < dim; i++) v[i] *= inv;
  return v;
}

const SHA = 'b'.repeat(64);

function identityInput(i: number, dim: number, perIdentity: number, rand: () => number): EnrollInput {
  const base = randomVector(dim, rand);
  const templates: TemplateInput[] = [{ embedding: base, modelId: `bench_${dim}d`, masked: false, sourcePhotoSha256: SHA, quality: 0.9 }];
  for (let j = 1; j < perIdentity; j++) templates.push({ embedding: near(base, 0.05, rand), modelId: `bench_${dim}d`, masked: true, sourcePhotoSha256: SHA, quality: 0.9 });
  return { name: `person ${i}`, templates };
}

function timeSearches(g: Gallery, probes: readonly Float32Array[], modelId: string, k: number, masked: boolean): { median: number; p95: number } {
  for (const p of probes.slice(0, 10)) g.search(p, { modelId, k, masked: masked ? 'plain+masked' : 'plain' });
  const times: number[] = [];
  for (const p of probes) {
    const t0 = performance.now();
    g.search(p, { modelId, k, masked: masked ? 'plain+masked' : 'plain' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: quantile(times, 0.5), p95: quantile(times, 0.95) };
}

async function measure(dim: number, identities: number, perIdentity: number, probesN: number, k: number, modes: readonly string[], log: (s: string) => void): Promise<GalleryBenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-bench-'));
  try {
    const path = join(dir, 'gallery.db');
    const rand = mulberry32(dim * 1_000_003 + identities);
    const modelId = `bench_${dim}d`;
    let g = openGallery(path);
    // Enrollment as the operator does it: one transaction (one fsync, synchronous=FULL) per person.
    const single = Math.min(300, identities);
    let t0 = performance.now();
    for (let i = 0; i < single; i++) g.enroll(identityInput(i, dim, perIdentity, rand));
    const enrollMsEach = (performance.now() - t0) / single;
    // The rest as an import: enrollMany, 5000 per transaction.
    let batchMs = 0;
    for (let i = single; i < identities; i += 5000) {
      const batch = Array.from({ length: Math.min(5000, identities - i) }, (_, j) => identityInput(i + j, dim, perIdentity, rand));
      t0 = performance.now();
      g.enrollMany(batch);
      batchMs += performance.now() - t0;
    }
    const batchPerSecond = identities > single ? ((identities - single) / batchMs) * 1000 : Number.NaN;
    g.close();
    const fileMb = (statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0)) / 1e6;
    log(`  ${dim}-d x ${identities}: enrolled (${enrollMsEach.toFixed(2)} ms each, ${Math.round(batchPerSecond)}/s batched)`);

    // Probes: half near an enrolled identity (a genuine match exists), half random strangers.
    const stored = openGallery(path, { create: false });
    const sample = stored.listTemplates(stored.findByName('person 7')[0].id);
    const anchor = stored.templateEmbedding(sample[0].id);
    stored.close();
    const probes = Array.from({ length: probesN }, (_, i) => (i % 2 === 0 ? near(anchor, 0.03, rand) : randomVector(dim, rand)));

    const search: GalleryBenchRow['search'] = {};
    let openMs = 0;
    let rssMb = 0;
    for (const mode of modes) {
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      t0 = performance.now();
      g = openGallery(path, { create: false, search: MODES[mode].opts });
      const ms = performance.now() - t0;
      if (mode === modes[0]) {
        openMs = ms;
        rssMb = (process.memoryUsage().rss - rss0) / 1e6;
      }
      const hit = g.search(probes[0], { modelId, k: 1 });
      if (hit[0]?.name !== 'person 7') throw new Error(`bench sanity: expected person 7, got ${hit[0]?.name}`);
      search[mode] = timeSearches(g, mode === 'js' ? probes.slice(0, Math.min(probes.length, 60)) : probes, modelId, k, false);
      if (perIdentity > 1) search[`${mode}+masked`] = timeSearches(g, mode === 'js' ? probes.slice(0, 30) : probes, modelId, k, true);
      g.close();
      log(`    ${mode}: median ${search[mode].median.toFixed(2)} ms, p95 ${search[mode].p95.toFixed(2)} ms`);
    }
    return { dim, identities, templates: identities * perIdentity, enrollMsEach, batchPerSecond, fileMb, openMs, rssMb, search };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatGalleryTable(rows: readonly GalleryBenchRow[], k: number): string {
  const modes = [...new Set(rows.flatMap((r) => Object.keys(r.search)))];
  const head = ['dim', 'identities', 'templates', 'enroll ms (1 tx, FULL)', 'batch enroll /s', 'file MB', 'open+load ms', 'index RSS MB', ...modes.map((m) => `${m} k=${k} median / p95 ms`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---:').join('|')}|`];
  for (const r of rows) {
    const cells = [
      String(r.dim),
      r.identities.toLocaleString('en-US'),
      r.templates.toLocaleString('en-US'),
      r.enrollMsEach.toFixed(2),
      Number.isNaN(r.batchPerSecond) ? '-' : Math.round(r.batchPerSecond).toLocaleString('en-US'),
      r.fileMb.toFixed(1),
      Math.round(r.openMs).toString(),
      r.rssMb.toFixed(0),
      ...modes.map((m) => (r.search[m] ? `${r.search[m].median.toFixed(2)} / ${r.search[m].p95.toFixed(2)}` : '-')),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * `npm run bench -- gallery [--sizes 10000,100000] [--dims 128,512] [--templates 1] [--probes 200]
 * [--k 5] [--modes screened,simd,js]`: enrollment cost, file size, open+load time and search
 * latency over random unit embeddings (1 plain template per identity; --templates 3 adds 2
 * masked ones and a plain+masked column). Nothing here is asserted by tests.
 */
export async function runGalleryBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: '10000,100000' },
      dims: { type: 'string', default: '128,512' },
      templates: { type: 'string', default: '1' },
      probes: { type: 'string', default: '200' },
      k: { type: 'string', default: '5' },
      modes: { type: 'string', default: 'screened,simd,js' },
    },
  });
  const modes = values.modes.split(',').filter((m) => m in MODES);
  const k = Number(values.k);
  const log = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  log(`gallery bench: WebAssembly SIMD ${simdAvailable() ? 'on' : 'OFF'}, ${values.probes} probes, k=${k}, ${values.templates} template(s) per identity`);
  const rows: GalleryBenchRow[] = [];
  for (const dim of values.dims.split(',').map(Number)) {
    for (const n of values.sizes.split(',').map(Number)) rows.push(await measure(dim, n, Number(values.templates), Number(values.probes), k, modes, log));
  }
  log(`\n${formatGalleryTable(rows, k)}`);
  log(`\nmodes: ${modes.map((m) => `${m} = ${MODES[m].label}`).join('; ')}`);
}

// Run directly: `npx tsx bench/gallery.ts [options]` (bench/index.ts imports it for `npm run bench -- gallery`).
if (import.meta.url === `file://${process.argv[1]}`) await runGalleryBench(process.argv.slice(2));
