/** A plain separable 2-D DFT for the PAD benches' spectral cues (tiles of 32-64 pixels: no FFT needed). */

const tables = new Map<number, { readonly cos: Float64Array; readonly sin: Float64Array }>();

function dftTables(n: number): { readonly cos: Float64Array; readonly sin: Float64Array } {
  let t = tables.get(n);
  if (!t) {
    t = {
      cos: Float64Array.from({ length: n * n }, (_, k) => Math.cos((2 * Math.PI * Math.floor(k / n) * (k % n)) / n)),
      sin: Float64Array.from({ length: n * n }, (_, k) => Math.sin((2 * Math.PI * Math.floor(k / n) * (k % n)) / n)),
    };
    tables.set(n, t);
  }
  return t;
}

/**
 * Power spectrum of one n x n tile (row-major, already windowed by the caller), indexed [v * n + u],
 * added into `acc` when given (a Welch average), else returned fresh.
 */
export function powerSpectrum2d(tile: Float64Array, n: number, acc: Float64Array = new Float64Array(n * n)): Float64Array {
  const { cos, sin } = dftTables(n);
  const re1 = new Float64Array(n * n);
  const im1 = new Float64Array(n * n);
  for (let y = 0; y < n; y++)
    for (let u = 0; u < n; u++) {
      let r = 0;
      let im = 0;
      for (let x = 0; x < n; x++) {
        const v = tile[y * n + x];
        r += v * cos[u * n + x];
        im -= v * sin[u * n + x];
      }
      re1[y * n + u] = r;
      im1[y * n + u] = im;
    }
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) {
      let r = 0;
      let im = 0;
      for (let y = 0; y < n; y++) {
        const c = cos[v * n + y];
        const s = sin[v * n + y];
        const a = re1[y * n + u];
        const b = im1[y * n + u];
        r += a * c + b * s;
        im += b * c - a * s;
      }
      acc[v * n + u] += r * r + im * im;
    }
  return acc;
}
