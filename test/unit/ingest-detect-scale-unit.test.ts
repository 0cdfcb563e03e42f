/** Detector copy (cameras[].detectScale): pipeline argv per preset, launch stdio, pairing, face mapping. Pure. */
import t from 'tap';
import { detectionSource, scaleFaceToFull } from '../../src/detect/index.ts';
import { buildPipeline, DETECT_VIEW_FD, FramePairer, launchPlan, pairKey, PipelineConfigError } from '../../src/ingest/index.ts';
import type { Face, RgbImage } from '../../src/types.ts';

const rtsp = { kind: 'rtsp', url: 'rtsp://cam.example:554/s' } as const;

/** The argv split at the tee's second branch (`facegate_split.`): [main chain, detector branch]. */
function branches(argv: readonly string[]): [string[], string[]] {
  const i = argv.indexOf('facegate_split.');
  return i < 0 ? [[...argv], []] : [argv.slice(0, i), argv.slice(i + 1)];
}

t.test('cpu preset: tee after videorate, full-res RGB to fd 1, videoscale copy to fd 3', async (t) => {
  const p = buildPipeline({ source: rtsp, output: { fps: 5, detectSize: 640 } });
  const [main, copy] = branches(p.argv);
  t.ok(copy.length > 0, 'a second branch');
  t.same(p.detectView, { maxSide: 640 });
  const rate = main.indexOf('videorate');
  const tee = main.indexOf('tee');
  t.ok(main.indexOf('avdec_h264') < rate && rate < tee, 'decoder, then videorate, then the tee');
  t.same(main.slice(tee - 6, tee), ['queue', 'leaky=downstream', 'max-size-buffers=1', 'max-size-bytes=0', 'max-size-time=0', '!'], 'one leaky queue before the split: both branches drop the same frames');
  t.equal(main.filter((a) => a === 'leaky=downstream').length, 1);
  t.equal(main[tee + 1], 'name=facegate_split');
  t.same(main.slice(tee + 2, tee + 5), ['!', 'queue', 'max-size-buffers=1'], 'the full-res branch has its own (blocking) queue: its own thread');
  t.same(main.slice(-5), ['gdppay', '!', 'fdsink', 'fd=1', 'sync=false']);
  t.equal(main.filter((a) => a.startsWith('video/x-raw,format=RGB')).length, 1);
  t.equal(main.find((a) => a.startsWith('video/x-raw,format=RGB')), 'video/x-raw,format=RGB', 'full frame at the stream size');
  t.equal(copy[0], '!');
  t.same(copy.slice(1, 3), ['queue', 'max-size-buffers=1'], 'the copy has its own queue, not leaky');
  t.notOk(copy.includes('leaky=downstream'));
  t.ok(copy.indexOf('videoscale') < copy.indexOf('videoconvert'), 'scaled before the colour conversion (convert the small image)');
  t.ok(copy.includes('video/x-raw,format=RGB,width=[1,640],height=[1,640],pixel-aspect-ratio=1/1'), 'long side <= 640, aspect kept, never upscaled');
  t.same(copy.slice(-5), ['gdppay', '!', 'fdsink', `fd=${DETECT_VIEW_FD}`, 'sync=false']);
  t.equal(DETECT_VIEW_FD, 3);
  t.ok(p.elements.includes('tee') && p.elements.includes('videoscale'));
  t.notOk(p.elements.some((e) => e.includes('.')), 'the pad reference is not an element');
  t.match(p.description, /tee name=facegate_split .* facegate_split\. ! queue /);
});

t.test('jetson preset: nvvidconv scales the copy on the VIC; nvdec and custom use videoscale', async (t) => {
  const j = buildPipeline({ source: rtsp, decoder: 'jetson', output: { detectSize: 480 } });
  const [main, copy] = branches(j.argv);
  t.ok(main.indexOf('nvv4l2decoder') < main.indexOf('videorate') && main.indexOf('videorate') < main.indexOf('tee'));
  t.ok(main.includes('nvvidconv'), 'full frame still converted by nvvidconv');
  t.same(
    copy.filter((a) => a !== '!').slice(4),
    ['nvvidconv', 'video/x-raw,format=BGRx,width=[1,480],height=[1,480],pixel-aspect-ratio=1/1', 'videoconvert', 'video/x-raw,format=RGB', 'gdppay', 'fdsink', 'fd=3', 'sync=false'],
  );
  t.notOk(copy.includes('videoscale'), 'no CPU scaling on jetson');
  t.ok(j.elements.includes('nvvidconv'));

  const n = buildPipeline({ source: rtsp, decoder: 'nvdec', output: { detectSize: 320 } });
  t.ok(branches(n.argv)[1].includes('videoscale'));
  t.ok(branches(n.argv)[0].includes('nvh264dec'));
  const c = buildPipeline({ source: rtsp, decoder: { custom: 'vaapih264dec ! vaapipostproc' }, output: { detectSize: 320 } });
  t.ok(branches(c.argv)[1].includes('videoscale'));
});

