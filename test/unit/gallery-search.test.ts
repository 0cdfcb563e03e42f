import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { openGallery, type Gallery, type GalleryOptions, type Match, type MaskRouting } from '../../src/gallery/index.ts';
import { cosine, near, randomUnit, template } from '../helpers/gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

/** What the gallery should contain, kept independently in plain JS. */
interface RefTemplate {
  identityId: string;
  masked: boolean;
  vector: Float32Array;
}

/** Brute-force reference: per-identity best cosine over the routed templates, top k. */
function bruteForce(ref: Map<string, RefTemplate>, probe: Float32Array, k: number, routing: MaskRouting): { identityId: string; score: number; templateId: string }[] {
  const best = new Map<string, { score: number; templateId: string }>();
  for (const [templateId, tp] of ref) {
    if (tp.masked && routing === 'plain') continue;
    const s = cosine(tp.vector, probe);
    const b = best.get(tp.identityId);
    if (!b || s > b.score) best.set(tp.identityId, { score: s, templateId });
  }
  return [...best]
    .map(([identityId, b]) => ({ identityId, ...b }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

function compare(t: Test, got: Match[], want: ReturnType<typeof bruteForce>, label: string): boolean {
  const ok = got.length === want.length && got.every((m, i) => m.identityId === want[i].identityId && m.templateId === want[i].templateId && Math.abs(m.score - want[i].score) < 1e-5);
  if (!ok) t.fail(`${label}\n got  ${got.map((m) => `${m.identityId}:${m.score.toFixed(5)}`).join(' ')}\n want ${want.map((m) => `${m.identityId}:${m.score.toFixed(5)}`).join(' ')}`);
  return ok;
}


/**
 * A random history of enrolls (1-4 templates, some masked, some look-alikes), removals of whole
 * identities and single templates, and template additions, mirrored in `ref`.
 */
function randomHistory(g: Gallery, seed: number, dim: number, steps: number): Map<string, RefTemplate> {
  const rand = mulberry32(seed);
  const ref = new Map<string, RefTemplate>();
  const ids: string[] = [];
  const centres: Float32Array[] = [];
  const sync = (identityId: string) => {
    for (const tp of g.listTemplates(identityId)) {
      if (!ref.has(tp.id)) ref.set(tp.id, { identityId, masked: tp.masked, vector: g.templateEmbedding(tp.id) });
    }
  };
  for (let step = 0; step < steps; step++) {
    const r = rand();
    if (r < 0.6 || ids.length < 10) {
      const centre = rand() < 0.2 && centres.length > 0 ? near(centres[Math.floor(rand() * centres.length)], 0.05, rand) : randomUnit(dim, rand);
      const n = 1 + Math.floor(rand() * 4);
      const templates = Array.from({ length: n }, (_, i) => template(i === 0 ? centre : near(centre, 0.08, rand), { masked: i > 0 && rand() < 0.5 }));
      const id = g.enroll({ name: `p${step}`, templates }).id;
      ids.push(id);
      centres.push(centre);
      sync(id);
    } else if (r < 0.75) {
      const [id] = ids.splice(Math.floor(rand() * ids.length), 1);
      g.remove(id);
      for (const [tid, tp] of ref) if (tp.identityId === id) ref.delete(tid);
    } else if (r < 0.9) {
      const id = ids[Math.floor(rand() * ids.length)];
      const tpls = g.listTemplates(id);
      if (tpls.length > 1) {
        const victim = tpls[Math.floor(rand() * tpls.length)].id;
        g.removeTemplate(victim);
        ref.delete(victim);
      }
    } else {
      const id = ids[Math.floor(rand() * ids.length)];
      g.addTemplates(id, [template(randomUnit(dim, rand), { masked: rand() < 0.5 })]);
      sync(id);
    }
  }
  return ref;
}

const variants: { label: string; opts: GalleryOptions }[] = [
  { label: 'int8 screening + exact re-score', opts: { search: { screenMinRows: 0 } } },
  { label: 'exact SIMD scan', opts: { search: { screenMinRows: Number.POSITIVE_INFINITY } } },
  { label: 'JS fallback (no WebAssembly SIMD)', opts: { search: { useSimd: false } } },
];

for (const { label, opts } of variants) {
  t.test(`search equals brute force after enrolls and removals, and after a rebuild: ${label}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-gallery-search-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'g.db');
    const dim = 96;
    const g = openGallery(path, opts);
    const ref = randomHistory(g, 31, dim, 1500);
    t.ok(ref.size > 1000, `${ref.size} templates after the history`);
    t.equal(g.stats().templates, ref.size, 'database agrees with the reference');
    const rand = mulberry32(77);
    const probes = Array.from({ length: 60 }, (_, i) => {
      const some = [...ref.values()][Math.floor(rand() * ref.size)];
      return i % 3 === 0 ? randomUnit(dim, rand) : near(some.vector, 0.05, rand);
    });
    const incremental: Match[][] = [];
    let ok = true;
    for (const [i, probe] of probes.entries()) {
      for (const routing of ['plain', 'plain+masked'] as const) {
        for (const k of [1, 5, 12]) {
          const got = g.search(probe, { modelId: 'test_128d', k, masked: routing });
          incremental.push(got);
          ok = compare(t, got, bruteForce(ref, probe, k, routing), `probe ${i} ${routing} k=${k}`) && ok;
        }
      }
    }
    t.ok(ok, `${probes.length * 6} searches equal brute force`);
    g.close();

    const rebuilt = openGallery(path, opts);
    t.teardown(() => rebuilt.close());
    const again: Match[][] = [];
    for (const probe of probes) for (const routing of ['plain', 'plain+masked'] as const) for (const k of [1, 5, 12]) again.push(rebuilt.search(probe, { modelId: 'test_128d', k, masked: routing }));
    t.same(
      again.map((ms) => ms.map((m) => [m.identityId, m.templateId])),
      incremental.map((ms) => ms.map((m) => [m.identityId, m.templateId])),
      'the index rebuilt from the file answers exactly like the incrementally updated one',
    );
  });
}
