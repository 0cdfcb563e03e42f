export async function runE2eBench(_a: readonly string[]): Promise<void> {}
