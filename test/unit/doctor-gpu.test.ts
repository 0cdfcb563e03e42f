/** The CUDA / TensorRT opt-in report: ldd output -> missing libraries, and an install folder read as doctor does. Pure / temp files. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { gpuInstall, parseLddMissing } from '../../src/app/doctor.ts';

// As ldd prints it for ONNX Runtime 1.29.0's CUDA provider on a box without CUDA 13 (shape of
// the real output: resolved lines with an address, unresolved ones "=> not found").
const LDD_CUDA = `\tlinux-vdso.so.1 (0x00007ffd2a3f2000)
\tlibcublasLt.so.13 => not found
\tlibcublas.so.13 => not found
\tlibcurand.so.10 => not found
\tlibcudart.so.13 => not found
\tlibcuda.so.1 => not found
\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f5a2c2f1000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f5a2c000000)
\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f5a2bf21000)
\tlibcublas.so.13 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5a2bd40000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f5a2c31f000)
`;

t.test('parseLddMissing: the unresolved libraries, once each, in ldd order', async (t) => {
  t.same(parseLddMissing(LDD_CUDA), ['libcublasLt.so.13', 'libcublas.so.13', 'libcurand.so.10', 'libcudart.so.13', 'libcuda.so.1']);
  t.same(parseLddMissing('\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n'), [], 'everything resolved: nothing missing');
  t.same(parseLddMissing(''), []);
  t.same(parseLddMissing('\tnot a dynamic executable\n'), [], 'not an ELF library: no library names made up');
});

t.test('gpuInstall: no install folder -> not present, the setup command in the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gpu-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = gpuInstall(join(dir, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64'));
  t.equal(r.present, false);
  t.equal(r.loadable, false);
  t.match(r.reason, /npm run setup -- --gpu cuda/);
  t.same(r.providers.map((p) => [p.name, p.present]), [['cuda', false], ['tensorrt', false]]);
});

t.test('gpuInstall: a provider that is not a loadable library is reported, and a version other than the runtime is not loadable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-gpu-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'node_modules/onnxruntime-node');
  const bin = join(pkg, 'bin/napi-v6/linux/x64');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', version: '0.0.1-test' }));
  // A file with the provider's name that is not ELF: ldd refuses it (exit 1), which doctor must say.
  writeFileSync(join(bin, 'libonnxruntime_providers_cuda.so'), 'not an ELF file');
  const r = gpuInstall(bin);
  t.equal(r.present, true);
  t.equal(r.onnxruntime, '0.0.1-test');
  t.equal(r.loadable, false, 'a version other than this process runs cannot load');
  t.match(r.reason, /0\.0\.1-test/);
  const cuda = r.providers.find((p) => p.name === 'cuda');
  t.equal(cuda?.present, true);
  t.match(cuda?.reason ?? '', /ldd/, 'ldd could not read it: said, not reported as "all found"');
  t.equal(r.providers.find((p) => p.name === 'tensorrt')?.present, false);
});
