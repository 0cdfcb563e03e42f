/** A configured camera as src/ingest takes it: the same source shape, fps/size under `output`. */
import type { CameraConfig } from '../ingest/index.ts';
import type { DetectionGateSettings } from '../motion/index.ts';
import type { CameraEntry } from './schema.ts';

/**
 * `detectorSize`: the input size of the detector the camera really got (a `budgetMs` camera's
 * size comes from the measured profile, not from `detector.size`); GStreamer scales the detector
 * copy to it when `detectScale` is on. Default: `detector.size`.
 */
/** `gate`: which frames the camera chain's detector runs on (`motion` and `detector.interval`). */
export function ingestCameraConfig(camera: CameraEntry, detectorSize: number = camera.detector.size): CameraConfig & { readonly gate: DetectionGateSettings } {
  return {
    id: camera.id,
    source: camera.source,
    decoder: camera.decoder,
    output: { fps: camera.fps, width: camera.width, height: camera.height, detectSize: camera.detectScale ? detectorSize : undefined, ...(camera.rotate ? { rotate: camera.rotate } : {}) },
    watchdog: camera.watchdog,
    backoff: camera.backoff,
    stableMs: camera.stableMs,
    idleDecode: { mode: camera.motion.idleDecode, sleepAfterMs: camera.motion.idleSleepMs, keyframeEveryMs: camera.motion.idleKeyframeMs },
    gate: {
      motion: { enabled: camera.motion.enabled, keepAliveMs: camera.motion.keepAliveMs, params: { minAreaFraction: camera.motion.minArea, k: camera.motion.noiseFactor } },
      interval: camera.detector.interval,
    },
  };
}
