/** Pure cores of the ingest stage: pipeline builder, backoff, GDP parser, frame assembly, failure classes. */
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import {
  assembleRgbImage,
  buildPipeline,
  classifyExit,
  encodeUserinfo,
  droppedBetween,
  elementsOf,
  encodeGdpPacket,
  GdpParser,
  GdpProtocolError,
  parseVideoCaps,
  PipelineConfigError,
  refineConnectFailure,
  rgbStride,
  scrubSecrets,
  tokenizeLaunch,
  secretStringsOf,
  type GdpPacket,
  type VideoCaps,
} from '../../src/ingest/index.ts';
import { backoffDelay, backoffSchedule, DEFAULT_BACKOFF } from '../../src/lib/backoff.ts';

const CAM_URL = 'rtsp://admin:s3cr%40t@10.0.0.5:554/stream1';

t.test('pipeline builder: rtsp + cpu preset', async (t) => {
  const p = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL }, output: { width: 640, height: 480, fps: 10 } });
  t.same(p.argv.slice(0, 4), ['rtspsrc', `location=${CAM_URL}`, 'protocols=tcp', 'latency=0'], 'tcp and latency 0 by default');
  const s = p.argv.join(' ');
  t.match(s, /application\/x-rtp,media=video,encoding-name=H264 ! rtph264depay ! h264parse ! avdec_h264 ! videorate drop-only=true max-rate=10 ! videoconvert ! videoscale ! video\/x-raw,format=RGB,width=640,height=480 ! queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0 ! gdppay ! fdsink fd=1 sync=false$/);
  t.notMatch(p.description, /s3cr|admin/, 'no credentials in the description');
  t.match(p.description, /rtsp:\/\/\*\*\*@10\.0\.0\.5:554\/stream1/);
  t.same(p.elements, ['rtspsrc', 'rtph264depay', 'h264parse', 'avdec_h264', 'videorate', 'videoconvert', 'videoscale', 'queue', 'gdppay', 'fdsink']);
  t.equal(p.live, true);
  t.ok(p.argv.every((a) => a.length > 0), 'no empty argv entries');

  const udp = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, transport: 'udp', latencyMs: 200, codec: 'h265' } });
  t.match(udp.argv.join(' '), /protocols=udp latency=200 ! application\/x-rtp,media=video,encoding-name=H265 ! rtph265depay ! h265parse ! avdec_h265 ! videorate drop-only=true ! videoconvert/);
  const auto = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, codec: 'auto' } });
  t.match(auto.argv.join(' '), /media=video ! decodebin ! videorate/);
});

t.test('pipeline builder: jetson and nvdec presets', async (t) => {
  const jetson = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL }, decoder: 'jetson', output: { width: 1280, height: 720 } });
  t.match(
    jetson.argv.join(' '),
    /rtph264depay ! h264parse ! nvv4l2decoder ! videorate drop-only=true ! nvvidconv ! video\/x-raw,format=BGRx,width=1280,height=720 ! videoconvert ! video\/x-raw,format=RGB,width=1280,height=720 ! queue leaky=downstream/,
  );
  t.ok(jetson.elements.includes('nvv4l2decoder') && jetson.elements.includes('nvvidconv'));
  t.notMatch(jetson.description, /s3cr/);
  const jetson265 = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, codec: 'h265' }, decoder: 'jetson' });
  t.match(jetson265.argv.join(' '), /rtph265depay ! h265parse ! nvv4l2decoder/);
  const nvdec = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL }, decoder: 'nvdec' });
  t.match(nvdec.argv.join(' '), /h264parse ! nvh264dec ! videorate drop-only=true ! videoconvert ! videoscale ! video\/x-raw,format=RGB ! queue/);
  const nvdec265 = buildPipeline({ source: { kind: 'file', path: '/v/a b.mkv', codec: 'h265' }, decoder: 'nvdec' });
  t.match(nvdec265.argv.join(' '), /filesrc location=\/v\/a b\.mkv ! parsebin ! h265parse ! nvh265dec/);
  t.notMatch(nvdec265.argv.join(' '), /videoflip/, 'hardware decoders hand over device memory: no rotation element');
  t.match(nvdec265.description, /location="\/v\/a b\.mkv"/, 'description quotes paths with spaces');
  t.throws(() => buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, codec: 'auto' }, decoder: 'jetson' }), PipelineConfigError);
});

