import t from 'tap';
import { DecodeFeed, DEFAULT_DECODE_FEED, SizeBaseline, DEFAULT_SIZE_WAKE, type AccessUnit } from '../../src/ingest/decode-feed.ts';
import { buildPipeline, PipelineConfigError } from '../../src/ingest/pipeline.ts';
import { readsStdin } from '../../src/ingest/source.ts';
import { resegment } from '../../src/ingest/split-run.ts';
import { DetectionGate } from '../../src/motion/index.ts';

interface Au extends AccessUnit {
  readonly n: number;
}

/** A 10 fps stream, key frame every `gop` frames; delta frames of `idle` bytes unless `sizeAt` says otherwise. */
function stream(frames: number, opts: { gop?: number; idle?: number; sizeAt?: (n: number) => number | undefined } = {}): Au[] {
  const gop = opts.gop ?? 10;
  return Array.from({ length: frames }, (_, n) => ({ n, key: n % gop === 0, size: opts.sizeAt?.(n) ?? (n % gop === 0 ? 20_000 : (opts.idle ?? 300) + ((n * 37) % 50)) }));
}

t.test('SizeBaseline: no verdict before minSamples; a jump is judged against the idle median and spread', async (t) => {
  const b = new SizeBaseline(DEFAULT_SIZE_WAKE);
  t.equal(b.threshold(), undefined);
  t.notOk(b.isJump(1e9), 'an untrained baseline never wakes anything');
  for (let i = 0; i < 20; i++) b.add(300 + (i % 5) * 10);
  const th = b.threshold() ?? 0;
  t.ok(th >= 320 + DEFAULT_SIZE_WAKE.minBytes, 'a clean, static scene: at least minBytes above the median');
  t.notOk(b.isJump(1500), 'a slightly larger frame is not motion');
  t.ok(b.isJump(12_000), 'a frame with a person walking in is');
  // A noisy scene: the spread sets the bar, not minBytes.
  const noisy = new SizeBaseline(DEFAULT_SIZE_WAKE);
  for (let i = 0; i < 64; i++) noisy.add(20_000 + ((i * 7919) % 2000) - 1000);
  t.notOk(noisy.isJump(21_500), 'noise-sized swings do not wake');
  t.ok(noisy.isJump(40_000));
  t.ok((noisy.threshold() ?? 0) >= 30_000, 'ratio x median keeps a noisy scene from waking on a few hundred bytes');
});

t.test('DecodeFeed: awake forwards everything; idle for sleepAfterMs -> key frames only, at most one per keyframeEveryMs', async (t) => {
  const feed = new DecodeFeed<Au>({ ...DEFAULT_DECODE_FEED, sleepAfterMs: 2000, keyframeEveryMs: 1000 });
  const aus = stream(100, { gop: 5 });
  const forwarded: number[] = [];
  for (const au of aus) {
    const step = feed.push(au, au.n * 100, au.n < 10);
    forwarded.push(...step.forward.map((a) => a.n));
    t.equal(step.woke, undefined, `frame ${au.n}: nothing wakes a quiet stream`);
  }
  // Busy until frame 9 (900 ms), asleep from 2900 ms (frame 29) on.
  t.same(forwarded.filter((n) => n < 29), Array.from({ length: 29 }, (_, i) => i), 'every frame while awake');
  const asleep = forwarded.filter((n) => n >= 29);
  t.ok(asleep.every((n) => aus[n].key), 'asleep: key frames only');
  t.ok(asleep.length >= 6 && asleep.length <= 8, `one key frame per second at most (${asleep.join(',')})`);
  for (let i = 1; i < asleep.length; i++) t.ok(asleep[i] - asleep[i - 1] >= 10, 'at least 1000 ms apart');
  t.ok(feed.asleep);
});