t.test('no copy: option unset, or output already at or below the detector size; bad sizes rejected', async (t) => {
  const plain = buildPipeline({ source: rtsp, output: { fps: 5 } });
  t.equal(plain.detectView, undefined);
  t.notOk(plain.argv.includes('tee'));
  t.notOk(plain.argv.some((a) => a.startsWith('fd=3')));
  const small = buildPipeline({ source: rtsp, output: { width: 640, height: 360, detectSize: 640 } });
  t.equal(small.detectView, undefined, 'a 640x360 output is already the detector size');
  t.notOk(small.argv.includes('tee'));
  const big = buildPipeline({ source: rtsp, output: { width: 1920, height: 1080, detectSize: 640 } });
  t.same(big.detectView, { maxSide: 640 });
  t.ok(branches(big.argv)[0].includes('video/x-raw,format=RGB,width=1920,height=1080'));
  t.throws(() => buildPipeline({ source: rtsp, output: { detectSize: 16 } }), PipelineConfigError);
  t.throws(() => buildPipeline({ source: rtsp, output: { detectSize: 640.5 } }), PipelineConfigError);
  const file = buildPipeline({ source: { kind: 'file', path: '/clips/door.mp4', lossless: true }, output: { detectSize: 640 } });
  const [fm, fc] = branches(file.argv);
  t.notOk([...fm, ...fc].includes('leaky=downstream'), 'lossless file: nothing drops');
  t.ok(fm.indexOf('identity') < fm.indexOf('queue') && fm.indexOf('queue') < fm.indexOf('tee'), 'paced, then queued, then split');
});

t.test('launch plan: a 4th stdio pipe for the copy, also through the stdin launcher', async (t) => {
  const plain = launchPlan(buildPipeline({ source: rtsp }), {});
  t.same(plain.stdio, ['ignore', 'pipe', 'pipe']);
  const scaled = launchPlan(buildPipeline({ source: rtsp, output: { detectSize: 640 } }), {});
  t.same(scaled.stdio, ['ignore', 'pipe', 'pipe', 'pipe']);
  t.equal(scaled.stdin, undefined);
  const secret = launchPlan(buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://admin:Hunter2x@cam.example/s' }, output: { detectSize: 640 } }), {});
  t.same(secret.stdio, ['pipe', 'pipe', 'pipe', 'pipe'], 'stdin carries the pipeline, fd 3 the copy');
  t.match(secret.args.join(' '), /gst-launch-stdin\.py/);
  t.notMatch(secret.args.join(' '), /Hunter2x/);
});

t.test('pairing: by key, either side first, losses on either side dropped and counted', async (t) => {
  const p = new FramePairer<string, string>(4);
  t.equal(p.pushFull(0, 'F0'), undefined, 'held until its copy arrives');
  t.same(p.pushView(0, 'V0'), { key: 0, full: 'F0', view: 'V0' });
  t.same(p.pushView(1, 'V1'), undefined, 'copy first');
  t.same(p.pushFull(1, 'F1'), { key: 1, full: 'F1', view: 'V1' });
  t.equal(p.unpaired, 0);
  // The copy branch lost frame 2: full 2 waits, then full 3 + copy 3 pair and full 2 is dropped.
  t.equal(p.pushFull(2, 'F2'), undefined);
  t.equal(p.pushFull(3, 'F3'), undefined);
  t.same(p.held(), { full: 2, view: 0 });
  t.same(p.pushView(3, 'V3'), { key: 3, full: 'F3', view: 'V3' });
  t.equal(p.unpaired, 1, 'full 2 had no copy');
  t.same(p.held(), { full: 0, view: 0 });
  // The full branch lost frame 4: copy 4 is dropped when full 5 arrives.
  t.equal(p.pushView(4, 'V4'), undefined);
  t.equal(p.pushFull(5, 'F5'), undefined);
  t.equal(p.unpaired, 2, 'copy 4 had no full frame');
  t.same(p.pushView(5, 'V5'), { key: 5, full: 'F5', view: 'V5' });
  // One side far ahead: at most maxHeld kept.
  for (let k = 6; k < 12; k++) p.pushFull(k, `F${k}`);
  t.same(p.held(), { full: 4, view: 0 });
  t.equal(p.unpaired, 4);
  t.same(p.pushView(11, 'V11'), { key: 11, full: 'F11', view: 'V11' });
  t.equal(p.unpaired, 7, 'the older held frames can no longer pair');
  // No key: cannot pair.
  t.equal(p.pushFull(undefined, 'F?'), undefined);
  t.equal(p.unpaired, 8);
  // Keys restart (a new segment): everything held is dropped, pairing goes on.
  t.equal(p.pushFull(12, 'F12'), undefined);
  t.equal(p.pushFull(0, 'F0b'), undefined);
  t.equal(p.unpaired, 9);
  t.same(p.pushView(0, 'V0b'), { key: 0, full: 'F0b', view: 'V0b' });
  t.throws(() => new FramePairer(0), RangeError);
  t.equal(pairKey(7, 1000), 7, 'videorate offset first');
  t.equal(pairKey(undefined, 1000), 1000, 'then the PTS');
});

t.test('pairing property: every item is paired or counted exactly once', async (t) => {
  // Deterministic pseudo-random losses and interleavings on both sides.
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let round = 0; round < 50; round++) {
    const p = new FramePairer<number, number>(3);
    const fulls = [...Array(60).keys()].filter(() => rand() > 0.15);
    const views = [...Array(60).keys()].filter(() => rand() > 0.15);
    let fi = 0;
    let vi = 0;
    const pairs: number[] = [];
    while (fi < fulls.length || vi < views.length) {
      const takeFull = vi >= views.length || (fi < fulls.length && rand() < 0.5);
      const r = takeFull ? p.pushFull(fulls[fi], fulls[fi++]) : p.pushView(views[vi], views[vi++]);
      if (r) {
        t.equal(r.full, r.view, 'paired items share their key');
        pairs.push(r.key);
      }
    }
    const held = p.held();
    if (pairs.some((k, i) => i > 0 && k <= pairs[i - 1])) t.fail('pairs out of order');
    if (2 * pairs.length + p.unpaired + held.full + held.view !== fulls.length + views.length) t.fail(`round ${round}: items lost or counted twice`);
  }
  t.pass('50 rounds');
});

