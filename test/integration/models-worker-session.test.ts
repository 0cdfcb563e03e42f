/**
 * Model sessions hosted on their own thread (src/models/session-worker.js): the same outputs as a
 * session on the calling thread, clear errors for a broken model and a closed session, and an idle
 * worker never holds a process open. Real ONNX Runtime on a real (tiny) graph and on SCRFD.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import t from 'tap';
import { probeModel } from '../../src/app/doctor.ts';
import { isFacegateError } from '../../src/errors.ts';
import { openModelSession, resolveModel } from '../../src/models/index.ts';
import { PROJECT_ROOT } from '../../src/paths.ts';

const input = () => new ort.Tensor('float32', new Float32Array(3 * 16 * 16).map((_, i) => Math.sin(i)), [1, 3, 16, 16]);

t.test('a worker-hosted session gives exactly what a main-thread session gives', async (t) => {
  const model = probeModel();
  const main = await openModelSession(model, 'probe', { thread: 'main' });
  const worker = await openModelSession(model, 'probe', { thread: 'worker' });
  t.teardown(async () => {
    await main.release();
    await worker.release();
  });
  t.equal(worker.thread, 'worker');
  t.same(worker.outputNames, main.outputNames);
  const feeds = { x: input() };
  for (let i = 0; i < 3; i++) {
    const a = (await main.run(feeds)).y?.data as Float32Array;
    const b = (await worker.run(feeds)).y?.data as Float32Array;
    t.same(Array.from(b), Array.from(a), `run ${i + 1}: identical outputs (the pooled input buffer is reused)`);
  }
  t.equal((feeds.x.data as Float32Array).length, 3 * 16 * 16, "the caller's input buffer is untouched (not transferred away)");
});

t.test('SCRFD on a worker: the same raw outputs as on the main thread', async (t) => {
  const resolved = await resolveModel('scrfd_500m');
  const main = await openModelSession(resolved.path, 'scrfd_500m', { thread: 'main' });
  const worker = await openModelSession(resolved.path, 'scrfd_500m', { thread: 'worker' });
  t.teardown(async () => {
    await main.release();
    await worker.release();
  });
  const data = new Float32Array(3 * 320 * 320).map((_, i) => ((i * 7919) % 255) / 128 - 1);
  const feeds = { [resolved.entry.input.name]: new ort.Tensor('float32', data, [1, 3, 320, 320]) };
  const a = await main.run(feeds);
  const b = await worker.run(feeds);
  for (const name of main.outputNames) t.same(Array.from(b[name]?.data as Float32Array), Array.from(a[name]?.data as Float32Array), `output ${name}`);
});

t.test('errors: a broken model, a closed session', async (t) => {
  const err = await openModelSession(new Uint8Array([1, 2, 3, 4]), 'garbage', { thread: 'worker' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(isFacegateError(err) && err.code === 'MODEL_INVALID', 'garbage bytes: MODEL_INVALID');
  t.match(isFacegateError(err) ? err.message : '', /garbage/, 'naming the model');
  const s = await openModelSession(probeModel(), 'probe', { thread: 'worker' });
  await s.release();
  await t.rejects(s.run({ x: input() }), /probe.*closed/, 'a run after release says the session is closed');
  await s.release(); // twice is fine
});

t.test('an idle worker session does not keep the process alive', async (t) => {
  const dir = mkdtempSync(join(PROJECT_ROOT, '.tmp-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'idle.ts');
  writeFileSync(
    script,
    `import ort from 'onnxruntime-node';
import { probeModel } from '${PROJECT_ROOT}/src/app/doctor.ts';
import { openModelSession } from '${PROJECT_ROOT}/src/models/index.ts';
const s = await openModelSession(probeModel(), 'probe', { thread: 'worker' });
const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(768), [1, 3, 16, 16]) });
console.log('ran', out.y?.dims.join('x'));
// no release(): the process must still end on its own
`,
  );
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `exits 0 (${r.stderr.slice(-200)})`);
  t.match(r.stdout, /ran 1x4x14x14/, 'after running on the worker');
  t.ok(Date.now() - t0 < 60_000, 'and was not killed by the timeout');
});
