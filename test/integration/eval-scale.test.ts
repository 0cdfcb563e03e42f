/** eval at scale: 5,000 synthetic photos (12.5 M pairs) scored with bounded memory (seconds of CPU: kept out of the unit tier). */
import t from 'tap';
import { scoreEmbeddings, type RealMaskedPhoto } from '../../src/recognize/evaluate.ts';
import { syntheticGallery } from '../helpers/eval-data.ts';

t.test('scale: 5,000 photos (500 ids x 10) of 512-d embeddings score in seconds with bounded memory', async (t) => {
  const photos = syntheticGallery(500, 10, 512, 42);
  const strangers: RealMaskedPhoto[] = syntheticGallery(20, 1, 512, 7).map((p) => ({ file: p.file, identity: undefined, embedding: p.plain }));
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  const { report, scores } = scoreEmbeddings(photos, strangers);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  const rssMb = (peakRss - rss0) / 2 ** 20;
  t.comment(`5,000 photos: ${report.genuinePairs} genuine + ${report.impostorPairs} impostor pairs in ${seconds.toFixed(1)} s; RSS +${rssMb.toFixed(0)} MB peak, heap +${heapMb.toFixed(0)} MB`);
  t.equal(report.genuinePairs, 500 * 45);
  t.equal(report.impostorPairs, (5000 * 4999) / 2 - 500 * 45);
  t.equal(scores.impostor.length, report.impostorPairs, 'every impostor score kept (4 bytes each)');
  t.equal(report.people, 500);
  t.equal(report.probes, 4500);
  t.equal(report.rank1, 1, 'well-separated synthetic identities are all found');
  t.equal(report.masked.realMaskedStrangers, 20);
  t.equal(report.masked.realMaskedFalseAccepts, 0, 'no stranger accepted at the masked threshold');
  t.ok(seconds < 60, `computed in ${seconds.toFixed(1)} s (under a minute on 2 shared cores)`);
  t.ok(rssMb < 600, `RSS grew ${rssMb.toFixed(0)} MB (the old JS-array path grew past 3 GB at this size)`);
});