t.test('pipeline builder: openh264 preset (H.264 on the CPU, in system memory)', async (t) => {
  const rtsp = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL }, decoder: 'openh264', output: { rotate: 90 } });
  t.match(rtsp.argv.join(' '), /rtph264depay ! h264parse ! openh264dec ! videorate drop-only=true ! videoflip video-direction=90r ! videoconvert/, 'frames in system memory: rotate works');
  t.notMatch(rtsp.argv.join(' '), /avdec/);
  const file = buildPipeline({ source: { kind: 'file', path: '/v/a.mp4', codec: 'h264' }, decoder: 'openh264' });
  t.match(file.argv.join(' '), /parsebin ! h264parse ! openh264dec ! .*videoflip video-direction=auto/, "a file's rotation tag is applied");
  t.throws(() => buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, codec: 'h265' }, decoder: 'openh264' }), /H\.264 only/);
  t.throws(() => buildPipeline({ source: { kind: 'rtsp', url: CAM_URL, codec: 'auto' }, decoder: 'openh264' }), PipelineConfigError);
});

t.test('pipeline builder: custom decoder, file, test and override sources', async (t) => {
  const custom = buildPipeline({ source: { kind: 'rtsp', url: CAM_URL }, decoder: { custom: 'vaapih264dec ! vaapipostproc  format=nv12' } });
  t.match(custom.argv.join(' '), /h264parse ! vaapih264dec ! vaapipostproc format=nv12 ! videorate/);
  t.ok(custom.elements.includes('vaapih264dec') && custom.elements.includes('vaapipostproc'));

  const file = buildPipeline({ source: { kind: 'file', path: '/data/clip.mp4' } });
  t.match(file.argv.join(' '), /^filesrc location=\/data\/clip\.mp4 ! decodebin ! identity sync=true ! videoflip video-direction=auto ! videoconvert/, 'a file with no fps cap: no videorate (it would duplicate frames into timestamp gaps)');
  const capped = buildPipeline({ source: { kind: 'file', path: '/data/clip.mp4' }, output: { fps: 5 } });
  t.match(capped.argv.join(' '), /decodebin ! videorate max-rate=5 ! identity/, 'capped: videorate without drop-only (variable-rate files abort it)');
  t.equal(file.live, false);
  const fast = buildPipeline({ source: { kind: 'file', path: '/data/clip.mp4', realtime: false, lossless: true } });
  t.notMatch(fast.argv.join(' '), /identity/);
  t.match(fast.argv.join(' '), /queue max-size-buffers=1/);
  t.notMatch(fast.argv.join(' '), /leaky/, 'lossless: the queue blocks instead of dropping');

  const test = buildPipeline({ source: { kind: 'test', width: 320, height: 240, fps: 30, pattern: 'ball' } });
  t.match(test.argv.join(' '), /^videotestsrc is-live=true pattern=ball ! video\/x-raw,width=320,height=240,framerate=30\/1 ! videorate/);

  const override = buildPipeline({ source: { kind: 'pipeline', pipeline: 'v4l2src device=/dev/video0 ! image/jpeg ! jpegdec' } });
  t.match(override.argv.join(' '), /^v4l2src device=\/dev\/video0 ! image\/jpeg ! jpegdec ! videorate/);
  t.same(override.elements.slice(0, 2), ['v4l2src', 'jpegdec']);
  t.throws(() => buildPipeline({ source: { kind: 'pipeline', pipeline: 'videotestsrc ! gdppay ! fdsink' } }), PipelineConfigError);
  t.throws(() => buildPipeline({ source: { kind: 'rtsp', url: 'http://x/y' } }), PipelineConfigError);
  t.throws(() => buildPipeline({ source: { kind: 'test' }, output: { width: -1 } }), PipelineConfigError);
  t.throws(() => buildPipeline({ source: { kind: 'test', pattern: 'x ! fdsink' } }), PipelineConfigError);
});

t.test('tokenizer and element names', async (t) => {
  t.same(tokenizeLaunch(`filesrc location="/a b/c.mp4" ! decodebin name=d  d. ! 'video/x-raw, format=RGB'`), [
    'filesrc',
    'location=/a b/c.mp4',
    '!',
    'decodebin',
    'name=d',
    'd.',
    '!',
    'video/x-raw, format=RGB',
  ]);
  t.same(tokenizeLaunch('a\\ b c'), ['a b', 'c']);
  t.throws(() => tokenizeLaunch('a "b'), PipelineConfigError);
  t.same(elementsOf(['a', 'x=1', '!', 'video/x-raw', '!', 'b', '!', 't.', '!', 'c']), ['a', 'b', 'c']);
});

