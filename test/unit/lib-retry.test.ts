import t from 'tap';
import { backoffDelay, type BackoffOptions } from '../../src/lib/backoff.ts';
import { retry, retryUntil } from '../../src/lib/retry.ts';

const DOUBLING: BackoffOptions = { baseMs: 100, maxMs: 1000, factor: 2, jitter: 0 };

/** A sleep that records the delays asked for and returns at once (no timers in a unit test). */
function recorder(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** An attempt that fails `failures` times, then returns `value`. */
function failingThen<T>(failures: number, value: T): { calls: number[]; attempt: (n: number) => Promise<T> } {
  const calls: number[] = [];
  return {
    calls,
    attempt: async (n) => {
      calls.push(n);
      if (calls.length <= failures) throw new Error(`failure ${calls.length}`);
      return value;
    },
  };
}

t.test('retry: the value of the first success, a backoff wait after each failure, errors to onError', async (t) => {
  const { waits, sleep } = recorder();
  const { calls, attempt } = failingThen(4, 'done');
  const errors: string[] = [];
  const r = await retry(attempt, { backoff: DOUBLING, sleep, random: () => 0.5, onError: (e, n) => errors.push(`${n}: ${(e as Error).message}`) });
  t.same(r, { ok: true, value: 'done', attempts: 5 });
  t.same(calls, [0, 1, 2, 3, 4], 'attempt numbers count from 0');
  t.same(waits, [100, 200, 400, 800], 'one wait per failure, the backoff schedule');
  t.same(errors, ['0: failure 1', '1: failure 2', '2: failure 3', '3: failure 4']);
});

t.test('retry: a success at once never waits', async (t) => {
  const { waits, sleep } = recorder();
  const r = await retry(async () => 7, { backoff: DOUBLING, sleep });
  t.same(r, { ok: true, value: 7, attempts: 1 });
  t.same(waits, []);
});

t.test('retry: the delays are backoffDelay with the injected randomness (jitter), capped', async (t) => {
  const { waits, sleep } = recorder();
  const jittered: BackoffOptions = { baseMs: 250, maxMs: 2000, factor: 2, jitter: 0.5 };
  const randoms = [0, 0.999, 0.25, 0.5, 0.75, 0.1];
  let i = 0;
  const random = (): number => randoms[i++ % randoms.length];
  const { attempt } = failingThen(6, true);
  await retry(attempt, { backoff: jittered, sleep, random });
  t.same(waits, randoms.map((r, n) => backoffDelay(n, jittered, r)));
  t.same(waits, [125, 500, 625, 1500, 1750, 1100], 'doubling from 250 ms, capped at 2 s before the jitter');
  t.ok(waits.every((w) => w <= 2000), 'never above the cap');
});

t.test('retry: maxAttempts gives up without a last wait', async (t) => {
  const { waits, sleep } = recorder();
  const { calls, attempt } = failingThen(10, 'never');
  const r = await retry(attempt, { backoff: DOUBLING, sleep, maxAttempts: 5 });
  t.same(r, { ok: false, attempts: 5 });
  t.same(calls, [0, 1, 2, 3, 4]);
  t.same(waits, [100, 200, 400, 800]);
});

t.test('retry: stopped is checked before each attempt and before each wait', async (t) => {
  const { waits, sleep } = recorder();
  let closed = false;
  const calls: number[] = [];
  const r = await retry(
    async (n) => {
      calls.push(n);
      if (n === 2) closed = true;
      throw new Error('down');
    },
    { backoff: DOUBLING, sleep, stopped: () => closed },
  );
  t.same(r, { ok: false, attempts: 3 });
  t.same(calls, [0, 1, 2]);
  t.same(waits, [100, 200], 'no wait after the part stopped');

  const none = await retry(async () => t.fail('no attempt when already stopped'), { backoff: DOUBLING, sleep, stopped: () => true });
  t.same(none, { ok: false, attempts: 0 });

  // Stopped while waiting: no further attempt.
  let stop = false;
  let attempts = 0;
  const r2 = await retry(
    async () => {
      attempts++;
      throw new Error('down');
    },
    { backoff: DOUBLING, stopped: () => stop, sleep: async () => void (stop = true) },
  );
  t.same(r2, { ok: false, attempts: 1 });
  t.equal(attempts, 1);
});

t.test('retry: the default sleep really waits (tiny delays)', async (t) => {
  const { attempt } = failingThen(2, 'ok');
  // The default wait is unref'd (a background retry must not hold the process): keep this one alive.
  const keepAlive = setTimeout(() => undefined, 10_000);
  const t0 = performance.now();
  const r = await retry(attempt, { backoff: { baseMs: 15, maxMs: 15, factor: 1, jitter: 0 } });
  clearTimeout(keepAlive);
  t.ok(r.ok);
  t.ok(performance.now() - t0 >= 28, 'two waits of 15 ms');
});

t.test('retryUntil: false is a quiet failure, a thrown error goes to onError; true ends it', async (t) => {
  const { waits, sleep } = recorder();
  const answers: (boolean | Error)[] = [false, new Error('boom'), false, true];
  const errors: unknown[] = [];
  const ok = await retryUntil(
    async (n) => {
      const a = answers[n];
      if (a instanceof Error) throw a;
      return a;
    },
    { backoff: DOUBLING, sleep, onError: (e) => errors.push(e) },
  );
  t.equal(ok, true);
  t.same(waits, [100, 200, 400]);
  t.equal(errors.length, 1, 'only the thrown error is reported');
  t.equal((errors[0] as Error).message, 'boom');
});

t.test('retryUntil: false when the attempts run out or the part stops', async (t) => {
  const { waits, sleep } = recorder();
  t.equal(await retryUntil(async () => false, { backoff: DOUBLING, sleep, maxAttempts: 3 }), false);
  t.same(waits, [100, 200]);
  let n = 0;
  t.equal(await retryUntil(async () => (++n, false), { backoff: DOUBLING, sleep, stopped: () => n >= 2 }), false);
  t.equal(n, 2);
});
