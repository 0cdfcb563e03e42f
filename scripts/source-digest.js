// A digest of the sources a compiled build (dist/) is made from: every .ts file's and every runtime
// asset's (scripts/build-assets.js) path, size and mtime under the compiled folders.
// bin/facegate.js runs dist/ only when dist/BUILD.json holds the digest of the sources as they are
// now, so an edited checkout never runs stale code.
// Plain JavaScript: bin/facegate.js reads it before any TypeScript loader exists.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { isRuntimeAsset, walk } from './build-assets.js';

/** The folders tsconfig.build.json compiles (bench and its test helpers ride along with src/cli). */
export const SOURCE_DIRS = ['src', 'streams', 'bench', 'test/helpers'];

export function sourceDigest(root) {
  const files = [];
  for (const d of SOURCE_DIRS) walk(join(root, d), files, (name) => name.endsWith('.ts') || isRuntimeAsset(name));
  files.sort();
  const h = createHash('sha256');
  for (const f of files) {
    const st = statSync(f);
    h.update(`${f.slice(root.length)}\0${st.size}\0${Math.round(st.mtimeMs)}\n`);
  }
  return h.digest('hex');
}
