import t from 'tap';
import { findModel, loadManifest } from '../../src/models/index.ts';
import { livenessCropBox } from '../../src/recognize/models.ts';
import { cropToTensor, softmax } from '../../src/recognize/tensor.ts';
import type { Box, RgbImage } from '../../src/types.ts';

// The MiniFASNet pair only works on the input it was trained on (Silent-Face-Anti-Spoofing's
// test.py and CropImage): raw 0-255 BGR (its ToTensor does not divide by 255), 80x80 crops at 2.7x
// (V2) and 4.0x (V1SE) of the detector box, class 1 = real of a 3-class softmax, the two models'
// probabilities averaged. A model that gets normalised or RGB input still answers, just wrongly.

t.test('the manifest gives the MiniFASNet pair the reference input', async (t) => {
  const manifest = loadManifest();
  for (const [name, scale] of [['minifasnet_v2', 2.7], ['minifasnet_v1se', 4.0]] as const) {
    const e = findModel(manifest, name);
    t.ok(e, `${name} is in the manifest`);
    if (!e) continue;
    t.equal(e.role, 'liveness', `${name} role`);
    t.match(e.input, { channels: 'BGR', mean: 0, std: 1, fixedSize: 80, cropScale: scale }, `${name}: raw 0-255 BGR, 80x80, ${scale}x crop`);
    t.match(e.output, { kind: 'liveness', realIndex: 1 }, `${name}: class 1 is real`);
  }
});

t.test('cropToTensor with the liveness spec: BGR planes of raw 0-255 values', async (t) => {
  const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([10, 20, 30, 250, 128, 0]) };
  const tensor = cropToTensor(img, { channels: 'BGR', mean: 0, std: 1 });
  t.same([...tensor], [30, 0, 20, 128, 10, 250], 'plane 0 = blue, plane 1 = green, plane 2 = red, unscaled');
});

t.test('softmax over the 3 logits: the real probability of class 1', async (t) => {
  const p = softmax([0, Math.log(3), 0]);
  t.ok(Math.abs(p[1] - 0.6) < 1e-12, `class 1 = 3 / (1 + 3 + 1), got ${p[1]}`);
  t.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

/**
 * The reference's CropImage._get_new_box on test.py's integer bbox [left, top, w + 1, h + 1],
 * giving the inclusive pixel rectangle it slices. Transcribed here as the oracle our crop is held
 * to: ours works on the detector's float box (no +1 on the width, no truncation), so an edge may
 * differ by that pixel scaled (scale / 2 on each side), the truncation and the inclusive end, never
 * by more.
 */
function referenceCrop(box: Box, srcW: number, srcH: number, scale: number): [number, number, number, number] {
  const x = Math.trunc(box[0]);
  const y = Math.trunc(box[1]);
  const bw = Math.trunc(box[2] - box[0] + 1);
  const bh = Math.trunc(box[3] - box[1] + 1);
  const s = Math.min((srcH - 1) / bh, (srcW - 1) / bw, scale);
  let lx = x + bw / 2 - (bw * s) / 2;
  let ly = y + bh / 2 - (bh * s) / 2;
  let rx = x + bw / 2 + (bw * s) / 2;
  let ry = y + bh / 2 + (bh * s) / 2;
  if (lx < 0) {
    rx -= lx;
    lx = 0;
  }
  if (ly < 0) {
    ry -= ly;
    ly = 0;
  }
  if (rx > srcW - 1) {
    lx -= rx - srcW + 1;
    rx = srcW - 1;
  }
  if (ry > srcH - 1) {
    ly -= ry - srcH + 1;
    ry = srcH - 1;
  }
  return [Math.trunc(lx), Math.trunc(ly), Math.trunc(rx), Math.trunc(ry)];
}

t.test('liveness crop box stays within the integer rounding of the reference crop (centre, edges, shrink)', async (t) => {
  const cases: Array<[Box, number, number]> = [
    [[300.4, 200.7, 420.2, 350.9], 1280, 720], // centred, room for both scales
    [[5.5, 10.2, 105.1, 140.8], 640, 480], // near the top-left: shifted inside
    [[560.3, 380.6, 630.2, 470.1], 640, 480], // near the bottom-right: shifted inside
    [[40.2, 30.7, 250.9, 300.3], 320, 320], // face fills the frame: scale shrinks
    [[0, 0, 79, 79], 80, 80], // tight crop: the whole frame
  ];
  for (const [box, w, h] of cases) {
    for (const scale of [2.7, 4.0]) {
      const ours = livenessCropBox(box, w, h, scale);
      const [lx, ly, rx, ry] = referenceCrop(box, w, h, scale);
      // The reference slices pixels lx..rx inclusive: as a continuous box that is [lx, rx + 1).
      const ref = [lx, ly, rx + 1, ry + 1];
      const worst = Math.max(...ours.map((v, i) => Math.abs(v - ref[i])));
      const bound = scale / 2 + 2.5;
      t.ok(worst <= bound, `box ${box.join(',')} in ${w}x${h} at ${scale}x: ours ${ours.map((v) => v.toFixed(1)).join(',')} vs reference ${ref.join(',')} (off by ${worst.toFixed(2)} px, bound ${bound} px)`);
      t.ok(ours[0] >= 0 && ours[1] >= 0 && ours[2] <= w - 1 && ours[3] <= h - 1, 'inside the frame');
    }
  }
});