t.test('backoff: exponential, capped, jittered, forever', async (t) => {
  const opts = { baseMs: 100, maxMs: 5000, factor: 2, jitter: 0.5 };
  t.same(backoffSchedule(8, opts, () => 1), [100, 200, 400, 800, 1600, 3200, 5000, 5000], 'upper edge doubles then caps');
  t.same(backoffSchedule(3, opts, () => 0), [50, 100, 200], 'lower edge is half');
  t.equal(backoffDelay(1e9, opts, 1), 5000, 'huge attempt numbers stay capped');
  t.equal(backoffDelay(-3, opts, 1), 100, 'negative attempt = first');
  t.equal(backoffDelay(3, { ...opts, jitter: 0 }, 0.9), 800, 'no jitter = deterministic');
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(i, DEFAULT_BACKOFF, rand());
    const nominal = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** i);
    if (d < nominal / 2 || d > nominal) t.fail(`attempt ${i}: ${d} outside [${nominal / 2}, ${nominal}]`);
  }
  const spread = new Set(backoffSchedule(50, { ...opts, baseMs: 5000 }, rand));
  t.ok(spread.size > 10, 'jitter spreads reconnects of cameras that dropped together');
});

function parseAll(bytes: Uint8Array, chunkSizes: () => number, parser = new GdpParser()): GdpPacket[] {
  const packets: GdpPacket[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = Math.max(1, chunkSizes());
    parser.push(bytes.subarray(at, at + n), (p) => {
      // copy buffer payloads: the parser may hand out reused memory in other setups
      packets.push(p.kind === 'buffer' ? { ...p, data: new Uint8Array(p.data) } : p);
    });
    at += n;
  }
  if (!parser.idle) throw new Error('parser stopped inside a packet');
  return packets;
}

t.test('GDP parser: synthetic packets, any chunking', async (t) => {
  const caps = new TextEncoder().encode('video/x-raw, format=(string)RGB, width=(int)2, height=(int)1, framerate=(fraction)15/1\0');
  const px = new Uint8Array([1, 2, 3, 4, 5, 6, 0, 0]);
  const stream = new Uint8Array([
    ...encodeGdpPacket(64 + (40 << 8) + 14, new TextEncoder().encode('GstEventStreamStart, stream-id=(string)x;\0')),
    ...encodeGdpPacket(2, caps),
    ...encodeGdpPacket(1, px, { pts: 0, duration: 66_666_666, offset: 0 }),
    ...encodeGdpPacket(1, px, { pts: 2 ** 40, offset: 3 }),
    ...encodeGdpPacket(1, new Uint8Array(0), {}),
  ]);
  for (const size of [1, 7, 61, 62, 63, 1000, stream.length]) {
    const packets = parseAll(stream, () => size);
    t.equal(packets.length, 5, `chunks of ${size}`);
    t.same(packets.map((p) => p.kind), ['event', 'caps', 'buffer', 'buffer', 'buffer']);
    const [ev, c, b0, b1, b2] = packets;
    t.equal(ev.kind === 'event' && ev.eventNumber, 40);
    t.match(c.kind === 'caps' && c.caps, /^video\/x-raw, format=\(string\)RGB/);
    t.same(b0.kind === 'buffer' && [b0.pts, b0.duration, b0.offset, [...b0.data]], [0, 66_666_666, 0, [...px]]);
    t.same(b1.kind === 'buffer' && [b1.pts, b1.duration, b1.offset], [2 ** 40, undefined, 3], 'u64 none -> undefined');
    t.equal(b2.kind === 'buffer' && b2.data.length, 0);
  }
  let r = 1;
  t.equal(parseAll(stream, () => (r = (r * 31 + 7) % 97)).length, 5, 'random chunk sizes');
});

