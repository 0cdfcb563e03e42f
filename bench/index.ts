/** `npm run bench -- <name> [options]`: see bench/registry.ts. */
import { benchNames, runBench } from './registry.ts';

const [name, ...rest] = process.argv.slice(2);
if (!name || !benchNames.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${benchNames.join('|')}> [options]\n`);
  process.exit(2);
}
await runBench(name, rest);
