/**
 * The benchmarks `npm run bench -- NAME` and `facegate bench NAME` know. Each prints its figures
 * as ratios against the raw model (or raw operation) time measured in the same run; nothing here
 * is asserted by tests.
 */
const benches: Record<string, (args: readonly string[]) => Promise<void>> = {
  detect: async (args) => (await import('./detect.ts')).runDetectBench([...args]),
  ingest: async (args) => (await import('./ingest.ts')).runIngestBench([...args]),
  gallery: async (args) => (await import('./gallery.ts')).runGalleryBench(args),
  e2e: async (args) => (await import('./e2e.ts')).runE2eBench(args),
  motion: async (args) => (await import('./motion.ts')).runMotionBench(args),
  decode: async (args) => (await import('./decode.ts')).runDecodeBench(args),
  memory: async (args) => (await import('./memory.ts')).runMemoryBench(args),
  rss: async (args) => (await import('./rss.ts')).runRssBench(args),
  soak: async (args) => (await import('./soak.ts')).runSoakBench(args),
  startup: async (args) => (await import('./startup.ts')).runStartupBench(args),
  fleet: async (args) => (await import('./fleet.ts')).runFleetBench(args),
  providers: async (args) => (await import('./providers.ts')).runProvidersBench(args),
};

export const benchNames = Object.keys(benches);

export async function runBench(name: string, args: readonly string[]): Promise<void> {
  const run = benches[name];
  if (!run) throw new Error(`unknown benchmark "${name}" (known: ${benchNames.join(', ')})`);
  await run(args);
}
