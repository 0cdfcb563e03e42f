/** Seeded synthetic face embeddings for the eval tests: identities around random centres, each photo with three masked variants. */
import { mulberry32 } from '../../src/lib/random.ts';
import type { EmbeddedPhoto } from '../../src/recognize/evaluate.ts';

export function syntheticGallery(ids: number, perId: number, dim: number, seed: number, noise = 0.05): EmbeddedPhoto[] {
  const rnd = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const unit = (v: Float32Array): Float32Array => {
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n);
    return v.map((x) => x / n);
  };
  const around = (c: Float32Array, noise: number): Float32Array => unit(c.map((x) => x + noise * gauss()));
  const out: EmbeddedPhoto[] = [];
  for (let id = 0; id < ids; id++) {
    const centre = unit(new Float32Array(dim).map(gauss));
    for (let k = 0; k < perId; k++) {
      const plain = around(centre, noise);
      out.push({ file: `${id}/${k}.jpg`, identity: `id${id}`, plain, maskedVariants: [around(plain, 0.06), around(plain, 0.06), around(plain, 0.06)] });
    }
  }
  return out;
}