t.test('GDP parser: corrupt streams fail loudly and stay failed', async (t) => {
  const good = encodeGdpPacket(1, new Uint8Array(10), { pts: 5 });
  const flipped = new Uint8Array(good);
  flipped[12] ^= 0xff; // pts byte: CRC catches it
  t.throws(() => new GdpParser().push(flipped, () => {}), GdpProtocolError);
  const badVersion = new Uint8Array(good);
  badVersion[0] = 9;
  const parser = new GdpParser({ checkCrc: false });
  t.throws(() => parser.push(badVersion, () => {}), /bad version/);
  t.throws(() => parser.push(good, () => {}), GdpProtocolError, 'a desynced parser never resumes silently');
  const huge = encodeGdpPacket(1, new Uint8Array(0));
  new DataView(huge.buffer).setUint32(6, 2 ** 31, false);
  t.throws(() => new GdpParser({ checkCrc: false, maxPayloadBytes: 1 << 20 }).push(huge, () => {}), /too large/);
});

t.test('GDP parser on real gdppay output (gst-launch, padded 322-px rows)', async (t) => {
  const bytes = execFileSync(
    'gst-launch-1.0',
    ['-q', '-e', 'videotestsrc', 'num-buffers=4', 'pattern=ball', '!', 'video/x-raw,width=322,height=240,framerate=30/1', '!', 'videoconvert', '!', 'video/x-raw,format=RGB', '!', 'gdppay', '!', 'fdsink', 'fd=1'],
    { maxBuffer: 64 << 20 },
  );
  const packets = parseAll(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), () => 65536);
  const capsPacket = packets.find((p) => p.kind === 'caps');
  t.ok(capsPacket, 'caps arrive in-band');
  const caps = parseVideoCaps(capsPacket?.kind === 'caps' ? capsPacket.caps : '');
  t.same(caps, { format: 'RGB', width: 322, height: 240, fps: 30, stride: 968 });
  const buffers = packets.filter((p): p is Extract<GdpPacket, { kind: 'buffer' }> => p.kind === 'buffer');
  t.equal(buffers.length, 4);
  t.same(buffers.map((b) => b.offset), [0, 1, 2, 3]);
  t.same(buffers.map((b) => Math.round((b.pts ?? -1) / 1e6)), [0, 33, 67, 100], 'real PTS in ns');
  const image = assembleRgbImage(buffers[0].data, caps as VideoCaps);
  t.ok(!('error' in image) && image.data.length === 322 * 240 * 3, 'padding stripped');
});

t.test('caps parsing and frame assembly', async (t) => {
  t.equal(rgbStride(640), 1920);
  t.equal(rgbStride(322), 968);
  t.same(parseVideoCaps('video/x-raw,format=RGB,width=4,height=2'), { format: 'RGB', width: 4, height: 2, fps: undefined, stride: 12 });
  t.equal(parseVideoCaps('video/x-raw, format=(string)RGB, width=(int)4, height=(int)2, framerate=(fraction)0/1').hasOwnProperty('fps') && (parseVideoCaps('video/x-raw, format=(string)RGB, width=(int)4, height=(int)2, framerate=(fraction)0/1') as VideoCaps).fps, undefined, '0/1 = variable');
  t.match(parseVideoCaps('video/x-raw, format=(string)I420, width=(int)4, height=(int)2'), { error: /RGB/ });
  t.match(parseVideoCaps('video/x-raw(memory:NVMM), format=(string)RGB, width=(int)4, height=(int)2'), { error: /memory/ });
  t.match(parseVideoCaps('audio/x-raw, rate=(int)8000'), { error: /raw video/ });
  t.match(parseVideoCaps('video/x-raw, format=(string)RGB'), { error: /size/ });

  const caps = parseVideoCaps('video/x-raw, format=(string)RGB, width=(int)3, height=(int)2') as VideoCaps;
  t.equal(caps.stride, 12);
  const padded = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0xee, 0xee, 0xee, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0xee, 0xee, 0xee]);
  const img = assembleRgbImage(padded, caps);
  t.same(!('error' in img) && [...img.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  t.match(assembleRgbImage(new Uint8Array(5), caps), { error: /5 bytes/ });
  const packedCaps = parseVideoCaps('video/x-raw,format=RGB,width=4,height=1') as VideoCaps;
  const packed = new Uint8Array(12);
  const same = assembleRgbImage(packed, packedCaps);
  t.equal(!('error' in same) && same.data, packed, 'packed rows are not copied');

  t.equal(droppedBetween(undefined, 5), 0);
  t.equal(droppedBetween(4, 5), 0);
  t.equal(droppedBetween(4, 9), 4);
  t.equal(droppedBetween(9, 0), 0, 'counter restart is not a drop');
});