function face(x1: number, y1: number, x2: number, y2: number): Face {
  return { box: [x1, y1, x2, y2], score: 0.9, landmarks: [[x1 + 1, y1 + 1], [x2 - 1, y1 + 1], [(x1 + x2) / 2, (y1 + y2) / 2], [x1 + 1, y2 - 1], [x2 - 1, y2 - 1]] };
}
const img = (width: number, height: number): RgbImage => ({ data: new Uint8Array(width * height * 3), width, height });

t.test('detector side: which image the model sees, and faces mapped back to the full frame', async (t) => {
  const full = img(1280, 720);
  const view = img(640, 360);
  const src = detectionSource({ ...full, detectView: view });
  t.equal(src.view, view);
  t.same([src.sx, src.sy], [2, 2]);
  t.equal(detectionSource(full).view, full, 'no copy: the frame');
  t.equal(detectionSource({ ...full, detectView: img(640, 480) }).view.width, 1280, 'another aspect ratio: ignored');
  t.equal(detectionSource({ ...full, detectView: img(1920, 1080) }).view.width, 1280, 'larger than the frame: ignored');
  t.equal(detectionSource({ ...full, detectView: { data: new Uint8Array(10), width: 640, height: 360 } }).view.width, 1280, 'short buffer: ignored');
  const odd = detectionSource({ ...img(1366, 768), detectView: img(640, 360) });
  t.equal(odd.view.width, 640, 'rounded copy (1366x768 -> 640x360) accepted');
  t.ok(Math.abs(odd.sx - 1366 / 640) < 1e-9 && Math.abs(odd.sy - 768 / 360) < 1e-9, 'per-axis factors');
  const mapped = scaleFaceToFull(face(100, 50, 200, 180), 2, 2, 1280, 720);
  t.same(mapped.box, [200, 100, 400, 360]);
  t.same(mapped.landmarks[2], [300, 230]);
  t.equal(mapped.score, 0.9);
  t.same(scaleFaceToFull(face(600, 300, 660, 370), 2, 2, 1280, 720).box, [1200, 600, 1280, 720], 'box clipped to the frame');
});
