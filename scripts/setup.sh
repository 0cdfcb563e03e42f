#!/usr/bin/env bash
# Installs what facegate needs on a fresh Debian 12 machine: the GStreamer packages (when missing)
# and the npm dependencies from the lockfile. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip

# Opt-ins: `npm run setup -- --gpu cuda` also installs ONNX Runtime's CUDA 13 / TensorRT providers
# (from the npm registry, into .facegate/gpu; see the end of this script).
GPU=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) GPU="${2:-}"; shift 2 ;;
    --gpu=*) GPU="${1#--gpu=}"; shift ;;
    *) echo "setup: unknown option $1 (known: --gpu cuda)" >&2; exit 2 ;;
  esac
done
if [ -n "$GPU" ] && [ "$GPU" != "cuda" ]; then
  echo "setup: --gpu $GPU is not known: use --gpu cuda (WebGPU needs nothing extra: a Vulkan driver, installed below)" >&2
  exit 2
fi

DEB_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav libgstrtspserver-1.0-0 gir1.2-gst-rtsp-server-1.0
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-gi
  mosquitto mosquitto-clients
  nats-server postgresql chromium fonts-dejavu-core
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# WebGPU execution (ONNX Runtime's Dawn on Vulkan) needs a Vulkan driver. Where no GPU driver is
# installed, Mesa's software rasteriser (lavapipe) runs it on the CPU, so tests and CI exercise the
# same code path a GPU box runs. Debian 12's own Mesa 22.3 lavapipe lacks a feature Dawn requires
# ("No supported adapters"); Mesa 25 from bookworm-backports works. The suite is added only when
# missing; FACEGATE_SKIP_VULKAN=1 skips all of this.
if [ "${FACEGATE_SKIP_VULKAN:-0}" != "1" ] && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  mesa_ver=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  if [ -z "$mesa_ver" ] || dpkg --compare-versions "$mesa_ver" lt 25; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "setup: adding the bookworm-backports suite (Mesa 25 lavapipe for WebGPU)"
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | $SUDO tee /etc/apt/sources.list.d/facegate-backports.sources >/dev/null
    fi
    echo "setup: installing Mesa Vulkan drivers (lavapipe) from bookworm-backports"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 vulkan-tools >/dev/null
  fi
fi

# node_modules is rebuilt only when the lockfile changed since the last install.
stamp=node_modules/.facegate-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# The operator dashboard's static bundle (web/src -> web/dist, git-ignored): rebuilt every time, ~1 s.
npx --no-install tsx scripts/build-web.ts

# The compiled build bin/facegate.js starts from (dist/, git-ignored): only when the sources changed.
node scripts/build.js --if-stale || echo "setup: the compiled build failed; facegate runs from the TypeScript sources (slower start)"

if [ "$GPU" = "cuda" ]; then
  # ONNX Runtime's CUDA 13 / TensorRT 10 providers from the npm registry (com.github.asus4.
  # onnxruntime.linux-x64-gpu, MIT: ~180 MB packed, of which the three Linux x64 provider libraries
  # are kept) beside the onnxruntime-node binding of the same ONNX Runtime (1.29.0), all in
  # .facegate/gpu: package.json, node_modules and CI stay on the CPU build. Provider libraries load
  # only into the ONNX Runtime they were built with; `facegate doctor` says what they still need.
  GPU_DIR=.facegate/gpu
  GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
  ORT_GPU=onnxruntime-node@1.29.0
  BIN="$GPU_DIR/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
  if [ ! -f "$BIN/libonnxruntime_providers_cuda.so" ]; then
    echo "setup: installing $ORT_GPU and $GPU_PKG's CUDA providers into $GPU_DIR"
    mkdir -p "$GPU_DIR"
    [ -f "$GPU_DIR/package.json" ] || echo '{ "name": "facegate-gpu", "private": true }' > "$GPU_DIR/package.json"
    gpu_fetch_failed() {
      echo "setup: could not fetch $1 from the npm registry (offline, or the registry refused it)." >&2
      echo "       Run \`npm run setup -- --gpu cuda\` where the registry is reachable, or copy $GPU_DIR from such a machine." >&2
      exit 1
    }
    # --ignore-scripts: onnxruntime-node's own postinstall would fetch a CUDA 12 add-on from NuGet.
    npm install --prefix "$GPU_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error "$ORT_GPU" || gpu_fetch_failed "$ORT_GPU"
    # Other platforms' bindings are not needed here (~240 MB).
    find "$GPU_DIR/node_modules/onnxruntime-node/bin/napi-v6" -mindepth 2 -maxdepth 2 -type d ! -path '*/linux/x64' -exec rm -rf {} +
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # npm pack fetches the one tarball (integrity checked against the registry), not its 150 MB
    # all-platform dependency.
    (cd "$tmp" && npm pack --silent "$GPU_PKG" >/dev/null) || gpu_fetch_failed "$GPU_PKG"
    tar -xzf "$tmp"/*.tgz -C "$tmp" --wildcards 'package/Plugins/Linux/x64/*.so' 'package/LICENSE*' 2>/dev/null \
      || tar -xzf "$tmp"/*.tgz -C "$tmp" --wildcards 'package/Plugins/Linux/x64/*.so'
    cp "$tmp"/package/Plugins/Linux/x64/libonnxruntime_providers_*.so "$BIN/"
    cp "$tmp"/package/LICENSE* "$GPU_DIR/" 2>/dev/null || true
    rm -rf "$tmp"
    trap - EXIT
  fi
  ls -la "$BIN"
  node bin/facegate.js doctor || true
fi
