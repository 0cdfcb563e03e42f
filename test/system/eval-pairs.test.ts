import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import { assignFolds, bestThreshold, kFoldAccuracy, lfwPath, parseJsonPairs, parseLfwPairs, parsePairs } from '../../src/recognize/pairs.ts';
import { dataPath, readLabels } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/facegate.js', import.meta.url));

function facegate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('LFW pairs.txt: the 10-fold header form, the count header form and bare pair lines', async (t) => {
  const tenFold = ['2\t1', 'Abel_Pacheco\t1\t4', 'Abdel_Madi_Shabneh\t1\tDean_Barker\t1', 'Akhmed_Zakayev\t1\t3', 'Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1', ''].join('\n');
  const p = parseLfwPairs(tenFold, 'pairs.txt');
  t.same(p.map((x) => [x.same, x.fold]), [[true, 0], [false, 0], [true, 1], [false, 1]]);
  t.equal(p[0].a, 'Abel_Pacheco/Abel_Pacheco_0001.jpg');
  t.equal(p[0].b, 'Abel_Pacheco/Abel_Pacheco_0004.jpg');
  t.equal(p[1].b, 'Dean_Barker/Dean_Barker_0001.jpg');
  t.equal(lfwPath('X', 12), 'X/X_0012.jpg');

  const counted = parseLfwPairs('2\nA 1 2\nB 1 3\nA 1 B 2\nC 1 D 1\n');
  t.same(counted.map((x) => [x.same, x.fold]), [[true, 0], [true, 1], [false, 0], [false, 1]], 'one count: same pairs then different pairs, folds by stratified round robin');
  const bare = parseLfwPairs('A 1 2\r\nA 1 B 2\r\n\r\n');
  t.equal(bare.length, 2, 'no header, CRLF and blank lines');

  t.throws(() => parseLfwPairs('2 1\nA 1 2\nA 1 B 1\n', 'p.txt'), { code: 'BAD_ARGUMENT', message: /p\.txt:1: header promises 2 folds x 1 same \+ 1 different = 4 pairs, the file has 2/ });
  t.throws(() => parseLfwPairs('1 1\nA 1 2\nA 1 B 1\n', 'p.txt'), { message: /FOLDS \(>= 2\)/ });
  t.throws(() => parseLfwPairs('2 1\nA 1 B 1\nA 1 2\nA 1 2\nA 1 B 1\n', 'p.txt'), { message: /p\.txt:2: fold 1 should hold 1 same-person pairs then 1 different-person pairs/ });
  t.throws(() => parseLfwPairs('A 1 2\nA one B 2\n', 'p.txt'), { message: /p\.txt:2: cannot read "A one B 2" as a pair/, hint: /name1 n1 name2 n2/ });
  t.throws(() => parseLfwPairs('\n\n', 'p.txt'), { message: /no pairs/ });
});

