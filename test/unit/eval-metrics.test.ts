import sharp from 'sharp';
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scoreEmbeddings, roundThresholdUp, type EmbeddedPhoto, type RealMaskedPhoto } from '../../src/recognize/evaluate.ts';
import { equalErrorRateSorted, rocCurve, ScoreBuffer, sortScores, tarAtFarSorted } from '../../src/recognize/metrics.ts';
import { ROC_MARGINS, rocSvg, writeRocPng } from '../../src/recognize/roc-plot.ts';
import { syntheticGallery } from '../helpers/eval-data.ts';

/** The original O(n*m) definitions, kept here as the reference the sorted sweeps must equal. */
function naiveTarAtFar(genuine: number[], impostor: number[], far: number): { threshold: number; tar: number } {
  const imp = [...impostor].sort((a, b) => b - a);
  const farUsed = Math.max(far, 1 / imp.length);
  const allowed = Math.floor(farUsed * imp.length + 1e-9);
  const threshold = imp[Math.min(allowed, imp.length - 1)];
  return { threshold, tar: genuine.filter((g) => g > threshold).length / genuine.length };
}
function naiveEer(genuine: number[], impostor: number[]): { eer: number; threshold: number } {
  const thresholds = [...new Set([...genuine, ...impostor])].sort((a, b) => a - b);
  let best = { eer: 1, threshold: 0, gap: Infinity };
  for (const th of thresholds) {
    const frr = genuine.filter((g) => g < th).length / genuine.length;
    const far = impostor.filter((i) => i >= th).length / impostor.length;
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { eer: (frr + far) / 2, threshold: th, gap };
  }
  return { eer: best.eer, threshold: best.threshold };
}

t.test('sorted-array TAR@FAR and EER equal the reference definitions (property, fixed seed)', async (t) => {
  const scores = fc.array(fc.integer({ min: -100, max: 100 }).map((v) => v / 100), { minLength: 1, maxLength: 60 });
  fc.assert(
    fc.property(scores, scores, fc.constantFrom(1e-3, 0.01, 0.1, 0.5), (g, i, far) => {
      const a = tarAtFarSorted(sortScores(g), sortScores(i), far);
      const b = naiveTarAtFar(g, i, far);
      const e1 = equalErrorRateSorted(sortScores(g), sortScores(i));
      const e2 = naiveEer(g, i);
      return a.threshold === b.threshold && a.tar === b.tar && e1.eer === e2.eer && e1.threshold === e2.threshold;
    }),
    { seed: 1313, numRuns: 400 },
  );
  const buf = new ScoreBuffer(16);
  for (let k = 0; k < 1000; k++) buf.push((k * 7919) % 1000 / 1000);
  const sorted = buf.sorted();
  t.equal(sorted.length, 1000, 'grows past its initial capacity');
  t.ok(sorted.every((v, k) => k === 0 || sorted[k - 1] <= v), 'sorted ascending');
  const roc = rocCurve(sortScores([0.9, 0.8, 0.7]), sortScores([0.1, 0.75, 0.2, 0.3]), 5);
  t.equal(roc.length, 5);
  t.equal(roc[0].far, 0.25, 'starts at the lowest resolvable FAR');
  t.equal(roc[roc.length - 1].tar, 1, 'ends with everything accepted');
  t.equal(roundThresholdUp(0.2501), 0.251);
  t.equal(roundThresholdUp(0.25), 0.25);
});

/** Random unit vectors around per-identity centres: genuine pairs close, impostors near orthogonal. */

t.test('scoreEmbeddings: the masked threshold is never below the best real masked stranger', async (t) => {
  const photos = syntheticGallery(30, 3, 64, 3);
  // A "stranger" that is in fact a near copy of id0's face: the synthetic impostors alone would let it in.
  const lookalike: RealMaskedPhoto = { file: 'masked/lookalike.jpg', identity: undefined, embedding: photos[0].maskedVariants[0] };
  const realPair: RealMaskedPhoto = { file: 'id1/masked.jpg', identity: 'id1', embedding: photos[4].maskedVariants[2] };
  const { report } = scoreEmbeddings(photos, [lookalike, realPair]);
  t.ok(report.masked.threshold >= report.masked.realStrangerMax, 'threshold >= best stranger score');
  t.ok(report.masked.realStrangerMax > report.masked.syntheticOnlyThreshold, 'the lookalike beats the synthetic-only threshold');
  t.equal(report.masked.realStrangersAcceptedAtSyntheticOnly, 1, 'which would have accepted it');
  t.equal(report.masked.realMaskedFalseAccepts, 0, 'the calibrated threshold accepts no real stranger');
  t.equal(report.masked.realPairs.length, 1);
  t.equal(report.masked.realPairs[0].identity, 'id1');
  t.ok(report.masked.realPairs[0].withMaskedTemplates >= report.masked.realPairs[0].plain);
  t.equal(report.recommended.masked, roundThresholdUp(report.masked.threshold));
});

t.test('ROC plot: a PNG of the expected size with both curves drawn in the plot area', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-roc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { scores } = scoreEmbeddings(syntheticGallery(40, 4, 32, 9, 1.2), []) // overlapping scores: curves inside the plot area, not along its top edge;
  const file = join(dir, 'roc.png');
  const series = [
    { label: 'unmasked', colour: '#1f77b4', genuine: scores.genuine, impostor: scores.impostor },
    { label: 'masked <synthetic>', colour: '#d62728', genuine: scores.maskedGenuine, impostor: scores.maskedImpostor },
  ];
  t.match(rocSvg(series), /masked &lt;synthetic&gt;/, 'labels are escaped');
  await writeRocPng(file, series, { title: 'test' });
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  t.same([info.width, info.height], [800, 560]);
  const count = (r: number, g: number, b: number): number => {
    let n = 0;
    for (let y = ROC_MARGINS.top + 2; y < info.height - ROC_MARGINS.bottom - 2; y++) {
      for (let x = ROC_MARGINS.left + 2; x < info.width - ROC_MARGINS.right - 2; x++) {
        const i = (y * info.width + x) * info.channels;
        if (Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40 && Math.abs(data[i + 2] - b) < 40) n++;
      }
    }
    return n;
  };
  const blue = count(0x1f, 0x77, 0xb4);
  const red = count(0xd6, 0x27, 0x28);
  t.ok(blue > 300, `unmasked curve drawn (${blue} px)`);
  t.ok(red > 300, `masked curve drawn (${red} px)`);
  const empty = join(dir, 'empty.png');
  await writeRocPng(empty, []);
  const e = await sharp(empty).raw().toBuffer({ resolveWithObject: true });
  let coloured = 0;
  for (let i = 0; i < e.data.length; i += e.info.channels) if (Math.abs(e.data[i] - e.data[i + 2]) > 60) coloured++;
  t.equal(coloured, 0, 'no curve, no coloured pixels: the count above measures the curves');
  await t.rejects(writeRocPng(join(dir, 'no/such/dir/roc.png'), series), { code: 'BAD_ARGUMENT', hint: /writable folder/ });
});
