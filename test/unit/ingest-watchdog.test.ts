/**
 * watchdogVerdict: when a camera run counts as stalled. The start timeout and the silent stream
 * (the rule every camera had), and a split run's decoder that is fed and gives nothing back: the
 * case a sleeping camera (idleDecode: keyframes) used to hide, its parsed stream counting as life.
 */
import t from 'tap';
import { DECODER_HOLD_MAX, forwardedTo, NOTHING_OWED, watchdogVerdict, type DecoderOwed, type WatchdogClock } from '../../src/ingest/watchdog.ts';

const LIMITS = { stallMs: 5000, startMs: 15_000 };
const up = (c: Partial<WatchdogClock> = {}): WatchdogClock => ({ runStartedAt: 0, upAt: 1000, lastLifeAt: 1000, lastFrameAt: 1000, owed: 0, owedSince: undefined, ...c });

t.test('before the first frame: only the start timeout', async (t) => {
  const starting = up({ upAt: undefined, lastLifeAt: 0, lastFrameAt: 0, owed: 40, owedSince: 100 });
  t.same(watchdogVerdict(starting, 14_999, LIMITS), { kind: 'ok' });
  t.same(watchdogVerdict(starting, 15_000, LIMITS), { kind: 'start-timeout' });
});

t.test('a silent stream stalls after stallMs since the last sign of life', async (t) => {
  t.same(watchdogVerdict(up(), 5999, LIMITS), { kind: 'ok' });
  t.same(watchdogVerdict(up(), 6000, LIMITS), { kind: 'stalled', cause: 'stream', silentMs: 5000, owed: 0 });
  // An awake split run whose decoder hangs: every unit is forwarded, so nothing after the last
  // frame was life; this rule catches it at stallMs, before the decoder rule would.
  const awakeHung = up({ owed: 24, owedSince: 1200 });
  t.match(watchdogVerdict(awakeHung, 6000, LIMITS), { kind: 'stalled', cause: 'stream', silentMs: 5000 });
});

t.test('asleep: access units parsed and not forwarded keep the stream alive between decoded key frames', async (t) => {
  // Key frames every 2 s since the last frame at 1000, each answered: nothing owed, life from parsing.
  t.same(watchdogVerdict(up({ lastLifeAt: 59_900, lastFrameAt: 58_000 }), 60_000, LIMITS), { kind: 'ok' });
  // Key frames far apart (idleKeyframeMs 60 s > stallMs): one owed for a minute is the decoder's delay.
  t.same(watchdogVerdict(up({ lastLifeAt: 119_900, lastFrameAt: 1000, owed: 1, owedSince: 61_000 }), 120_000, LIMITS), { kind: 'ok' });
  t.same(watchdogVerdict(up({ lastLifeAt: 119_900, lastFrameAt: 1000, owed: DECODER_HOLD_MAX, owedSince: 61_000 }), 120_000, LIMITS), { kind: 'ok' }, 'as many as a decoder may hold');
});

t.test('asleep: a decoder fed more than it may hold, the first stallMs ago, stalls the camera', async (t) => {
  // Hung right after the frame at 1000; key frames forwarded at 3000, 5000, 7000; the parse child
  // keeps lastLifeAt fresh.
  let d: DecoderOwed = NOTHING_OWED;
  for (const at of [3000, 5000, 7000]) d = forwardedTo(d, 1, at);
  t.same(d, { owed: 3, owedSince: 3000 });
  const clock = (now: number) => up({ lastLifeAt: now - 40, ...d });
  t.same(watchdogVerdict(clock(7999), 7999, LIMITS), { kind: 'ok' }, 'three owed, the first not yet stallMs ago');
  t.same(watchdogVerdict(clock(8000), 8000, LIMITS), { kind: 'stalled', cause: 'decoder', silentMs: 7000, owed: 3 }, 'silentMs: since the last frame out');
  // Two owed however long: a decoder that holds two lone key frames is slow, not hung.
  const two = forwardedTo(forwardedTo(NOTHING_OWED, 1, 3000), 1, 5000);
  t.same(watchdogVerdict(up({ lastLifeAt: 29_990, ...two }), 30_000, LIMITS), { kind: 'ok' });
});

t.test('a decoder whose input backed up (nothing more forwarded) still owes what it took', async (t) => {
  // A wake forwarded a group of pictures at 2000 and the decoder hung; split-run then forwards
  // nothing (its input is full) and the parsed units count as life.
  const d = forwardedTo(NOTHING_OWED, 30, 2000);
  t.same(watchdogVerdict(up({ lastLifeAt: 6990, ...d }), 7000, LIMITS), { kind: 'stalled', cause: 'decoder', silentMs: 6000, owed: 30 });
});

t.test('forwardedTo: counts units, keeps the first time; nothing forwarded changes nothing', async (t) => {
  t.equal(forwardedTo(NOTHING_OWED, 0, 500), NOTHING_OWED);
  const d = forwardedTo(forwardedTo(NOTHING_OWED, 12, 500), 1, 900);
  t.same(d, { owed: 13, owedSince: 500 });
  t.equal(forwardedTo(d, 0, 1000), d);
});
