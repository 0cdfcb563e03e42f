/**
 * Child process for the erasure kill -9 test: erases QUERY from the box CONFIG names, printing
 * `step <name>` after each step of the procedure; at PAUSE_STEP it stops there (blocks) so the
 * parent can kill it with SIGKILL at a known point.
 *
 * usage: node --import tsx test/helpers/privacy-erase-child.ts CONFIG QUERY PAUSE_STEP
 */
import { eraseIdentity } from '../../src/app/erasure.ts';
import { openBoxData } from '../../src/app/storage.ts';
import { loadConfig } from '../../src/config/index.ts';

const [configFile, query, pauseAt] = process.argv.slice(2);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const data = openBoxData(loadConfig(configFile));
await eraseIdentity(
  {
    ...data,
    publish: (e) => data.eventLog.append(e),
    onStep: (s) => {
      process.stdout.write(`step ${s}\n`);
      // Blocks the thread: nothing after this step runs until the parent's SIGKILL.
      if (s === pauseAt) for (;;) Atomics.wait(sleeper, 0, 0, 60_000);
    },
  },
  query,
  { actor: 'test:kill' },
);
data.close();
process.stdout.write('done\n');
