// `npm run build`: compile the TypeScript sources to dist/ (tsc -p tsconfig.build.json, relative
// .ts imports rewritten to .js) and stamp the build with the digest of the sources it was made
// from. bin/facegate.js then starts from dist/ (no TypeScript loader: measured in the README).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyAssets, missingAssets } from './build-assets.js';
import { sourceDigest } from './source-digest.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const digestBefore = sourceDigest(root);
// --if-stale (scripts/setup.sh): nothing to do when dist/ was built from these very sources.
if (process.argv.includes('--if-stale')) {
  try {
    if (JSON.parse(readFileSync(join(root, 'dist/BUILD.json'), 'utf8')).sourceDigest === digestBefore) process.exit(0);
  } catch {
    // no build yet
  }
}
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: tsc failed; bin/facegate.js keeps running the sources with tsx');
  process.exit(1);
}
// The non-TypeScript files the code runs or reads (launcher, worker, schemas) beside their modules,
// then every one the code names must be there: a build without them starts and then fails cameras.
const copied = copyAssets(root, join(root, 'dist'));
const missing = missingAssets(root, join(root, 'dist'));
if (missing.length > 0) {
  for (const m of missing) {
    console.error(`build: ${m.module} needs ${m.asset}, which is not in dist/${m.inSources ? ' (it exists in the sources: check scripts/build-assets.js)' : ' nor in the sources: restore the file or fix the name'}`);
  }
  console.error('build: incomplete, not stamped; bin/facegate.js keeps running the sources with tsx');
  process.exit(1);
}
// A source edited while tsc ran would make the stamp lie: stamp only what was compiled.
if (sourceDigest(root) !== digestBefore) {
  console.error('build: sources changed during the build; run it again');
  process.exit(1);
}
writeFileSync(join(root, 'dist/BUILD.json'), `${JSON.stringify({ sourceDigest: digestBefore, builtAt: new Date().toISOString() }, null, 2)}\n`);
console.log(`build: dist/ compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s (${copied} runtime assets copied)`);
