/**
 * Pure cores of the API limits: the per-address failure window, the log line budget, the
 * connection budget, node timeout settings from server.limits, the rate-limited log (with a
 * captured pino stream and a fake clock), and the temp-path scrubbing of upload errors.
 */
import t from 'tap';
import { ConnectionBudget, httpTimeouts } from '../../src/api/limits.ts';
import { FailureWindow, LineBudget, RateLimitedLog } from '../../src/api/rate-limit.ts';
import { withoutPath } from '../../src/app/identities.ts';
import { captureLog } from '../helpers/api-net.ts';

t.test('FailureWindow: blocks at the limit, Retry-After counts down to the oldest failure leaving the window', async (t) => {
  const w = new FailureWindow(3, 60_000);
  t.equal(w.retryAfterSeconds('a', 0), 0);
  t.equal(w.record('a', 0), 1);
  t.equal(w.record('a', 10_000), 2);
  t.equal(w.retryAfterSeconds('a', 10_000), 0, 'below the limit');
  t.equal(w.record('a', 20_000), 3);
  t.equal(w.retryAfterSeconds('a', 20_000), 40, 'blocked until the first failure is 60 s old');
  t.equal(w.retryAfterSeconds('a', 59_999), 1, 'at least one second');
  t.equal(w.retryAfterSeconds('a', 60_000), 0, 'free once it left the window');
  t.equal(w.retryAfterSeconds('b', 20_000), 0, 'other keys unaffected');
  t.equal(w.record('a', 60_001), 3, 'two still in the window plus this one');
  t.equal(w.retryAfterSeconds('a', 60_001), 10, 'now the 10 s failure is the oldest');
  t.equal(w.retryAfterSeconds('a', 200_000), 0);
  t.equal(w.size, 0, 'a key with nothing in the window is forgotten');
  t.throws(() => new FailureWindow(0, 1000), RangeError);
});

t.test('FailureWindow: memory bounded in keys and per key', async (t) => {
  const w = new FailureWindow(2, 60_000, 100);
  for (let i = 0; i < 1000; i++) w.record(`10.0.${i >> 8}.${i & 255}`, i);
  t.equal(w.size, 100, 'at most maxKeys addresses');
  t.equal(w.retryAfterSeconds('10.0.3.231', 1000), 0, 'the most recent keys are kept (1 failure each)');
  for (let i = 0; i < 1000; i++) w.record('x', 1000 + i);
  t.equal(w.record('x', 3000), 2, 'at most limit timestamps per key');
});

t.test('LineBudget: N lines per window, the suppressed count reported once when the window ends', async (t) => {
  const b = new LineBudget(2, 1000);
  t.same(b.take(0), { write: true, endedSuppressed: 0 });
  t.same(b.take(1), { write: true, endedSuppressed: 0 });
  t.same(b.take(2), { write: false, endedSuppressed: 0 });
  t.same(b.take(3), { write: false, endedSuppressed: 0 });
  t.same(b.take(1000), { write: true, endedSuppressed: 2 }, 'the next window reports the 2 suppressed');
  t.same(b.take(1001), { write: true, endedSuppressed: 0 });
  t.same(b.take(1002), { write: false, endedSuppressed: 0 });
  t.equal(b.flush(), 1);
  t.same(b.take(5000), { write: true, endedSuppressed: 0 }, 'flushed counts are not reported twice');
});

t.test('RateLimitedLog: a flood of 2,000 lines is N lines plus one summary per window', async (t) => {
  let now = 0;
  const cap = captureLog();
  const suppressedTopics: string[] = [];
  const log = new RateLimitedLog(cap.logger, { maxLines: 5, windowMs: 60_000, now: () => now, onSuppressed: (topic) => suppressedTopics.push(topic) });
  for (let i = 0; i < 2000; i++) log.write('bad', 'warn', { i }, 'bad thing');
  log.write('other', 'info', {}, 'another topic has its own budget');
  t.equal(cap.lines().length, 6, '5 of the flood + 1 of the other topic');
  now = 60_000;
  log.write('bad', 'warn', { i: 2000 }, 'bad thing');
  const lines = cap.lines();
  t.match(lines[6], { topic: 'bad', suppressed: 1995, level: 40 }, 'the summary of the window');
  t.match(lines[7], { topic: 'bad', i: 2000 });
  t.equal(suppressedTopics.length, 1995);
  for (let i = 0; i < 10; i++) log.write('bad', 'warn', {}, 'again');
  log.close();
  t.match(cap.lines().at(-1), { topic: 'bad', suppressed: 6 }, 'close writes the pending summary');
});

t.test('RateLimitedLog: the summary comes when the window ends even if the flood stopped', async (t) => {
  const cap = captureLog();
  const log = new RateLimitedLog(cap.logger, { maxLines: 1, windowMs: 100 });
  for (let i = 0; i < 50; i++) log.write('x', 'warn', {}, 'line');
  t.equal(cap.lines().length, 1);
  await new Promise((r) => setTimeout(r, 250));
  t.match(cap.lines()[1], { topic: 'x', suppressed: 49 });
  log.close();
});

t.test('ConnectionBudget: total and per-address caps, release frees the slot', async (t) => {
  const b = new ConnectionBudget(3, 2);
  t.same(b.admit('a'), { ok: true });
  t.same(b.admit('a'), { ok: true });
  t.same(b.admit('a'), { ok: false, reason: 'max-per-address' });
  t.same(b.admit('b'), { ok: true });
  t.same(b.admit('c'), { ok: false, reason: 'max-connections' });
  t.equal(b.open, 3);
  b.release('a');
  t.same(b.admit('c'), { ok: true });
  b.release('nobody');
  t.equal(b.open, 3, 'releasing an unknown address changes nothing');
  for (const k of ['a', 'b', 'c']) b.release(k);
  t.equal(b.open, 0);
  t.equal(b.addresses, 0);
});

t.test('httpTimeouts: headers within the request timeout; a checking interval fine enough for the limit', async (t) => {
  t.same(httpTimeouts({ maxConnections: 1, maxConnectionsPerAddress: 1, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, idleTimeoutMs: 5000, authFailuresPerMinute: 1 }), { headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000 });
  t.same(httpTimeouts({ maxConnections: 1, maxConnectionsPerAddress: 1, headersTimeoutMs: 5000, requestTimeoutMs: 1000, idleTimeoutMs: 100, authFailuresPerMinute: 1 }), { headersTimeout: 1000, requestTimeout: 1000, keepAliveTimeout: 100, connectionsCheckingInterval: 250 });
  t.equal(httpTimeouts({ maxConnections: 1, maxConnectionsPerAddress: 1, headersTimeoutMs: 100, requestTimeoutMs: 100, idleTimeoutMs: 100, authFailuresPerMinute: 1 }).connectionsCheckingInterval, 50);
});

t.test('withoutPath: the temp file and its folder are replaced by the upload label', async (t) => {
  const file = '/tmp/facegate-upload-AbC123/photo';
  const dir = '/tmp/facegate-upload-AbC123';
  t.equal(withoutPath(`6 faces in ${file}; enrollment needs one`, file, dir, 'the uploaded photo'), '6 faces in the uploaded photo; enrollment needs one');
  t.equal(withoutPath(`cannot open ${dir}/x and ${file}`, file, dir, 'U'), 'cannot open U/x and U');
  t.equal(withoutPath('nothing to hide', file, dir, 'U'), 'nothing to hide');
});
