/**
 * A sideways-mounted camera: `cameras[].rotate` turns every frame in GStreamer (videoflip), so a
 * 320x240 test source arrives as 240x320 upright; the config refuses rotate on a hardware
 * decoder (device memory videoflip cannot take) with the path and the fix.
 */
import t from 'tap';
import { firstValueFrom } from 'rxjs';
import { ingestCameraConfig, parseConfig } from '../../src/config/index.ts';
import { buildPipeline, openCamera } from '../../src/ingest/index.ts';
import { configError } from '../helpers/config-error.ts';

t.test('rotate: the pipeline turns the frames; a file keeps its own tag otherwise', async (t) => {
  const camera = (rotate: number) => parseConfig({ cameras: [{ id: 'side', source: { kind: 'test', pattern: 'smpte', width: 320, height: 240, fps: 10 }, rotate, detectScale: false }] }).cameras[0];
  const c90 = ingestCameraConfig(camera(90));
  t.match(buildPipeline(c90).argv.join(' '), /videoflip video-direction=90r/, 'clockwise');
  t.match(buildPipeline(ingestCameraConfig(camera(270))).argv.join(' '), /videoflip video-direction=90l/, 'counter-clockwise');
  t.notMatch(buildPipeline(ingestCameraConfig(camera(0))).argv.join(' '), /videoflip/, 'no rotate: nothing added for a live source');
  const file = buildPipeline({ source: { kind: 'file', path: '/data/clip.mp4' }, output: { rotate: 180 } }).argv.join(' ');
  t.match(file, /videoflip video-direction=180/, "a file camera's rotate replaces the automatic direction");

  const cam = openCamera(c90);
  t.teardown(() => cam.close());
  const frame = await firstValueFrom(cam.frames);
  t.same([frame.width, frame.height], [240, 320], 'a 320x240 source arrives turned: 240x320');
});

t.test('rotate needs a CPU decoder (cpu or openh264); only 0, 90, 180, 270', async (t) => {
  const e = configError(() => parseConfig({ cameras: [{ id: 'side', url: 'rtsp://192.0.2.1/s', decoder: 'nvdec', rotate: 90 }] }));
  t.same(e.issues[0]?.path, ['cameras', 0, 'rotate'], 'the path');
  t.match(e.message, /rotate needs a CPU decoder, cpu or openh264/);
  t.equal(parseConfig({ cameras: [{ id: 'side', url: 'rtsp://192.0.2.1/s', decoder: 'openh264', rotate: 90 }] }).cameras[0]?.rotate, 90, 'openh264 turns frames too');
  const h265 = configError(() => parseConfig({ cameras: [{ id: 'hevc', source: { kind: 'rtsp', url: 'rtsp://192.0.2.1/s', codec: 'h265' }, decoder: 'openh264' }] }));
  t.same(h265.issues[0]?.path, ['cameras', 0, 'decoder'], 'openh264 on an H.265 camera: refused at the decoder');
  t.match(h265.message, /decodes H\.264 only/);
  t.ok(configError(() => parseConfig({ cameras: [{ id: 'side', url: 'rtsp://192.0.2.1/s', rotate: 45 }] })).issues.some((i) => i.path.join('.') === 'cameras.0.rotate'), '45 degrees is refused');
});
