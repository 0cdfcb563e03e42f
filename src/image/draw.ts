import type { Face, RgbImage } from '../types.ts';
import { loadSharp } from './sharp.ts';

type Rgb = readonly [number, number, number];
const BOX: Rgb = [0, 255, 0];
const LANDMARK_COLOURS: readonly Rgb[] = [[255, 0, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255]];

function setPixel(img: { data: Uint8Array; width: number; height: number }, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const i = (y * img.width + x) * 3;
  img.data[i] = c[0];
  img.data[i + 1] = c[1];
  img.data[i + 2] = c[2];
}

/** Draw face boxes and their 5 landmarks onto a copy of the image; returns the copy. */
export function drawFaces(image: RgbImage, faces: readonly Face[], scaleToImage = 1): RgbImage {
  const out = { data: new Uint8Array(image.data), width: image.width, height: image.height };
  const thick = Math.max(2, Math.round(Math.max(image.width, image.height) / 400));
  for (const f of faces) {
    const [x1, y1, x2, y2] = f.box.map((v) => Math.round(v / scaleToImage));
    for (let t = 0; t < thick; t++) {
      for (let x = x1; x <= x2; x++) {
        setPixel(out, x, y1 + t, BOX);
        setPixel(out, x, y2 - t, BOX);
      }
      for (let y = y1; y <= y2; y++) {
        setPixel(out, x1 + t, y, BOX);
        setPixel(out, x2 - t, y, BOX);
      }
    }
    const r = Math.max(2, Math.round((x2 - x1) / 30));
    f.landmarks.forEach(([lx, ly], k) => {
      const cx = Math.round(lx / scaleToImage);
      const cy = Math.round(ly / scaleToImage);
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) setPixel(out, cx + dx, cy + dy, LANDMARK_COLOURS[k]);
    });
  }
  return out;
}

/** Encode an RGB image as JPEG (or PNG when the path ends in .png). */
export async function writeImage(image: RgbImage, path: string): Promise<void> {
  const s = (await loadSharp())(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } });
  await (path.toLowerCase().endsWith('.png') ? s.png() : s.jpeg({ quality: 90 })).toFile(path);
}
