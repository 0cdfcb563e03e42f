/** A recognition of Alice (staff) as the recognize stage emits it, for tests of the pipeline tail. */
import type { Recognition } from '../../src/recognize/index.ts';
import type { Frame } from '../../src/types.ts';

/** A grey frame of `cameraId` captured at `timeMs`. */
export const greyFrame = (cameraId: string, timeMs: number, width = 64, height = 48): Frame => ({ data: new Uint8Array(width * height * 3).fill(128), width, height, cameraId, seq: 1, pts: undefined, capturedAt: timeMs, format: 'RGB' });

export const aliceRecognition = (frame: Frame, over: Partial<Recognition> = {}): Recognition => ({
  type: 'face.recognized',
  cameraId: frame.cameraId,
  trackId: `${frame.cameraId}:1`,
  timeMs: frame.capturedAt,
  frameSeq: 1,
  identityId: 'alice-id',
  name: 'Alice',
  groups: ['staff'],
  unknownId: undefined,
  score: 0.7,
  masked: false,
  maskProbability: 0.1,
  liveness: undefined,
  livenessEvidence: undefined,
  quality: 0.8,
  embedderRuns: 1,
  changed: true,
  box: [10, 10, 30, 34],
  frame,
  ...over,
});
