/**
 * Rewrite an onnxruntime `quantize_dynamic` ONNX file with its weights dequantised to float32
 * (src/models/dequantize.ts), and print the sha256 of input and output.
 *
 *   npx tsx tools/dequantize-onnx.ts IN.onnx OUT.onnx [--keep-activation-quantization]
 *
 * facegate does this itself for manifest entries with `derived` (w600k_mbf_dq) on first use; the
 * tool is for other quantised embedders and for re-pinning after a change to the transform.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dequantizeOnnx } from '../src/models/dequantize.ts';
import { describeError } from '../src/cli/common.ts';

const args = process.argv.slice(2);
const positional = args.filter((a) => !a.startsWith('--'));
if (positional.length !== 2) {
  process.stderr.write('usage: npx tsx tools/dequantize-onnx.ts IN.onnx OUT.onnx [--keep-activation-quantization]\n');
  process.exit(2);
}
const [input, output] = positional;
try {
  const bytes = readFileSync(input);
  const t0 = performance.now();
  const r = dequantizeOnnx(bytes, { keepActivationQuantization: args.includes('--keep-activation-quantization') });
  const tmp = `${output}.${process.pid}.part`;
  writeFileSync(tmp, r.bytes);
  renameSync(tmp, output);
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  process.stdout.write(`${JSON.stringify({ input, inputSha256: sha(bytes), inputBytes: bytes.length, output, outputSha256: sha(r.bytes), outputBytes: r.bytes.length, convs: r.convs, matmuls: r.matmuls, skipped: r.skipped, ms: Math.round(performance.now() - t0) })}\n`);
} catch (e) {
  process.stderr.write(`error: ${describeError(e)}\n`);
  process.exit(1);
}
