import t from 'tap';
import { concat, from, lastValueFrom, Subject, throwError, toArray } from 'rxjs';
import { type FrameFacesLike, type FrameInfo, type TrackFlush, type TrackOutput, trackFaces } from '../../src/track/index.ts';
import type { Box, Face } from '../../src/types.ts';

interface TestFrame extends FrameInfo {
  readonly pixels: string; // stands in for the RGB data a real Frame carries
}

function faceAt(box: Box, score = 0.9): Face {
  const [x1, y1, x2, y2] = box;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  return { box, score, landmarks: [[cx - 10, cy - 10], [cx + 10, cy - 10], [cx, cy], [cx - 8, cy + 12], [cx + 8, cy + 12]] };
}

function frame(cameraId: string, seq: number, faces: Face[]): FrameFacesLike<TestFrame> {
  return { frame: { cameraId, seq, capturedAt: 1000 + seq * 40, width: 1280, height: 720, pixels: `${cameraId}#${seq}` }, faces };
}

function isFlush<F extends FrameInfo>(o: TrackOutput<F>): o is TrackFlush {
  return o.kind === 'flush';
}

t.test('trackFaces: one tracker per camera, frames passed through, flush on completion', async (t) => {
  const input: FrameFacesLike<TestFrame>[] = [];
  for (let seq = 0; seq < 5; seq++) {
    input.push(frame('front', seq, [faceAt([100 + 4 * seq, 100, 180 + 4 * seq, 200])]));
    // The same box on another camera is another person with its own id sequence.
    input.push(frame('back', seq, seq < 3 ? [faceAt([100, 100, 180, 200])] : []));
    input.push(frame('side', seq, []));
  }
  const out = await lastValueFrom(from(input).pipe(trackFaces<TestFrame>(), toArray()));

  const frames = out.filter((o) => o.kind === 'frame');
  t.equal(frames.length, input.length, 'one output per input frame, in order');
  t.ok(
    frames.every((o, i) => o.kind === 'frame' && o.frame === input[i].frame),
    'the frame object (pixels included) is passed through by reference',
  );
  const front = frames.filter((o) => o.kind === 'frame' && o.frame.cameraId === 'front');
  t.ok(
    front.every((o) => o.update.tracks.map((v) => v.trackId).join() === 'front:1'),
    'front:1 throughout',
  );
  t.equal(front[4].update.timeMs, 1000 + 4 * 40, 'time base is capturedAt');
  t.equal(front[4].update.frameIndex, 5, 'frames counted per camera');

  const flushes = out.filter(isFlush);
  t.same(
    flushes.map((f) => [f.cameraId, f.timeMs, f.events.map((e) => [e.type, e.trackId, e.reason])]),
    [
      ['front', 1160, [['track.ended', 'front:1', 'flush']]],
      ['back', 1160, [['track.ended', 'back:1', 'flush']]],
    ],
    'live tracks (visible or lost) end; a camera without tracks emits no flush',
  );
  t.equal(out.slice(-2).every(isFlush), true, 'flushes come last');
});

t.test('trackFaces: options reach the tracker and bad options fail at composition', async (t) => {
  const input = [0, 1, 2].map((seq) => frame('cam', seq, [faceAt([10, 10, 90, 110], 0.55)]));
  // 0.55 is below newTrackThresh 0.6: with minHits 3 the track starts only on the third frame.
  const out = await lastValueFrom(from(input).pipe(trackFaces<TestFrame>({ minHits: 3 }), toArray()));
  t.same(
    out.map((o) => o.events.map((e) => e.type)),
    [[], [], ['track.started'], ['track.ended']],
  );
  t.throws(() => trackFaces({ minHits: 0 }), { code: 'BAD_ARGUMENT' });
});

t.test('trackFaces: a source error still ends live tracks, then propagates', async (t) => {
  const seen: TrackOutput<TestFrame>[] = [];
  const failure = new Error('camera pipeline died');
  const source = concat(from([frame('cam', 0, [faceAt([10, 10, 90, 110])])]), throwError(() => failure));
  const err = await new Promise<unknown>((resolve) => {
    source.pipe(trackFaces<TestFrame>()).subscribe({ next: (o) => seen.push(o), error: resolve, complete: () => resolve(undefined) });
  });
  t.equal(err, failure);
  t.same(
    seen.map((o) => o.kind),
    ['frame', 'flush'],
  );
});

t.test('trackFaces: unsubscribing stops tracking without a flush', async (t) => {
  const subject = new Subject<FrameFacesLike<TestFrame>>();
  const seen: TrackOutput<TestFrame>[] = [];
  const sub = subject.pipe(trackFaces<TestFrame>()).subscribe((o) => seen.push(o));
  subject.next(frame('cam', 0, [faceAt([10, 10, 90, 110])]));
  sub.unsubscribe();
  t.equal(subject.observed, false, 'the operator released its upstream subscription');
  subject.next(frame('cam', 1, [faceAt([10, 10, 90, 110])]));
  subject.complete();
  t.same(
    seen.map((o) => o.kind),
    ['frame'],
  );
});
