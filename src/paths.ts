/**
 * Where the project's own files are (models/, config/, web/dist, .facegate/, the Python launcher
 * and the model worker): the repository root, found from this module whether it runs from src/
 * under tsx or from the compiled dist/src/ (`npm run build`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'facegate') return dir;
      } catch {
        // not ours; keep looking upwards
      }
    }
    if (dirname(dir) === dir) throw new Error(`facegate: no package.json named "facegate" above ${start}`);
  }
}

export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the project (the repository root). */
export const projectPath = (...parts: string[]): string => join(PROJECT_ROOT, ...parts);

/**
 * A runtime file that ships beside the module that uses it (the GStreamer launcher, the model
 * worker): resolved next to the calling module, so under dist/ it is the copy the build put there.
 * Call it with import.meta.url and a string literal: scripts/build-assets.js finds the calls by that
 * text and the build fails when a named file is absent from dist/.
 */
export const moduleAsset = (moduleUrl: string, name: string): string => fileURLToPath(new URL(name, moduleUrl));
