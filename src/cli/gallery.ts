import { Presets, SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { isGalleryError, openGallery, SCHEMA_VERSION, type Gallery, type Identity } from '../gallery/index.ts';
import { reembedGallery, type ReembedSummary } from '../recognize/index.ts';
import { createEmbedder } from '../recognize/models.ts';
import { configOption, describeGalleryError as describe, galleryTarget, withGallery } from './gallery-target.ts';

/** Templates of one model across the gallery, for `gallery status`. */
export interface ModelTemplateCount {
  readonly modelId: string;
  readonly identities: number;
  readonly plain: number;
  readonly masked: number;
}

/** Per-model totals from the identities' template counts, by model id. Pure. */
export function templatesPerModel(identities: readonly Identity[]): ModelTemplateCount[] {
  const byModel = new Map<string, { identities: Set<string>; plain: number; masked: number }>();
  for (const i of identities) {
    for (const c of i.templateCounts) {
      let m = byModel.get(c.modelId);
      if (!m) byModel.set(c.modelId, (m = { identities: new Set(), plain: 0, masked: 0 }));
      m.identities.add(i.id);
      if (c.masked) m.masked += c.count;
      else m.plain += c.count;
    }
  }
  return [...byModel].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([modelId, m]) => ({ modelId, identities: m.identities.size, plain: m.plain, masked: m.masked }));
}

const names = (list: readonly { name: string }[], max = 20): string =>
  list.slice(0, max).map((s) => s.name).join(', ') + (list.length > max ? `, ... (${list.length} in all)` : '');

/**
 * The warning after a change of embedder that left people without templates of the new model
 * (no stored crop: template-only mode, or enrolled before crops were kept). Pure; undefined when
 * nobody is left out.
 */
export function reenrollWarning(modelId: string, skipped: readonly { name: string }[]): string | undefined {
  if (skipped.length === 0) return undefined;
  const n = skipped.length;
  return `${n} ${n === 1 ? 'identity needs' : 'identities need'} re-enrollment: no stored enrollment crop (privacy.keepEnrollmentCrops: false, or enrolled before crops were kept) and no ${modelId} template, so ${n === 1 ? 'it is' : 'they are'} not recognised with ${modelId} until enrolled again: ${names(skipped)}`;
}

/** `facegate gallery drop-crops`: what was deleted, one line. Pure. */
export function dropCropsLine(r: { crops: number; identities: number }, walTruncated: boolean): string {
  if (r.crops === 0) return 'no enrollment crops stored: nothing to drop';
  return `dropped ${r.crops} enrollment crop(s) of ${r.identities} ${r.identities === 1 ? 'identity' : 'identities'}; templates kept (a change of embedder now needs them enrolled again)${walTruncated ? '' : '; the WAL still holds the old pages until the running service checkpoints it'}`;
}

/** The one-line summary of a re-embedding. Pure. */
export function reembedSummaryLine(s: ReembedSummary): string {
  const head = `re-embedded ${s.identities} ${s.identities === 1 ? 'identity' : 'identities'} for ${s.modelId}: ${s.crops} photo crop(s), ${s.templates} templates${s.replaced ? ` (replacing ${s.replaced})` : ''} in ${(s.ms / 1000).toFixed(1)} s`;
  if (s.skipped.length === 0) return head;
  return `${head}; ${s.skipped.length} skipped (no stored photo crop: enroll them again): ${names(s.skipped)}`;
}


interface StatusOptions {
  db: string;
  config?: string;
  json?: boolean;
}

