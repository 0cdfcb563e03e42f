/**
 * Child process for the kill -9 test: enrolls identities `person-<n>` in a loop, each with
 * TEMPLATES templates of DIM dims, printing `begin n` before, `in-tx n` from inside the
 * transaction (after every row is written, before COMMIT, then optionally sleeping SLEEP_MS there
 * so the parent can kill it mid-transaction) and `committed n` after.
 *
 * usage: node --import tsx test/helpers/gallery-enroll-child.ts DBPATH START TEMPLATES DIM SLEEP_MS
 */
import { openGallery } from '../../src/gallery/index.ts';
import { randomUnit, template } from './gallery-data.ts';
import { mulberry32 } from '../../src/lib/random.ts';

const [path, startArg, templatesArg, dimArg, sleepArg] = process.argv.slice(2);
const start = Number(startArg ?? 0);
const perIdentity = Number(templatesArg ?? 200);
const dim = Number(dimArg ?? 128);
const sleepMs = Number(sleepArg ?? 0);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let current = start;

const say = (line: string): void => {
  // Synchronous write: the parent acts on these lines, they must not sit in a buffer.
  process.stdout.write(`${line}\n`);
};

const gallery = openGallery(path, {
  beforeCommit: (op) => {
    if (op !== 'enroll') return;
    say(`in-tx ${current}`);
    if (sleepMs > 0) Atomics.wait(sleeper, 0, 0, sleepMs);
  },
});
const rand = mulberry32(1000 + start);
for (let n = start; n < start + 100_000; n++) {
  current = n;
  const templates = Array.from({ length: perIdentity }, (_, i) => template(randomUnit(dim, rand), { masked: i % 2 === 1 }));
  say(`begin ${n}`);
  gallery.enroll({ name: `person-${n}`, templates });
  say(`committed ${n}`);
}
