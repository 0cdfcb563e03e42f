import type { Detector } from '../detect/index.ts';
import type { Face, RgbImage } from '../types.ts';
import { alignFace } from './align.ts';
import type { Embedder, MaskClassifier } from './models.ts';
import { faceQuality, interOcularDistance, type FaceQuality } from './quality.ts';

export interface AnalyzedFace {
  readonly face: Face;
  readonly aligned: RgbImage;
  readonly quality: FaceQuality;
  readonly embedding: Float32Array;
  readonly maskProbability: number | undefined;
}

const area = (f: Face): number => (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);

/** The largest face of an image: the subject of a portrait or of an enrollment photo. */
export function largestFace(faces: readonly Face[]): Face | undefined {
  let best: Face | undefined;
  for (const f of faces) if (!best || area(f) > area(best)) best = f;
  return best;
}

/** Detect -> align -> embed (+ mask attribute) for one face of a still image. */
export async function analyzeFace(image: RgbImage, face: Face, embedder: Embedder, mask?: MaskClassifier): Promise<AnalyzedFace> {
  const { crop } = alignFace(image, face.landmarks);
  const embedding = await embedder.embed(crop);
  const maskProbability = mask ? await mask.maskProbability(crop) : undefined;
  return { face, aligned: crop, quality: faceQuality(face, crop), embedding, maskProbability };
}

export async function analyzeLargestFace(image: RgbImage, detector: Detector, embedder: Embedder, mask?: MaskClassifier): Promise<{ analyzed: AnalyzedFace | undefined; faces: Face[] }> {
  const faces = await detector.detect(image);
  const face = largestFace(faces);
  return { analyzed: face ? await analyzeFace(image, face, embedder, mask) : undefined, faces };
}

export { interOcularDistance };