t.test('failure classification and credential scrubbing', async (t) => {
  const rtsp = { kind: 'rtsp' as const, url: CAM_URL };
  const err = (...lines: string[]) => classifyExit({ code: 1, signal: null, stderr: lines }, rtsp);
  const e401 = err('ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Unauthorized', 'Additional debug info:', '../gst/rtsp/gstrtspsrc.c(6899): gst_rtspsrc_send (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:', 'Unauthorized (401)');
  t.equal(e401.kind, 'unauthorized');
  t.notMatch(JSON.stringify(e401), /s3cr|admin/);
  t.equal(err('ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Not found', 'Not Found (404)').kind, 'not-found');
  t.equal(err('ERROR: from element /x: Could not open resource for reading and writing.', 'Failed to connect. (Generic error)').kind, 'connect-failed');
  t.equal(err('ERROR: from element /x: Internal data stream error.', 'streaming stopped, reason not-linked (-1)').kind, 'no-video');
  t.equal(err('WARNING: erroneous pipeline: no element "nvh264dec"').kind, 'missing-element');
  t.match(err('WARNING: erroneous pipeline: no element "nvh264dec"').message, /no element "nvh264dec"/);
  t.equal(err('WARNING: erroneous pipeline: could not link a to b').kind, 'bad-pipeline');
  const other = err('ERROR: from element /x: Something odd.', 'Additional debug info:', 'foo.c(1): f (): /x:', 'the detail');
  t.same([other.kind, other.message], ['error', 'rtsp://***@10.0.0.5:554/stream1: Something odd. (the detail)']);
  t.equal(classifyExit({ code: 0, signal: null, stderr: [] }, rtsp).kind, 'eos');
  t.equal(classifyExit({ code: null, signal: 'SIGSEGV', stderr: [] }, rtsp).kind, 'crashed');
  t.equal(classifyExit({ code: 1, signal: null, stderr: ['ERROR: from element /GstPipeline:pipeline0/GstFileSrc:filesrc0: Resource not found.'] }, { kind: 'file', path: '/x.mp4' }).message, '/x.mp4: file not found');

  const cf = err('ERROR: from element /x: Could not open resource for reading and writing.', 'Failed to connect. (Generic error)');
  t.equal(refineConnectFailure(cf, 'ECONNREFUSED', '10.0.0.5:554').kind, 'refused');
  t.equal(refineConnectFailure(cf, 'ENOTFOUND', 'cam:554').kind, 'unresolvable');
  t.equal(refineConnectFailure(cf, 'TIMEOUT', 'cam:554').kind, 'unreachable');
  t.equal(refineConnectFailure(cf, undefined, 'cam:554').kind, 'connect-failed');

  const secrets = secretStringsOf(CAM_URL);
  t.ok(secrets.includes('s3cr@t') && secrets.includes('s3cr%40t'), 'decoded and raw password');
  t.equal(scrubSecrets(`rtspsrc ${CAM_URL}: bad password s3cr@t for admin`, secrets), 'rtspsrc rtsp://***@10.0.0.5:554/stream1: bad password *** for ***');
  t.same(secretStringsOf('rtsp://cam/x'), []);
});

t.test('encodeUserinfo: user and password percent-encoded for rtspsrc, the rest untouched', async (t) => {
  t.equal(encodeUserinfo('rtsp://10.0.0.5:554/stream1'), 'rtsp://10.0.0.5:554/stream1', 'no userinfo: unchanged');
  t.equal(encodeUserinfo('rtsp://admin:P@ss@cam:554/s?x=1'), 'rtsp://admin:P%40ss@cam:554/s?x=1', 'a raw @ in the password (userinfo ends at the last @)');
  t.equal(encodeUserinfo('rtsp://admin:a:b%zz@cam/s'), 'rtsp://admin:a%3Ab%25zz@cam/s', 'a second colon and a stray % belong to the password');
  t.equal(encodeUserinfo('rtsp://admin:p%40ss@cam/s'), 'rtsp://admin:p%40ss@cam/s', 'already encoded: kept');
  t.equal(encodeUserinfo('rtsps://us er@cam/s'), 'rtsps://us%20er@cam/s', 'user only');
  const argv = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://admin:P@ss@cam/s' } }).argv;
  t.ok(argv.includes('location=rtsp://admin:P%40ss@cam/s'), 'the pipeline carries the encoded URL');
});
