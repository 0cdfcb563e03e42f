#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and no internet (under 5 minutes):
#   1. `facegate doctor`: every execution provider tried for real (cpu, webgpu, cuda, tensorrt),
#      Vulkan devices, CUDA libraries, GStreamer decoders;
#   2. the detect bench (SCRFD 500m and 2.5g at 640 on a 720p frame) for every provider that
#      loaded, printed as one table with the CPU rows beside it (absolute ms and stage/raw ratios);
#   3. the providers bench: SCRFD, the embedder and the mask classifier on every provider that
#      loaded vs CPU on real photos (agreement: box IoU, landmark px, embedding cosine; speed).
# It needs the repository with node_modules installed (npm ci, or `npm run setup -- --gpu cuda`
# on a machine with internet for the CUDA/TensorRT providers) and ../shared/models (or
# FACEGATE_MODELS_DIR). Where no NVIDIA GPU is present it stops at once with exit code 3.
# Options:
#   --bundle DIR      a machine without Node.js: use what scripts/gpu-bundle.sh packed (node,
#                     node_modules, models, photos, the Vulkan loader and vulkaninfo)
#   --ort-addons DIR  ONNX Runtime's CUDA/TensorRT provider libraries from DIR (e.g. the capi/
#                     folder of an onnxruntime-gpu Python wheel of the same ORT version), copied
#                     beside onnxruntime-node's binding; their CUDA libraries must be on the
#                     loader's path (LD_LIBRARY_PATH)
# Output also goes to $OUT (default .facegate/gpu-check/): doctor.json, bench.txt, providers.txt,
# providers-1thread.txt, detect-profile.json; the benches' stderr in bench.stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.facegate/gpu-check}"
BUNDLE=""
ADDONS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE="${2:?--bundle needs a folder}"; shift 2 ;;
    --ort-addons) ADDONS="${2:?--ort-addons needs a folder}"; shift 2 ;;
    *) echo "gpu-check: unknown option $1 (known: --bundle DIR, --ort-addons DIR)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi is missing or lists no GPU)." >&2
  echo "           This script is for a machine with an NVIDIA GPU and its driver; on a CPU-only box" >&2
  echo "           run \`node bin/facegate.js doctor\` (WebGPU on lavapipe) and \`npm run bench -- detect\`." >&2
  exit 3
fi
if [ -n "$BUNDLE" ]; then
  BUNDLE="$(cd "$BUNDLE" && pwd)"
  mkdir -p "$BUNDLE/bin" "$BUNDLE/root"
  [ -x "$BUNDLE/bin/node" ] || xz -dc "$BUNDLE/node.xz" > "$BUNDLE/bin/node"
  chmod +x "$BUNDLE/bin/node"
  export PATH="$BUNDLE/bin:$PATH"
  [ -d node_modules/onnxruntime-node ] || tar -xJf "$BUNDLE/node_modules.tar.xz"
  for f in "$BUNDLE"/debs/*.deb; do dpkg -x "$f" "$BUNDLE/root"; done
  # The loader and vulkaninfo from the bundle come after the system's own (which win when present).
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$BUNDLE/root/usr/lib/x86_64-linux-gnu"
  export PATH="$PATH:$BUNDLE/root/usr/bin"
  export FACEGATE_MODELS_DIR="$BUNDLE/models" FACEGATE_DATA_DIR="$BUNDLE/data"
  echo "== bundle $BUNDLE: node $(node --version)"
fi
# A driver that installs its Vulkan ICD outside the loader's search path (containers mount it under
# /usr/local/nvidia): point the loader at it.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; echo "== Vulkan ICD: $icd"; break; fi
  done
fi
if [ ! -d node_modules/onnxruntime-node ]; then
  echo "gpu-check: node_modules is missing: run \`npm ci\` (ONNXRUNTIME_NODE_INSTALL=skip) or \`npm run setup -- --gpu cuda\` first" >&2
  exit 2
fi

if [ -n "$ADDONS" ]; then
  binding=$(node -e 'console.log(require("path").join(require("path").dirname(require.resolve("onnxruntime-node/package.json")), "bin/napi-v6", process.platform, process.arch))')
  copied=0
  for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so; do
    if [ -f "$ADDONS/$lib" ]; then cp "$ADDONS/$lib" "$binding/"; copied=$((copied + 1)); echo "== ORT add-on: $lib from $ADDONS"; fi
  done
  [ "$copied" -gt 0 ] || echo "gpu-check: --ort-addons $ADDONS holds no libonnxruntime_providers_*.so; cuda/tensorrt stay unavailable" >&2
fi

echo "== GPUs"
nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

echo "== facegate doctor"
timeout 120 node bin/facegate.js doctor --json > "$OUT/doctor.json" 2> "$OUT/doctor.stderr" || { echo "gpu-check: doctor failed:" >&2; tail -20 "$OUT/doctor.stderr" >&2; exit 1; }
node bin/facegate.js doctor 2>/dev/null || true

providers=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(r.providers.filter((p) => p.ok).map((p) => p.name).join(","));
' "$OUT/doctor.json")
echo "== providers that loaded: $providers"
case "$providers" in
  cpu) echo "gpu-check: only the CPU provider loaded; the bench below has CPU rows only (see doctor's reasons above)" ;;
esac

image_args=()
[ -n "${FACEGATE_DATA_DIR:-}" ] && image_args=(--image "$FACEGATE_DATA_DIR/groups/retinaface_test.jpg")
echo "== detect bench (720p frame, SCRFD 500m and 2.5g at 640; one table, every provider that loaded)"
timeout 240 node --import tsx bench/index.ts detect --ep "$providers" --frames 1280x720 --sizes 640 --tiers 500m,2.5g --runs 30 \
  "${image_args[@]}" --profile "$OUT/detect-profile.json" 2>>"$OUT/bench.stderr" | tee "$OUT/bench.txt"
echo "== providers bench (real photos: agreement with cpu and speed of every model; CPU on every core)"
timeout 240 node --import tsx bench/index.ts providers --ep "$providers" --runs 30 --threads 0 2>>"$OUT/bench.stderr" | tee "$OUT/providers.txt"
echo "== providers bench, CPU as the service runs it (one intra-op thread per session)"
timeout 240 node --import tsx bench/index.ts providers --ep "$providers" --runs 30 --threads 1 2>>"$OUT/bench.stderr" | tee "$OUT/providers-1thread.txt"
echo "== done: $OUT/doctor.json, $OUT/bench.txt, $OUT/providers.txt, $OUT/providers-1thread.txt"
