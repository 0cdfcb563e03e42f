/**
 * Builds the operator dashboard (web/src, Preact + TSX) into web/dist: one minified ES module and
 * one stylesheet, both named by content hash under assets/ (served with a one-year immutable
 * cache), and index.html pointing at them (revalidated every time). No CDN, nothing fetched at
 * run time. Prints the size of each file, gzipped, against the 150 kB JS goal.
 *
 *   npx tsx scripts/build-web.ts [--out DIR] [--dev]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('../', import.meta.url)));
const GOAL_GZ_BYTES = 150 * 1024;

export interface WebBuild {
  readonly outDir: string;
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly gzipBytes: number }[];
  readonly jsGzipBytes: number;
}

const hashOf = (b: Uint8Array): string => createHash('sha256').update(b).digest('base64url').replace(/[-_]/g, '').slice(0, 10).toUpperCase();

export async function buildWeb(opts: { outDir?: string; dev?: boolean } = {}): Promise<WebBuild> {
  const outDir = resolve(opts.outDir ?? join(ROOT, 'web/dist'));
  const result = await build({
    entryPoints: [join(ROOT, 'web/src/main.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: !opts.dev,
    sourcemap: false,
    write: false,
    outdir: 'out',
    entryNames: 'app',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': opts.dev ? '"development"' : '"production"' },
    logLevel: 'warning',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (!js || !css) throw new Error('esbuild produced no JS or no CSS bundle');
  const icon = readFileSync(join(ROOT, 'web/favicon.svg'));
  // Build into a fresh folder, then swap: a running server never sees a half-written bundle.
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'assets'), { recursive: true });
  const assets = [
    { name: `app-${hashOf(js.contents)}.js`, body: js.contents },
    { name: `app-${hashOf(css.contents)}.css`, body: css.contents },
    { name: `icon-${hashOf(icon)}.svg`, body: icon },
  ];
  for (const a of assets) writeFileSync(join(tmp, 'assets', a.name), a.body);
  const html = readFileSync(join(ROOT, 'web/index.html'), 'utf8')
    .replace('%JS%', `/assets/${assets[0].name}`)
    .replace('%CSS%', `/assets/${assets[1].name}`)
    .replace('%ICON%', `/assets/${assets[2].name}`);
  writeFileSync(join(tmp, 'index.html'), html);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  const files = [...assets.map((a) => ({ path: `assets/${a.name}`, body: Buffer.from(a.body) })), { path: 'index.html', body: Buffer.from(html) }].map((f) => ({ path: f.path, bytes: f.body.length, gzipBytes: gzipSync(f.body, { level: 9 }).length }));
  return { outDir, files, jsGzipBytes: files.find((f) => f.path.endsWith('.js'))?.gzipBytes ?? 0 };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, dev: { type: 'boolean', default: false } } });
  const t0 = performance.now();
  const r = await buildWeb({ outDir: values.out, dev: values.dev });
  const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`;
  for (const f of r.files) process.stdout.write(`web: ${f.path.padEnd(32)} ${kB(f.bytes).padStart(9)}  gzip ${kB(f.gzipBytes).padStart(8)}\n`);
  const ok = r.jsGzipBytes <= GOAL_GZ_BYTES;
  process.stdout.write(`web: dashboard built into ${r.outDir} in ${Math.round(performance.now() - t0)} ms; JS ${kB(r.jsGzipBytes)} gzipped (goal < ${kB(GOAL_GZ_BYTES)}: ${ok ? 'met' : 'NOT met'})\n`);
}
