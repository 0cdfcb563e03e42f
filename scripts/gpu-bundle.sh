#!/usr/bin/env bash
# Pack what scripts/gpu-check.sh needs onto an offline GPU machine that has no Node.js, npm or
# Vulkan loader (a bare CUDA image, say): run here, copy the folder beside the checkout there, then
# `bash scripts/gpu-check.sh --bundle DIR`. Under 64 MiB in all:
#   node.xz              this machine's node binary (x86-64 Linux)
#   node_modules.tar.xz  the packages the doctor and the benches import (found with esbuild's
#                        metafile from their entry points) plus the native ones and their
#                        dependencies; onnxruntime-node with its linux-x64 binding only; no
#                        build intermediates, sources or the browser driver (the e2e bench's
#                        dashboard pages are not part of the check)
#   models/              the models the check runs (detector tiers, the embedder's source, mask)
#   data/                the four real photos the providers bench compares on
#   debs/                Vulkan loader, GL dispatch libraries (the NVIDIA ICD links them) and
#                        vulkaninfo from Debian (the NVIDIA driver brings the ICD itself)
# usage: bash scripts/gpu-bundle.sh [DIR]   (default .facegate/gpu-bundle)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-.facegate/gpu-bundle}"
MODELS_SRC="${FACEGATE_MODELS_DIR:-../shared/models}"
DATA_SRC="${FACEGATE_DATA_DIR:-../shared/data}"
[ -d node_modules/onnxruntime-node ] || { echo "gpu-bundle: node_modules is missing: run \`npm ci\` (or scripts/setup.sh) first" >&2; exit 2; }
[ "$(uname -m)" = x86_64 ] || { echo "gpu-bundle: this packs this machine's node binary; run it on x86-64 Linux" >&2; exit 2; }
rm -rf "$DIR" && mkdir -p "$DIR/models" "$DIR/data" "$DIR/debs"

echo "gpu-bundle: node $(node --version)"
xz -T0 -9 -c "$(readlink -f "$(command -v node)")" > "$DIR/node.xz"

# The package list: what esbuild reaches from the entry points, plus the runtime packages it is
# told to leave alone (native bindings, the tsx loader) with their dependencies.
node - "$DIR/packages.txt" <<'EOF'
const { buildSync } = require('esbuild');
const fs = require('fs');
const path = require('path');
const external = ['onnxruntime-node', 'sharp', 'better-sqlite3', 'tsx', 'esbuild'];
const meta = buildSync({ entryPoints: ['bench/index.ts', 'src/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', write: false, outdir: 'out', metafile: true, external, logLevel: 'error' }).metafile;
const pkgs = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) pkgs.add(m[1]);
}
const queue = [...external, '@esbuild/linux-x64', ...pkgs];
while (queue.length) {
  const name = queue.pop();
  const file = path.join('node_modules', name, 'package.json');
  if (!fs.existsSync(file)) continue; // an optional dependency for another platform
  pkgs.add(name);
  const pj = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) if (!pkgs.has(dep)) queue.push(dep);
}
fs.writeFileSync(process.argv[2], [...pkgs].sort().map((p) => `node_modules/${p}`).join('\n') + '\n');
EOF
echo "gpu-bundle: $(wc -l < "$DIR/packages.txt") packages"
tar -cf - --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' --exclude='node_modules/better-sqlite3/deps' --exclude='node_modules/better-sqlite3/src' \
  --exclude='node_modules/better-sqlite3/build/Release/obj' --exclude='node_modules/better-sqlite3/build/Release/obj.target' --exclude='node_modules/protobufjs/cli' \
  --exclude='node_modules/rxjs/src' --exclude='node_modules/playwright-core' --exclude='*.map' --exclude='*.d.ts' --exclude='*.md' \
  -T "$DIR/packages.txt" | xz -T0 -9 > "$DIR/node_modules.tar.xz"

models=$(node -e '
  const m = JSON.parse(require("fs").readFileSync("models/manifest.json", "utf8")).models;
  const want = ["scrfd_500m", "det_2.5g", "w600k_mbf_int8", "seetaface6_mask"];
  console.log(want.map((n) => m.find((e) => e.name === n).file).join(" "));')
for f in $models; do cp "$MODELS_SRC/$f" "$DIR/models/"; done
for p in groups/faceapi_bbt4.jpg identities/deepface/jennifer/img53.jpg identities/easyface/easyface_person_1/mask_face_recognition_2.jpg groups/retinaface_test.jpg; do
  mkdir -p "$DIR/data/$(dirname "$p")" && cp "$DATA_SRC/$p" "$DIR/data/$p"
done
(cd "$DIR/debs" && apt-get download -q libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 vulkan-tools libwayland-client0 libffi8 libx11-6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 libx11-data >/dev/null)
du -sh "$DIR"
echo "gpu-bundle: done: $DIR (then: bash scripts/gpu-check.sh --bundle $DIR)"
