/** Waiting, in one place: a plain delay and a condition poll (tests of real processes, demos, benches). */

/** Resolves after `ms`. `unref: true` lets the process exit while it waits (background retry loops). */
export function sleep(ms: number, opts: { readonly unref?: boolean } = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (opts.unref) timer.unref();
  });
}

/** Poll `cond` every `stepMs` until it holds; fail naming `what` after `timeoutMs`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 20): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
