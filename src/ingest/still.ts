/**
 * One still image through a real camera pipeline with a detector copy: the image goes into
 * GStreamer as raw RGB (rawvideoparse), and comes back as a Frame with its GStreamer-scaled
 * `detectView`, exactly as a camera with `output.detectSize` delivers it. For benches and tests
 * that need the copy GStreamer would make for a given picture.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, timeout } from 'rxjs';
import type { Frame, RgbImage } from '../types.ts';
import { openCamera } from './camera.ts';
import type { DecoderConfig } from './types.ts';

export async function stillThroughPipeline(image: RgbImage, detectSize: number, opts: { readonly decoder?: DecoderConfig; readonly timeoutMs?: number } = {}): Promise<Frame> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-still-'));
  const path = join(dir, 'frame.rgb');
  writeFileSync(path, image.data.subarray(0, image.width * image.height * 3));
  const cam = openCamera({
    id: 'still',
    source: {
      kind: 'pipeline',
      pipeline: `filesrc location="${path}" blocksize=${image.width * image.height * 3} ! rawvideoparse width=${image.width} height=${image.height} format=rgb framerate=1/1`,
    },
    decoder: opts.decoder,
    output: { detectSize },
  });
  try {
    return await firstValueFrom(cam.frames.pipe(take(1), timeout(opts.timeoutMs ?? 15_000)));
  } finally {
    cam.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