t.test('DecodeFeed: a large delta frame wakes it with the group of pictures since the key frame; the chain can wake it too', async (t) => {
  const person = 63;
  const aus = stream(120, { gop: 10, sizeAt: (n) => (n >= person && n % 10 !== 0 ? 15_000 : undefined) });
  const feed = new DecodeFeed<Au>(DEFAULT_DECODE_FEED);
  let woke: { at: number; forward: number[]; reason: string | undefined } | undefined;
  const after: number[] = [];
  for (const au of aus) {
    const step = feed.push(au, au.n * 100, au.n < 5);
    if (step.woke && !woke) woke = { at: au.n, forward: step.forward.map((a) => a.n), reason: step.woke };
    else if (woke) after.push(...step.forward.map((a) => a.n));
  }
  t.same(woke, { at: person, forward: [61, 62, 63], reason: 'size' }, 'woken on the first large frame, catching up after key frame 60 (decoded while asleep)');
  t.same(after, Array.from({ length: 120 - person - 1 }, (_, i) => person + 1 + i), 'then every frame once, while the person moves (asleep again and woken at once: nothing sent twice)');

  const demand = new DecodeFeed<Au>(DEFAULT_DECODE_FEED);
  const quiet = stream(60, { gop: 10 });
  let byDemand: number[] | undefined;
  for (const au of quiet) {
    const step = demand.push(au, au.n * 100, au.n < 5 || au.n === 45);
    if (step.woke === 'demand') byDemand = step.forward.map((a) => a.n);
  }
  t.same(byDemand, [41, 42, 43, 44, 45], 'motion the chain saw in a decoded key frame wakes it: the frames after that key frame (the decoder has it)');
});

t.test('DecodeFeed: a key frame far above the idle key frames (an encoder\'s scene cut) wakes it; same-sized key frames do not', async (t) => {
  const feed = new DecodeFeed<Au>(DEFAULT_DECODE_FEED);
  const aus: Au[] = stream(80, { gop: 5 }).map((au) => (au.n === 63 ? { n: 63, key: true, size: 60_000 } : au));
  const wakes: { n: number; forward: number[] }[] = [];
  for (const au of aus) {
    const step = feed.push(au, au.n * 100, au.n < 5);
    if (step.woke) wakes.push({ n: au.n, forward: step.forward.map((a) => a.n) });
  }
  t.same(wakes[0], { n: 63, forward: [63] }, 'woken by the scene cut, which decodes on its own');
  t.equal(wakes.length, 1, 'the regular key frames (20 kB) never woke it');
});

t.test('DecodeFeed: nothing decodable before the first key frame; resync waits for the next one; a too-long GOP is dropped', async (t) => {
  const feed = new DecodeFeed<Au>({ ...DEFAULT_DECODE_FEED, sleepAfterMs: 0 });
  const lateKey = [{ n: 0, key: false, size: 300 }, { n: 1, key: false, size: 300 }, { n: 2, key: true, size: 20_000 }, { n: 3, key: false, size: 300 }];
  const seen = lateKey.map((au) => feed.push(au, au.n * 100, au.n === 1).forward.map((a) => a.n));
  t.same(seen, [[], [], [2], []], 'a wake with no key frame yet forwards nothing; the key frame is the first thing decoded');

  const r = new DecodeFeed<Au>(DEFAULT_DECODE_FEED);
  for (const au of stream(8, { gop: 10 })) r.push(au, au.n * 100, true);
  r.resync();
  t.same(r.push({ n: 8, key: false, size: 300 }, 800, true).forward, [], 'after a resync, delta frames wait for a key frame');
  t.same(r.push({ n: 10, key: true, size: 20_000 }, 1000, true).forward.map((a) => a.n), [10]);

  const small = new DecodeFeed<Au>({ ...DEFAULT_DECODE_FEED, sleepAfterMs: 0, maxGopBytes: 1000 });
  small.push({ n: 0, key: true, size: 600 }, 0, false);
  small.push({ n: 1, key: false, size: 600 }, 100, false);
  t.same(small.push({ n: 2, key: false, size: 300 }, 200, true).forward, [], 'the GOP outgrew maxGopBytes: nothing to catch up from until the next key frame');
});

t.test('DetectionGate.busy: tracks and motion keep a camera decoding, the warm-up does not; no motion gate means always busy', async (t) => {
  const gate = new DetectionGate({ motion: { enabled: true, keepAliveMs: 2000 }, interval: 1 });
  const still = { data: new Uint8Array(160 * 90 * 3).fill(120), width: 160, height: 90 };
  gate.observe(still);
  t.notOk(gate.busy(), 'warming up is not busy: the noise floors are learnt on key frames too');
  for (let i = 0; i < 40; i++) gate.observe(still);
  t.notOk(gate.busy(), 'learnt, nothing moves, nobody tracked');
  gate.tracked({ confirmed: ['cam:1'], tentative: 0, lost: 0 });
  t.ok(gate.busy(), 'a tracked face');
  gate.tracked({ confirmed: [], tentative: 0, lost: 0 });
  gate.observe({ ...still, data: new Uint8Array(160 * 90 * 3).fill(120).fill(10, 0, 160 * 30 * 3) });
  t.ok(gate.busy(), 'motion');
  t.ok(new DetectionGate({ motion: { enabled: false, keepAliveMs: 2000 }, interval: 1 }).busy());
});

