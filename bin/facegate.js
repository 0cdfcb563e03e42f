#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=1
// A V8 heap flag only works on node's command line (NODE_OPTIONS refuses it; setting it at run time
// has no effect), hence here and in package.json's start / bench scripts. No
// --initial-old-space-size: it kept fresh frames from starting full GCs; frames reuse their memory
// now (src/lib/frame-lease.ts), and V8's own small start saves ~10 MB at no measured CPU
// (docs/benchmarks.md).
// --max-semi-space-size=1: frames live outside the V8 heap (ArrayBuffers), so a small young
// generation costs no measured CPU and saves resident memory; MALLOC_ARENA_MAX=2 keeps glibc from
// giving each thread that allocates (ONNX Runtime, libuv, V8 helpers) its own malloc arena.
// MALLOC_MMAP_THRESHOLD_=131072: glibc otherwise raises its mmap threshold to the size of each
// large block freed, so after start-up the blocks ONNX Runtime and the frames use come from the heap,
// whose freed holes stay resident; a fixed threshold maps them and returns them when freed (gst
// children do not inherit it: src/ingest/source.ts).
// Together with ORT sessions without a memory pattern: ~60 MB less at one camera, ~70-100 MB less
// at four. --optimize-for-size saved ~5-10 MB more but cost an idle camera ~1 % of a core
// (docs/benchmarks.md).
// facegate is TypeScript. `npm run build` (run by scripts/setup.sh) compiles it to dist/ for a fast
// start; this entry point uses that build only when dist/BUILD.json names the digest of the sources
// as they are now, and otherwise runs the sources directly with tsx's ESM loader (development).
// FACEGATE_FROM_SOURCE=1 forces the sources, =0 requires the build.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceDigest } from '../scripts/source-digest.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let built = false;
if (process.env.FACEGATE_FROM_SOURCE !== '1') {
  try {
    const stamp = JSON.parse(readFileSync(join(root, 'dist/BUILD.json'), 'utf8'));
    built = stamp.sourceDigest === sourceDigest(root);
  } catch {
    built = false;
  }
}
if (!built && process.env.FACEGATE_FROM_SOURCE === '0') {
  // Asked for the compiled build explicitly (the startup bench): never measure tsx by mistake.
  process.stderr.write('facegate: dist/ is missing or older than the sources: run `npm run build`\n');
  process.exit(2);
}
if (built) {
  await import('../dist/src/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