t.test('JSON pair lists: with folds, without (assigned), and the errors', async (t) => {
  const withFolds = parseJsonPairs(JSON.stringify([{ a: 'x.jpg', b: 'y.jpg', same: true, fold: 3 }, { a: 'x.jpg', b: 'z.jpg', same: false, fold: 7 }]));
  t.same(withFolds.map((p) => p.fold), [3, 7]);
  const noFolds = parsePairs(JSON.stringify(Array.from({ length: 24 }, (_, i) => ({ a: `${i}a`, b: `${i}b`, same: i % 2 === 0 }))), 'p.json');
  t.same(noFolds.filter((p) => p.same).map((p) => p.fold), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  t.same(noFolds.filter((p) => !p.same).map((p) => p.fold), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  t.throws(() => parseJsonPairs('[{"a": "x", "b": "y", "same": "yes"}]', 'p.json'), { code: 'BAD_ARGUMENT', message: /p\.json: 0\.same/ });
  t.throws(() => parseJsonPairs('[{"a": "x", "b": "y", "same": true, "fold": 1}, {"a": "x", "b": "z", "same": false}]', 'p.json'), { message: /1 of 2 pairs have a fold/ });
  t.throws(() => parseJsonPairs('[', 'p.json'), { message: /not valid JSON/ });
  t.throws(() => parseJsonPairs('[]', 'p.json'), { message: /p\.json/ });
  t.same(assignFolds([{ same: true }, { same: false }], 2).map((p) => p.fold), [0, 0]);
});

t.test('best threshold: one sweep over sorted scores, midpoints, ties not split', async (t) => {
  const scores = [0.9, 0.8, 0.3, 0.2, 0.55];
  const same = [1, 1, 0, 0, 0];
  const b = bestThreshold(scores, same, [0, 1, 2, 3, 4]);
  t.equal(b.accuracy, 1);
  t.ok(Math.abs(b.threshold - (0.55 + 0.8) / 2) < 1e-12, `midpoint between 0.55 and 0.8: ${b.threshold}`);
  const tied = bestThreshold([0.5, 0.5, 0.1], [1, 0, 0], [0, 1, 2]);
  t.equal(tied.accuracy, 2 / 3, 'equal scores cannot be split');
  t.equal(bestThreshold([0.9, 0.8], [1, 1], [0, 1]).accuracy, 1, 'all accepted');
});

t.test('10-fold accuracy: each fold judged with the threshold chosen on the other nine', async (t) => {
  // Ten folds of 4 pairs: genuine 0.8 / 0.7, impostor 0.2 / 0.3 -> any threshold in (0.3, 0.7) is
  // perfect. Fold 0 is shifted down: genuine 0.45 / 0.40, impostor 0.05 / 0.10. Its own best
  // threshold would classify it perfectly, but the nine others choose (0.3 + 0.7) / 2 = 0.5, which
  // rejects both of fold 0's genuine pairs: 50% on fold 0, 100% elsewhere, mean 95%.
  const scores: number[] = [];
  const same: number[] = [];
  const folds: number[] = [];
  for (let f = 0; f < 10; f++) {
    const shifted = f === 0;
    for (const [s, g] of [[shifted ? 0.45 : 0.8, 1], [shifted ? 0.4 : 0.7, 1], [shifted ? 0.05 : 0.2, 0], [shifted ? 0.1 : 0.3, 0]] as const) {
      scores.push(s);
      same.push(g);
      folds.push(f);
    }
  }
  const r = kFoldAccuracy(Float32Array.from(scores), Uint8Array.from(same), Int32Array.from(folds));
  t.equal(r.folds.length, 10);
  t.equal(r.folds[0].accuracy, 0.5, 'fold 0 judged by the others');
  t.ok(Math.abs(r.folds[0].threshold - 0.5) < 1e-6, `fold 0 threshold ${r.folds[0].threshold}`);
  for (const f of r.folds.slice(1)) t.equal(f.accuracy, 1, `fold ${f.fold}`);
  t.ok(Math.abs(r.mean - 0.95) < 1e-12, `mean ${r.mean}`);
  t.ok(Math.abs(r.std - 0.15) < 1e-9, `std ${r.std}`);
  // Choosing the threshold on all the data, test fold included, would find one that is perfect
  // (between 0.3 and 0.4) and report 100%: the protocol must not.
  t.equal(bestThreshold(scores, same, scores.map((_, i) => i)).accuracy, 1, 'a threshold chosen with the test fold would hide the error');
  t.throws(() => kFoldAccuracy([0.1, 0.2], [1, 0], [0, 0]), { code: 'BAD_ARGUMENT', message: /at least 2 folds/ });
  t.throws(() => kFoldAccuracy([0.1], [1, 0], [0, 0]), RangeError);
});

t.test('facegate eval --pairs on LFW-style pairs derived from ../shared/data, with a ROC plot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-pairs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // LFW layout by symlink (no copies of the photos): DIR/<name>/<name>_000N.jpg -> the real file.
  const people = new Map<string, string[]>();
  for (const l of readLabels()) {
    if (l.category !== 'identity' || l.masked !== 'no' || !l.file.includes('faceapi_bbt')) continue;
    const list = people.get(l.identity) ?? [];
    list.push(l.file);
    people.set(l.identity, list);
  }
  const names = [...people.keys()].sort();
  t.ok(names.length >= 6, `${names.length} people`);
  for (const name of names) {
    mkdirSync(join(dir, 'photos', name), { recursive: true });
    people.get(name)?.forEach((f, i) => symlinkSync(dataPath(f), join(dir, 'photos', lfwPath(name, i + 1))));
  }
  // 2 folds x 6 same + 6 different (the View 2 header form, scaled down).
  const lines: string[] = ['2\t6'];
  for (let fold = 0; fold < 2; fold++) {
    for (let k = 0; k < 6; k++) {
      const name = names[(fold * 6 + k) % names.length];
      lines.push(`${name}\t${1 + fold}\t${3 + (k % 3)}`);
    }
    for (let k = 0; k < 6; k++) {
      const a = names[(fold * 6 + k) % names.length];
      const b = names[(fold * 6 + k + 1 + fold) % names.length];
      lines.push(`${a}\t${1 + (k % 5)}\t${b}\t${1 + ((k + 2) % 5)}`);
    }
  }
  lines.push(`${names[0]}\t1\t9`); // a photo that does not exist: reported, its pair left out
  writeFileSync(join(dir, 'pairs.txt'), `${lines.slice(0, -1).join('\n')}\n`);
  const plot = join(dir, 'roc.png');
  const r = await facegate(['eval', '--pairs', join(dir, 'pairs.txt'), '--data', join(dir, 'photos'), '--embedder', 'mobilefacenet_foamliu_128d', '--plot', plot]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /24 of 24 pairs scored \(12 same \/ 12 different\), 2 folds/);
  const acc = /2-fold accuracy ([\d.]+)%/.exec(r.stdout);
  t.ok(acc && Number(acc[1]) >= 90, `2-fold accuracy ${acc?.[1]}%`);
  t.match(r.stdout, /TAR@FAR 0\.001 \(pairs allow 8\.3e-2\): [\d.]+%/);
  t.match(r.stdout, /EER [\d.]+%/);
  const meta = await sharp(plot).metadata();
  t.same([meta.format, meta.width, meta.height], ['png', 800, 560]);

  // JSON form with a missing photo: named, its pair left out, the rest still scored.
  const json = [
    { a: lfwPath(names[0], 1), b: lfwPath(names[0], 2), same: true },
    { a: lfwPath(names[1], 1), b: lfwPath(names[1], 3), same: true },
    { a: lfwPath(names[0], 1), b: lfwPath(names[1], 1), same: false },
    { a: lfwPath(names[2], 1), b: lfwPath(names[3], 2), same: false },
    { a: lfwPath(names[0], 1), b: lfwPath(names[0], 9), same: true },
  ];
  writeFileSync(join(dir, 'pairs.json'), JSON.stringify(json));
  const j = await facegate(['eval', '--pairs', join(dir, 'pairs.json'), '--data', join(dir, 'photos'), '--embedder', 'mobilefacenet_foamliu_128d', '--json']);
  t.equal(j.code, 0, j.stderr);
  const rep = JSON.parse(j.stdout) as { pairs: number; scoredPairs: number; missing: string[]; kfold: { folds: unknown[] } };
  t.equal(rep.pairs, 5);
  t.equal(rep.scoredPairs, 4);
  t.same(rep.missing, [lfwPath(names[0], 9)]);
  t.equal(rep.kfold.folds.length, 2, 'folds assigned by stratified round robin (only 2 reachable with 2 pairs a class)');

  const badData = await facegate(['eval', '--pairs', join(dir, 'pairs.json'), '--data', join(dir, 'nowhere'), '--embedder', 'mobilefacenet_foamliu_128d']);
  t.equal(badData.code, 1);
  t.match(badData.stderr, /none of the 7 photos of the pair list is in .*nowhere[\s\S]*fix: point --data/);
  t.notMatch(badData.stderr, /\n\s+at /, 'no stack trace');
  writeFileSync(join(dir, 'broken.txt'), 'A 1 2\nA x\n');
  const broken = await facegate(['eval', '--pairs', join(dir, 'broken.txt'), '--data', join(dir, 'photos')]);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /broken\.txt:2: cannot read "A x" as a pair/);
});