t.test('buildPipeline idleDecode keyframes: a parse child and a stdin decode child; refused where no compressed stream exists', async (t) => {
  const p = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://cam.local/main' }, output: { fps: 5, detectSize: 640 }, idleDecode: { mode: 'keyframes' } });
  const split = p.split;
  if (!split) return t.fail('no split');
  t.same(split.parse.argv.slice(-8), ['rtph264depay', '!', 'h264parse', '!', 'video/x-h264,stream-format=byte-stream,alignment=au', '!', 'gdppay', '!', 'fdsink', 'fd=1', 'sync=false'].slice(-8));
  t.notOk(split.parse.elements.includes('avdec_h264'), 'the parse child decodes nothing');
  t.same(split.decode.argv.slice(0, 7), ['fdsrc', 'fd=0', '!', 'gdpdepay', '!', 'avdec_h264', 'max-threads=1']);
  t.ok(readsStdin(split.decode.argv));
  t.notOk(readsStdin(split.parse.argv));
  t.ok(split.decode.argv.includes('drop-only=true'), 'videorate never fills the gaps of an idle camera');
  t.same(p.detectView, { maxSide: 640 }, 'the decode child writes the detector copy');
  t.ok(p.elements.includes('gdpdepay') && p.elements.includes('rtspsrc'), 'both children are checked for their elements');
  t.ok(p.description.includes(' | '), 'the description shows both children');

  const secret = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://admin:pw@cam.local/main' }, idleDecode: { mode: 'keyframes' } });
  t.ok(secret.split?.parse.carriesSecrets, 'the parse child carries the password (stdin launcher)');
  t.notOk(secret.split?.decode.carriesSecrets, 'the decode child never sees it');
  t.notOk(secret.description.includes('pw'), 'redacted');

  t.equal(buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://cam.local/main' } }).split, undefined, 'idleDecode all (default): one child');
  t.throws(() => buildPipeline({ source: { kind: 'test' }, idleDecode: { mode: 'keyframes' } }), PipelineConfigError);
  t.throws(() => buildPipeline({ source: { kind: 'file', path: 'a.mp4' }, idleDecode: { mode: 'keyframes' } }), /codec named/);
  const file = buildPipeline({ source: { kind: 'file', path: 'a.mp4', codec: 'h264' }, idleDecode: { mode: 'keyframes' } }).split;
  t.ok(file?.parse.argv.includes('identity'), 'a file is paced in the parse child');
  t.notOk(file?.decode.argv.includes('identity'), 'and not again in the decode child');
});

t.test('resegment: a wake moves the segment start to the waking frame, running and stream time unchanged', async (t) => {
  const seg =
    'GstEventSegment, segment=(GstSegment)"segment, flags=(GstSegmentFlags)GST_SEGMENT_FLAG_NONE, rate=(double)1, applied-rate=(double)1, format=(GstFormat)time, base=(guint64)500, offset=(guint64)0, start=(guint64)1000, stop=(guint64)18446744073709551615, time=(guint64)200, position=(guint64)1000, duration=(guint64)18446744073709551615;";';
  const moved = resegment(seg, 5000) ?? '';
  t.match(moved, /start=\(guint64\)5000,/);
  t.match(moved, /base=\(guint64\)4500,/, 'running time of the waking frame: 5000 - 5000 + 4500 = 5000 - 1000 + 500, as before');
  t.match(moved, /time=\(guint64\)4200,/, 'stream time kept');
  t.match(moved, /position=\(guint64\)5000,/);
  t.match(moved, /stop=\(guint64\)18446744073709551615,/, 'the rest untouched (no precision lost on 64-bit values)');
  t.equal(resegment(seg, 800), seg, 'never moved backwards');
  t.equal(resegment('GstEventSegment, nothing-here;', 5000), undefined);
});
