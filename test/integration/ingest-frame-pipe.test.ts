/** Frame pipes (src/ingest/frame-pipe.ts): a child writes into a FIFO, read through one reused buffer. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FRAME_PIPE_READ_BYTES, openFramePipe } from '../../src/ingest/frame-pipe.ts';

// The pattern a child writes to its stdout (with cat: Node itself would switch its stdout to
// non-blocking, which gst-launch's fdsink does not).
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 11)) & 255;
  return b;
}

t.test('every byte a child writes arrives, in order, through one reused buffer; close after EOF', async (t) => {
  const pipe = openFramePipe();
  if (!pipe) throw new Error('no FIFO could be made (mkfifo missing?): facegate falls back to stdio pipes there');
  const n = 7_654_321;
  const dir = mkdtempSync(join(tmpdir(), 'fg-frame-pipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'frames.bin');
  writeFileSync(file, pattern(n));
  const child = spawn('cat', [file], { stdio: ['ignore', pipe.writeFd, 'inherit'] });
  pipe.handedOver();
  const hash = createHash('sha256');
  let bytes = 0;
  const buffers = new Set<ArrayBufferLike>();
  let maxChunk = 0;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve) => {
    pipe.start(
      (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        buffers.add(chunk.buffer);
        maxChunk = Math.max(maxChunk, chunk.length);
      },
      resolve,
    );
  });
  t.equal(await exited, 0, 'the writer exited cleanly');
  t.equal(bytes, n, 'all bytes read before close');
  t.equal(hash.digest('hex'), createHash('sha256').update(pattern(n)).digest('hex'), 'same bytes, same order');
  t.equal(buffers.size, 1, 'every chunk is a view of the one reused buffer');
  t.ok(maxChunk <= FRAME_PIPE_READ_BYTES, `reads of at most ${FRAME_PIPE_READ_BYTES} bytes (largest ${maxChunk})`);
});

t.test('destroy before the child is done: the reader closes, the writer gets EPIPE and ends', async (t) => {
  const pipe = openFramePipe();
  if (!pipe) throw new Error('no FIFO could be made (mkfifo missing?): facegate falls back to stdio pipes there');
  const child = spawn('cat', ['/dev/zero'], { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  pipe.handedOver();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let closed = false;
  let first: () => void = () => undefined;
  const gotData = new Promise<void>((resolve) => (first = resolve));
  pipe.start(
    () => first(),
    () => (closed = true),
  );
  await gotData;
  pipe.destroy();
  const code = await exited;
  t.not(code, 0, `the writer stopped on the closed pipe (exit ${code})`);
  await new Promise((r) => setImmediate(r));
  t.ok(closed, 'onClose ran');
});

t.test('a child that never writes: close right after it exits', async (t) => {
  const pipe = openFramePipe();
  if (!pipe) throw new Error('no FIFO could be made (mkfifo missing?): facegate falls back to stdio pipes there');
  const child = spawn('true', [], { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  pipe.handedOver();
  let bytes = 0;
  await new Promise<void>((resolve) => pipe.start((c) => (bytes += c.length), resolve));
  t.equal(bytes, 0);
  t.equal(child.exitCode ?? (await new Promise((r) => child.once('exit', r))), 0);
});
