// The import graph of src/ and streams/: no cycles between folders or files, and layers that only
// import downward (src/lib <- stages <- src/pipeline <- streams/ <- the composition roots). Run by .ci/run
// (`node scripts/check-imports.js`); prints each cycle or upward import with the files that make
// it and exits 1. Plain JavaScript: it reads the sources as text (relative imports only; packages
// are outside the graph).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function walk(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The unit a file belongs to: its folder under src/ (`src/gates`), `src` for top-level files, or `streams`. */
export function unitOf(file) {
  const rel = relative(root, file).split('/');
  if (rel[0] === 'streams') return 'streams';
  return rel.length > 2 ? `src/${rel[1]}` : 'src';
}

/**
 * The layer of a unit: the shared plumbing and root files at the bottom, then the stages, then the
 * pipeline's vocabulary, then the composed streams, then the composition roots (the box, the hub,
 * the CLI, the demos). A unit imports only its own layer or lower ones.
 */
const LAYERS = { src: 0, 'src/lib': 0, 'src/pipeline': 2, streams: 3, 'src/app': 4, 'src/hub': 4, 'src/cli': 4, 'src/demo': 4 };
export function layerOf(unit) {
  return LAYERS[unit] ?? 1;
}

export function importGraph(files) {
  const edges = new Map();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const to = new Set();
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      // `import type` is erased at run time but still couples the folders: counted.
      to.add(resolve(dirname(f), spec));
    }
    edges.set(f, to);
  }
  return edges;
}

/** Strongly connected components with more than one member (Tarjan), on a Map<node, Set<node>>. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = [...walk(join(root, 'src'), []), ...walk(join(root, 'streams'), [])];
  const fileGraph = importGraph(files);
  // Folder graph: a cycle between folders is a cycle even when no single file loop closes.
  const unitGraph = new Map();
  const why = new Map();
  for (const [f, tos] of fileGraph) {
    const u = unitOf(f);
    if (!unitGraph.has(u)) unitGraph.set(u, new Set());
    for (const t of tos) {
      const v = unitOf(t);
      if (v === u) continue;
      unitGraph.get(u).add(v);
      const k = `${u} -> ${v}`;
      if (!why.has(k)) why.set(k, `${relative(root, f)} -> ${relative(root, t)}`);
    }
  }
  for (const u of [...unitGraph.values()].flatMap((s) => [...s])) if (!unitGraph.has(u)) unitGraph.set(u, new Set());
  const found = cycles(unitGraph);
  for (const scc of found) {
    const members = new Set(scc);
    console.error(`import cycle between ${scc.join(', ')}:`);
    for (const u of scc) for (const v of unitGraph.get(u)) if (members.has(v)) console.error(`  ${why.get(`${u} -> ${v}`)}`);
  }
  let upward = 0;
  for (const [f, tos] of fileGraph) {
    for (const t of tos) {
      if (layerOf(unitOf(t)) <= layerOf(unitOf(f))) continue;
      upward++;
      console.error(`upward import: ${relative(root, f)} (${unitOf(f)}) -> ${relative(root, t)} (${unitOf(t)}): a lower layer must not depend on a higher one`);
    }
  }
  const fileCycles = cycles(fileGraph);
  for (const scc of fileCycles) console.error(`file cycle: ${scc.map((f) => relative(root, f)).join(', ')}`);
  console.log(`imports: ${fileGraph.size} files, ${unitGraph.size} folders, ${found.length} folder cycles, ${fileCycles.length} file cycles, ${upward} upward imports`);
  process.exit(found.length || fileCycles.length || upward ? 1 : 0);
}
