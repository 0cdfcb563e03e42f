/**
 * Child process for the re-embedding kill -9 test: re-embeds the gallery at DBPATH for EMBEDDER,
 * printing `progress <done> <total>` after each crop, `in-tx` from inside the write transaction
 * (every row written, before COMMIT; then it sleeps SLEEP_MS there so the parent can kill it) and
 * `committed <templates>` after.
 *
 * usage: node --import tsx test/helpers/gallery-reembed-child.ts DBPATH EMBEDDER SLEEP_MS
 */
import { openGallery } from '../../src/gallery/index.ts';
import { reembedGallery } from '../../src/recognize/index.ts';
import { createEmbedder } from '../../src/recognize/index.ts';

const [path, embedderName, sleepArg] = process.argv.slice(2);
const sleepMs = Number(sleepArg ?? 0);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
// Synchronous writes: the parent acts on these lines, they must not sit in a buffer.
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const gallery = openGallery(path, {
  create: false,
  beforeCommit: (op) => {
    if (op !== 'reembed') return;
    say('in-tx');
    if (sleepMs > 0) Atomics.wait(sleeper, 0, 0, sleepMs);
  },
});
const embedder = await createEmbedder(embedderName);
const summary = await reembedGallery(gallery, embedder, { onProgress: (p) => say(`progress ${p.done} ${p.total}`) });
say(`committed ${summary.templates}`);
await embedder.close();
gallery.close();