function status(gallery: Gallery, json: boolean): void {
  const identities = gallery.listIdentities();
  const models = templatesPerModel(identities);
  const coverage = gallery.cropCoverage();
  if (json) {
    process.stdout.write(`${JSON.stringify({ path: gallery.path, schemaVersion: SCHEMA_VERSION, identities: identities.length, models, crops: coverage.crops, identitiesWithCrops: coverage.identitiesWithCrops, identitiesWithoutCrops: coverage.identitiesWithoutCrops }, null, 2)}\n`);
    return;
  }
  const lines = [`gallery ${gallery.path} (schema ${SCHEMA_VERSION})`, `identities: ${identities.length} (${coverage.identitiesWithCrops} with stored photo crops, ${coverage.crops} crops)`];
  if (models.length === 0) lines.push('templates: none');
  else {
    lines.push('templates:');
    const w = Math.max(...models.map((m) => m.modelId.length));
    for (const m of models) lines.push(`  ${m.modelId.padEnd(w)}  ${m.identities} ${m.identities === 1 ? 'identity' : 'identities'}, ${m.plain} plain + ${m.masked} masked`);
  }
  if (coverage.identitiesWithoutCrops.length) {
    lines.push(`without stored crops (cannot be re-embedded; enroll them again before a model change): ${names(coverage.identitiesWithoutCrops)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

interface ReembedCliOptions {
  db: string;
  config?: string;
  embedder: string;
  dropOld?: boolean;
  json?: boolean;
  threads?: number;
}

/**
 * `facegate gallery reembed --embedder NAME`: every stored enrollment crop through the new
 * embedder, written in one transaction; a progress bar on a terminal; Ctrl-C aborts with nothing
 * changed. `--drop-old` then removes the other models' templates of the re-embedded identities.
 */
export async function runReembed(opts: ReembedCliOptions): Promise<number> {
  const target = galleryTarget(opts, { create: false });
  const gallery = openGallery(target.path, target.opts);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const interactive = process.stderr.isTTY === true;
  const bar = new SingleBar({ format: `re-embedding for ${opts.embedder} [{bar}] {value}/{total} photos | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  let barStarted = false;
  let embedder;
  try {
    embedder = await createEmbedder(opts.embedder, { threads: opts.threads });
  } catch (e) {
    process.removeListener('SIGINT', onSigint);
    gallery.close();
    throw e;
  }
  try {
    const summary = await reembedGallery(gallery, embedder, {
      signal: controller.signal,
      onProgress: (p) => {
        if (!interactive) return;
        if (!barStarted) {
          bar.start(p.total, 0);
          barStarted = true;
        }
        bar.setTotal(p.total);
        bar.update(p.done);
      },
    });
    if (barStarted) bar.stop();
    const dropped = opts.dropOld ? gallery.dropOtherModels(embedder.modelId) : undefined;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ...summary, ...(dropped ? { dropped } : {}) })}\n`);
    } else {
      process.stdout.write(`${reembedSummaryLine(summary)}\n`);
      const warning = reenrollWarning(summary.modelId, summary.skipped);
      if (warning) process.stderr.write(`warning: ${warning}\n`);
      if (dropped) {
        const kept = dropped.kept.length ? `; kept the templates of ${dropped.kept.length} without ${embedder.modelId} templates: ${names(dropped.kept)}` : '';
        process.stdout.write(`dropped ${dropped.removed} templates of other models from ${dropped.identities} ${dropped.identities === 1 ? 'identity' : 'identities'}${kept}\n`);
      }
    }
    return summary.skipped.length ? 2 : 0;
  } finally {
    if (barStarted) bar.stop();
    process.removeListener('SIGINT', onSigint);
    await embedder.close();
    gallery.close();
  }
}

/** `facegate gallery status|reembed`. */
export function registerGalleryCommand(program: Command, opts: { defaultDb: string }): void {
  const dbOption = (): Option => new Option('--db <path>', 'gallery database file').default(opts.defaultDb);
  const gallery = program.command('gallery').description('gallery storage: templates per model, stored crops, re-embedding for a new model');

  gallery
    .command('status')
    .description('identities, templates per model, stored enrollment crops, and who lacks them')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--json', 'print a JSON object')
    .action((o: StatusOptions) => withGallery(o, (g) => status(g, o.json === true)));

  gallery
    .command('drop-crops')
    .description('delete every stored enrollment crop (template-only mode, privacy.keepEnrollmentCrops: false, for data stored before); templates stay; a later change of embedder needs everyone enrolled again')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--json', 'print a JSON object')
    .action((o: StatusOptions) =>
      withGallery(o, (g) => {
        const r = g.dropCrops();
        // secure_delete zeroed the freed pages; the WAL still holds their old images until this.
        const cp = r.crops > 0 ? g.checkpointTruncate() : { busy: false };
        if (o.json) process.stdout.write(`${JSON.stringify({ ...r, walTruncated: !cp.busy })}\n`);
        else process.stdout.write(`${dropCropsLine(r, !cp.busy)}\n`);
      }),
    );

  gallery
    .command('reembed')
    .description('rebuild every template for another embedder from the stored enrollment crops (one transaction); exit 2 when some identities had no crops')
    .requiredOption('--embedder <model>', 'the embedder to build templates for (a manifest name, see `facegate models list`)')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--drop-old', "afterwards, remove the other models' templates of the re-embedded identities")
    .option('--threads <n>', 'ONNX Runtime threads', (v: string) => Number(v))
    .option('--json', 'print a JSON summary')
    .action(async (o: ReembedCliOptions) => {
      try {
        process.exitCode = await runReembed(o);
      } catch (e) {
        process.stderr.write(`error: ${describe(e)}\n`);
        process.exitCode = isGalleryError(e) && e.code === 'GALLERY_REEMBED_ABORTED' ? 130 : 1;
      }
    });
}
