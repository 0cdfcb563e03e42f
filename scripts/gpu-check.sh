#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and no internet (under 5 minutes):
#   1. `facegate doctor`: every execution provider tried for real (cpu, webgpu, cuda, tensorrt),
#      Vulkan devices, CUDA libraries, GStreamer decoders;
#   2. the detect bench (SCRFD 500m and 2.5g at 640 on a 720p frame) for every provider that
#      loaded, printed as one table with the CPU rows beside it (absolute ms and stage/raw ratios).
# It needs the repository with node_modules installed (npm ci, or `npm run setup -- --gpu cuda`
# on a machine with internet for the CUDA/TensorRT providers) and ../shared/models (or
# FACEGATE_MODELS_DIR). Where no NVIDIA GPU is present it stops at once with exit code 3.
# Output also goes to $OUT (default .facegate/gpu-check/): doctor.json, bench.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.facegate/gpu-check}"
mkdir -p "$OUT"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi is missing or lists no GPU)." >&2
  echo "           This script is for a machine with an NVIDIA GPU and its driver; on a CPU-only box" >&2
  echo "           run \`node bin/facegate.js doctor\` (WebGPU on lavapipe) and \`npm run bench -- detect\`." >&2
  exit 3
fi
if [ ! -d node_modules/onnxruntime-node ]; then
  echo "gpu-check: node_modules is missing: run \`npm ci\` (ONNXRUNTIME_NODE_INSTALL=skip) or \`npm run setup -- --gpu cuda\` first" >&2
  exit 2
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

echo "== detect bench (720p frame, SCRFD 500m and 2.5g at 640; one table, every provider that loaded)"
timeout 240 npx --no-install tsx bench/index.ts detect --ep "$providers" --frames 1280x720 --sizes 640 --tiers 500m,2.5g --runs 30 \
  --profile "$OUT/detect-profile.json" 2>"$OUT/bench.stderr" | tee "$OUT/bench.txt"
echo "== done: $OUT/doctor.json, $OUT/bench.txt"
