/**
 * `npm run bench -- <name> [options]`. Benchmarks print ratios against the raw model time measured
 * in the same run; nothing here is asserted by tests.
 */
const [name, ...rest] = process.argv.slice(2);

const benches: Record<string, () => Promise<void>> = {
  detect: async () => (await import('./detect.ts')).runDetectBench(rest),
  ingest: async () => (await import('./ingest.ts')).runIngestBench(rest),
};

const run = name ? benches[name] : undefined;
if (!run) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]\n`);
  process.exit(2);
}
await run();
