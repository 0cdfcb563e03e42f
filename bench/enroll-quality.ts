/**
 * Measures the enrollment quality checks and 'not this person' anchors on ../shared/data (the good
 * enrollment photos: identities/*, one unmasked face): the distribution of inter-eye distance,
 * yaw, pitch and sharpness, then impostor pairs above the recognition threshold and what a negative
 * anchor from one photo of the impostor does to the impostor's other photos and to the identity's
 * own. Figures go to docs/benchmarks.md. Usage: npx tsx bench/enroll-quality.ts [--embedder M] [--json FILE]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_EMBEDDER } from '../src/config/index.ts';
import { createDetector } from '../src/detect/index.ts';
import { decodeImage } from '../src/image/decode.ts';
import { calibratedThresholds } from '../src/models/index.ts';
import { alignFace, createEmbedder, faceQuality, parseCsv } from '../src/recognize/index.ts';
import { dot } from '../src/lib/vectors.ts';
import { negativeAnchorVerdict } from '../src/gallery/negative-anchors.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const dataDir = resolve(arg('--data') ?? '../shared/data');
const embedderName = arg('--embedder') ?? DEFAULT_EMBEDDER;
const rows = parseCsv(readFileSync(join(dataDir, 'labels.csv'), 'utf8'));
const head = rows[0];
const col = (r: string[], c: string): string => r[head.indexOf(c)] ?? '';
const good = rows.slice(1).filter((r) => col(r, 'category') === 'identity' && col(r, 'masked') === 'no' && col(r, 'faces') === '1');

const detector = await createDetector({ tier: '2.5g', size: 640, padRetry: true });
const embedder = await createEmbedder(embedderName);
const threshold = calibratedThresholds(embedderName).unmasked;
interface Photo { file: string; identity: string; iod: number; yaw: number; pitch: number; roll: number; sharpness: number; faces: number; embedding: Float32Array }
const photos: Photo[] = [];
for (const r of good) {
  const file = col(r, 'file');
  const decoded = await decodeImage(join(dataDir, file), { maxSide: 1280 });
  const faces = (await detector.detect(decoded.image)).sort((a, b) => (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]) - (a.box[2] - a.box[0]) * (a.box[3] - a.box[1]));
  if (!faces[0]) {
    process.stderr.write(`no face: ${file}\n`);
    continue;
  }
  const { crop } = alignFace(decoded.image, faces[0].landmarks);
  const q = faceQuality(faces[0], crop);
  photos.push({ file, identity: col(r, 'identity'), iod: q.interOcular * decoded.scale, yaw: q.pose.yaw, pitch: q.pose.pitch, roll: q.pose.roll, sharpness: q.sharpness, faces: faces.length, embedding: await embedder.embed(crop) });
}
await detector.close();
await embedder.close();

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))))];
};
const dist = (xs: number[]) => ({ min: pct(xs, 0), p5: pct(xs, 5), p50: pct(xs, 50), p95: pct(xs, 95), max: pct(xs, 100) });
const quality = {
  photos: photos.length,
  interEyePx: dist(photos.map((p) => p.iod)),
  yaw: dist(photos.map((p) => p.yaw)),
  absYaw: dist(photos.map((p) => Math.abs(p.yaw))),
  pitch: dist(photos.map((p) => p.pitch)),
  absPitch: dist(photos.map((p) => Math.abs(p.pitch))),
  sharpness: dist(photos.map((p) => p.sharpness)),
};

// Impostor pairs above threshold; for each, anchor = one impostor photo, then the others.
const byId = new Map<string, Photo[]>();
for (const p of photos) byId.set(p.identity, [...(byId.get(p.identity) ?? []), p]);
const impostorPairs: { a: string; b: string; score: number }[] = [];
for (let i = 0; i < photos.length; i++) for (let j = i + 1; j < photos.length; j++) {
  if (photos[i].identity === photos[j].identity) continue;
  const s = dot(photos[i].embedding, photos[j].embedding);
  if (s >= threshold) impostorPairs.push({ a: photos[i].file, b: photos[j].file, score: s });
}
impostorPairs.sort((x, y) => y.score - x.score);
// Anchors: identity X enrolled from all its photos but one (held out as its own probe); impostor Y: one photo is the anchor, the others are probes.
const margins = [0, 0.02, 0.05, 0.08, 0.1, 0.15];
const trials: { identity: string; impostor: string; anchor: string; minGenuineLead: number; maxImpostorLead: number; before: { impostorMatches: number; impostorProbes: number; genuineMatches: number; genuineProbes: number }; after: Record<string, { impostorMatches: number; genuineMatches: number }> }[] = [];
const ids = [...byId.keys()];
for (const x of ids) for (const y of ids) {
  if (x === y) continue;
  const xs = byId.get(x) ?? [];
  const ys = byId.get(y) ?? [];
  if (xs.length < 2 || ys.length < 2) continue;
  for (const anchor of ys) {
    const probes = ys.filter((p) => p !== anchor);
    const bestTo = (probe: Photo, set: Photo[]): number => Math.max(...set.filter((p) => p !== probe).map((p) => dot(probe.embedding, p.embedding)));
    // Does the anchor itself match X wrongly? That is the case where an operator would press the button.
    if (bestTo(anchor, xs) < threshold) continue;
    const impostorBefore = probes.filter((p) => bestTo(p, xs) >= threshold).length;
    const genuineBefore = xs.filter((p) => bestTo(p, xs) >= threshold).length;
    const after: Record<string, { impostorMatches: number; genuineMatches: number }> = {};
    for (const m of margins) {
      const ok = (p: Photo): boolean => negativeAnchorVerdict(bestTo(p, xs), dot(p.embedding, anchor.embedding), threshold, m).matches;
      after[String(m)] = { impostorMatches: probes.filter(ok).length, genuineMatches: xs.filter(ok).length };
    }
    const leads = (set: Photo[]): number[] => set.filter((p) => bestTo(p, xs) >= threshold).map((p) => bestTo(p, xs) - dot(p.embedding, anchor.embedding));
    trials.push({ identity: x, impostor: y, anchor: anchor.file, minGenuineLead: Math.min(...leads(xs)), maxImpostorLead: Math.max(...leads(probes)), before: { impostorMatches: impostorBefore, impostorProbes: probes.length, genuineMatches: genuineBefore, genuineProbes: xs.length }, after });
  }
}
const outliers = photos.filter((p) => Math.abs(p.yaw) > 0.3 || Math.abs(p.pitch) > 0.25 || p.iod < 50 || p.sharpness < 500).map((p) => ({ file: p.file, iod: p.iod, yaw: p.yaw, pitch: p.pitch, sharpness: p.sharpness }));
const summary = { embedder: embedderName, threshold, quality, outliers, impostorPairs: impostorPairs.slice(0, 15), impostorPairCount: impostorPairs.length, trials };
const out = arg('--json');
if (out) writeFileSync(out, JSON.stringify(summary, null, 1));
process.stdout.write(`${JSON.stringify({ ...summary, trials: trials.length }, null, 1)}\n`);
for (const tr of trials) process.stdout.write(`${tr.identity} <- ${tr.impostor} anchor ${tr.anchor} (genuine lead >= ${tr.minGenuineLead.toFixed(3)}, impostor lead <= ${tr.maxImpostorLead.toFixed(3)}): before impostor ${tr.before.impostorMatches}/${tr.before.impostorProbes} genuine ${tr.before.genuineMatches}/${tr.before.genuineProbes}; after ${Object.entries(tr.after).map(([m, a]) => `m=${m}: ${a.impostorMatches}/${a.genuineMatches}`).join(' ')}\n`);
