/** A configured camera as src/ingest takes it: the same source shape, fps/size under `output`. */
import type { CameraConfig } from '../ingest/index.ts';
import type { CameraEntry } from './schema.ts';

export function ingestCameraConfig(camera: CameraEntry): CameraConfig {
  return {
    id: camera.id,
    source: camera.source,
    decoder: camera.decoder,
    output: { fps: camera.fps, width: camera.width, height: camera.height, detectSize: camera.detectScale ? camera.detector.size : undefined },
    watchdog: camera.watchdog,
    backoff: camera.backoff,
    stableMs: camera.stableMs,
  };
}
