import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import t from 'tap';
import { createDetector, type Detector } from '../../src/detect/index.ts';
import { SnapshotStore } from '../../src/events/snapshots.ts';
import { cosine } from '../../src/lib/vectors.ts';
import { calibratedThresholds } from '../../src/models/calibration.ts';
import { analyzeFace } from '../../src/recognize/analyze.ts';
import { createEmbedder, recognizeTracks, type Embedder } from '../../src/recognize/index.ts';
import { trackFaces } from '../../src/track/index.ts';
import type { Face, Frame, RgbImage } from '../../src/types.ts';
import { dataPath } from '../helpers/data.ts';

/**
 * events.snapshots.blurOthers with the product's own detector and embedder on a real group photo:
 * in the frame snapshot (as stored: JPEG, then read back through the store) the subject still
 * matches itself, and no bystander matches itself above the embedder's threshold any more.
 */

const EMBEDDER = 'mobilefacenet_paddlex_128d';
let detector: Detector;
let embedder: Embedder;

t.before(async () => {
  detector = await createDetector({ tier: '2.5g', size: 640 });
  embedder = await createEmbedder(EMBEDDER);
});
t.teardown(async () => {
  await detector?.close();
  await embedder?.close();
});

async function decode(bytes: Buffer | string): Promise<RgbImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

t.test('the subject stays recognisable; every bystander falls below the threshold against itself', async (t) => {
  const threshold = calibratedThresholds(EMBEDDER).unmasked;
  const photo = await decode(dataPath('groups/faceapi_bbt4.jpg'));
  const faces: Face[] = await detector.detect(photo);
  t.ok(faces.length >= 5, `the detector finds ${faces.length} faces`);
  const original = await Promise.all(faces.map(async (f) => (await analyzeFace(photo, f, embedder)).embedding));
  const store = new SnapshotStore(join(t.testdir(), 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100, frameMaxWidth: 10_000, blurOthers: true });
  for (let s = 0; s < faces.length; s++) {
    const id = await store.save(photo, faces[s].box, { others: faces.filter((_, i) => i !== s).map((f) => f.box) });
    const frame = await decode(await store.read(id, 'frame'));
    for (let i = 0; i < faces.length; i++) {
      // The same landmarks as in the original: what an embedder would see at that place.
      const score = cosine((await analyzeFace(frame, faces[i], embedder)).embedding, original[i]);
      if (i === s) t.ok(score > 0.9, `subject ${s}: ${score.toFixed(3)} against itself`);
      else t.ok(score < threshold, `subject ${s}, bystander ${i}: ${score.toFixed(3)} < ${threshold}`);
    }
  }
});

t.test('recognition hands the snapshot the other faces of its frame (what publish passes to save)', async (t) => {
  const photo = await decode(dataPath('groups/faceapi_bbt4.jpg'));
  const faces: Face[] = await detector.detect(photo);
  // The group photo as a short clip: the tracker confirms the faces, recognition decides each.
  const frames = Array.from({ length: 6 }, (_, i): { frame: Frame; faces: Face[] } => ({ frame: { ...photo, cameraId: 'door', seq: i, pts: undefined, capturedAt: 1_000 + i * 200, format: 'RGB' }, faces }));
  const recognitions = await lastValueFrom(
    from(frames).pipe(trackFaces({}), recognizeTracks({ embedder, gallery: { search: () => [] }, thresholds: { unmasked: 0.36, masked: 0.45 } }), toArray()),
  );
  t.ok(recognitions.length >= faces.length, `${recognitions.length} recognitions`);
  const key = (b: readonly number[]): string => b.map((v) => v.toFixed(1)).join(',');
  const all = new Set(faces.map((f) => key(f.box)));
  for (const r of recognitions) {
    const others = (r.others ?? []).map(key);
    t.equal(others.length, faces.length - 1, `track ${r.trackId}: the ${faces.length - 1} others`);
    t.notOk(others.includes(key(r.box)), 'not its own box');
    t.ok(others.every((o) => all.has(o)), 'the detector boxes of that frame');
  }
});
