/** Poll `cond` until it holds, or fail naming `what` after `timeoutMs` (tests of real processes). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 20): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
