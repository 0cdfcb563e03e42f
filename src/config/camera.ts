/** A configured camera as src/ingest takes it: the same source shape, fps/size under `output`. */
import type { CameraConfig } from '../ingest/index.ts';
import type { CameraEntry } from './schema.ts';

/**
 * `detectorSize`: the input size of the detector the camera really got (a `budgetMs` camera's
 * size comes from the measured profile, not from `detector.size`); GStreamer scales the detector
 * copy to it when `detectScale` is on. Default: `detector.size`.
 */
export function ingestCameraConfig(camera: CameraEntry, detectorSize: number = camera.detector.size): CameraConfig {
  return {
    id: camera.id,
    source: camera.source,
    decoder: camera.decoder,
    output: { fps: camera.fps, width: camera.width, height: camera.height, detectSize: camera.detectScale ? detectorSize : undefined },
    watchdog: camera.watchdog,
    backoff: camera.backoff,
    stableMs: camera.stableMs,
  };
}
