import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { FacegateError } from '../errors.ts';
import { candidatePaths, downloadModel, findModel, loadManifest, resolveModel, PROJECT_MODELS_DIR } from '../models/index.ts';
import { describeError } from './common.ts';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('list, verify and download model weights');

  models
    .command('list')
    .description('every model in the manifest, where it resolves and its licence')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = [];
      for (const m of loadManifest().models) {
        let status: string;
        let path: string | undefined;
        try {
          const r = await resolveModel(m.name);
          path = r.path;
          status = r.pinned ? 'ok (sha256 verified)' : `present, unpinned sha256 ${r.sha256}`;
        } catch (e) {
          status = e instanceof FacegateError ? e.code.toLowerCase().replace(/_/g, ' ') : 'error';
        }
        if (m.derived) status += ` (derived from ${m.derived.from}: ${m.derived.transform})`;
        rows.push({ name: m.name, role: m.role, tier: m.tier, file: m.file, status, path, licence: m.licence, ...(m.thresholds ? { thresholds: m.thresholds } : {}) });
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(28)} ${r.role.padEnd(9)} ${(r.tier ?? '').padEnd(5)} ${r.status}${r.path ? `  ${r.path}` : ''}\n    licence: ${r.licence}\n`);
        if (r.thresholds) process.stdout.write(`    thresholds: unmasked ${r.thresholds.unmasked}, masked ${r.thresholds.masked} (${r.thresholds.source.split(': ')[0]}; full source in models/manifest.json)\n`);
      }
      process.stdout.write('\nInsightFace weights (SCRFD det_*/scrfd_*, w600k_*) are for non-commercial research only.\n');
    });

  models
    .command('verify')
    .description('resolve models and hash every file in full (all, or the ones named); derived models are generated if missing')
    .argument('[names...]', 'model names')
    .action(async (names: string[]) => {
      const list = names.length ? names : loadManifest().models.map((m) => m.name);
      let bad = 0;
      for (const name of list) {
        try {
          // Full hash: `verify` is the command a person runs when in doubt, so the size+mtime cache is not trusted.
          const r = await resolveModel(name, { verify: 'full' });
          process.stdout.write(`ok      ${name}  ${r.path}${r.generated ? ' (generated)' : ''}\n`);
        } catch (e) {
          bad++;
          process.stdout.write(`FAILED  ${name}: ${describeError(e)}\n`);
        }
      }
      process.exitCode = bad ? 1 : 0;
    });

  models
    .command('download')
    .description('download a model from its official URL (resumable, sha256-checked) into the models/ cache')
    .argument('<name>', 'model name from `facegate models list`')
    .option('--url <url>', 'download from this URL instead (a mirror)')
    .option('--sha256 <hex>', 'expected sha256 (required for models the manifest does not pin)')
    .option('--dest <dir>', 'folder to put the file in', PROJECT_MODELS_DIR)
    .option('--force', 'download even if a verified copy already resolves')
    .action(async (name: string, opts: { url?: string; sha256?: string; dest: string; force?: boolean }) => {
      const entry = findModel(loadManifest(), name);
      if (entry.derived) {
        // Nothing to download: the file is produced here from its source model (downloaded if need be).
        const source = findModel(loadManifest(), entry.derived.from);
        try {
          await resolveModel(source.name);
        } catch (e) {
          if (!(e instanceof FacegateError) || e.code !== 'MODEL_NOT_FOUND') throw e;
          throw new FacegateError('MODEL_NOT_FOUND', `${name} is derived from ${source.name}, which is not here`, { context: { model: name }, hint: `run \`npx facegate models download ${source.name}\` first; ${name} is then generated from it` });
        }
        const r = await resolveModel(name, { verify: 'full' });
        process.stdout.write(`${name}: ${r.generated ? 'generated' : 'present'} from ${source.name} (${entry.derived.transform}), sha256 ${r.sha256} verified -> ${r.path}\n`);
        return;
      }
      if (opts.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(opts.sha256)) {
        throw new FacegateError('BAD_ARGUMENT', `--sha256 must be 64 lowercase hex digits`, { hint: 'copy the digest exactly' });
      }
      if (!opts.force) {
        try {
          const r = await resolveModel(name);
          process.stdout.write(`${name} already present and verified at ${r.path} (use --force to download anyway)\n`);
          return;
        } catch {
          // not present (or corrupt): download it
        }
      }
      const bar = new SingleBar({ format: `${name} [{bar}] {percentage}% {value}/{total} bytes`, hideCursor: true, noTTYOutput: true, stream: process.stderr }, Presets.shades_classic);
      let started = false;
      const res = await downloadModel(entry, {
        destDir: resolve(opts.dest),
        url: opts.url,
        sha256: opts.sha256,
        onProgress: (p) => {
          if (!started) {
            bar.start(p.total ?? 0, p.received);
            started = true;
          } else bar.update(p.received);
          if (p.total !== undefined) bar.setTotal(p.total);
        },
      }).finally(() => started && bar.stop());
      process.stdout.write(`${name}: ${res.bytes} bytes, sha256 ${res.sha256} verified${res.resumed ? ' (resumed)' : ''} -> ${res.path}\n`);
      process.stdout.write(`looked for in order: ${candidatePaths(entry).join(', ')}\n`);
    });
}
