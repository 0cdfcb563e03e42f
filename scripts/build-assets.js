// The files a compiled build needs besides the JavaScript tsc writes: a Python launcher, a worker
// script, JSON schemas. tsc copies none of them, so the build copies every one of them beside its
// compiled module (dist/src/ingest/gst-launch-stdin.py next to dist/src/ingest/source.js) and then
// checks every `moduleAsset(import.meta.url, 'name')` in the sources against dist/: a referenced
// file that is not there fails the build instead of a camera at run time.
// Plain JavaScript: scripts/build.js and bin/facegate.js (through source-digest.js) load it
// before any TypeScript loader exists.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The folders whose runtime assets ship in dist/ (the ones tsconfig.build.json compiles). */
export const ASSET_DIRS = ['src', 'streams'];

/** A file that runs or is read at run time and is not TypeScript: everything but .ts and docs. */
export function isRuntimeAsset(name) {
  return !name.endsWith('.ts') && !name.endsWith('.md') && !name.startsWith('.');
}

/** Every file below `dir` whose name `keep` accepts, appended to `out` (a missing folder adds none). */
export function walk(dir, out, keep) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out, keep);
    else if (keep(e.name)) out.push(p);
  }
}

/** Runtime assets under `root` as paths relative to it (`src/ingest/gst-launch-stdin.py`), sorted. */
export function runtimeAssets(root) {
  const out = [];
  for (const d of ASSET_DIRS) walk(join(root, d), out, isRuntimeAsset);
  return out.map((p) => relative(root, p)).sort();
}

const REFERENCE = /moduleAsset\(\s*import\.meta\.url\s*,\s*(['"])([^'"]+)\1\s*\)/g;

/** Every `moduleAsset(import.meta.url, 'name')` in the sources: { module, asset } relative to root. */
export function referencedAssets(root) {
  const modules = [];
  for (const d of ASSET_DIRS) walk(join(root, d), modules, (n) => n.endsWith('.ts'));
  const refs = [];
  for (const m of modules.sort()) {
    const text = readFileSync(m, 'utf8');
    for (const match of text.matchAll(REFERENCE)) {
      refs.push({ module: relative(root, m), asset: join(dirname(relative(root, m)), match[2]) });
    }
  }
  return refs;
}

/** Copy every runtime asset from root into outDir at the same relative path; returns the count. */
export function copyAssets(root, outDir) {
  const assets = runtimeAssets(root);
  for (const a of assets) {
    mkdirSync(dirname(join(outDir, a)), { recursive: true });
    copyFileSync(join(root, a), join(outDir, a));
  }
  return assets.length;
}

/**
 * Referenced assets missing from outDir (each with the module that needs it and whether the
 * source copy exists, so the message says which side to fix). Empty when the build is whole.
 */
export function missingAssets(root, outDir) {
  return referencedAssets(root)
    .filter((r) => !existsSync(join(outDir, r.asset)))
    .map((r) => ({ ...r, inSources: existsSync(join(root, r.asset)) }));
}
