#!/usr/bin/env bash
# Set up a Kaggle notebook (GPU T4 ×2, internet on) for `npx nx run trainer:kaggle`:
#   1. Node 20 (the official tarball, checksum-verified) unless a Node ≥ 20.11 is on PATH;
#   2. npm ci;
#   3. a GPU runtime, by --route:
#      cuda    CUDA 11 user-space libraries from pip wheels (cuda11-requirements.txt) into
#              <tools-dir>/cuda11, on LD_LIBRARY_PATH, and @tensorflow/tfjs-node-gpu (its install
#              script downloads libtensorflow 2.9.1 GPU);
#      vulkan  the Vulkan loader and, when the image lacks it, an ICD file for the NVIDIA driver's
#              Vulkan library, so the `webgpu` package (Dawn) finds the T4;
#      auto    (default) both when `nvidia-smi` lists a GPU, none otherwise: the backend chain then
#              picks tfjs-node-gpu if TensorFlow really sees the GPU, else webgpu, else wasm;
#      cpu     nothing: wasm on every core;
#   4. writes <tools-dir>/env.sh (PATH, LD_LIBRARY_PATH) for the notebook's next cells to `source`;
#   5. builds @laion/vq and prints which backend will run and why (probe-backend.mjs).
#
# Usage: bash apps/trainer/kaggle/setup.sh [--route auto|cuda|vulkan|cpu] [--tools-dir DIR] [--dry-run]
#   --dry-run prints every command it would run and runs none (the route is still decided).
# What runs where, and what was not tested: docs/kaggle.md.
set -euo pipefail

NODE_VERSION=20.20.2
NODE_MIN=20.11
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)

route=auto
tools_dir="$repo/.kaggle"
dry_run=0
usage() {
  echo "usage: bash apps/trainer/kaggle/setup.sh [--route auto|cuda|vulkan|cpu] [--tools-dir DIR] [--dry-run]"
}
while [ $# -gt 0 ]; do
  case $1 in
  --route)
    route=${2:?--route needs a value: auto, cuda, vulkan or cpu}
    shift 2
    ;;
  --tools-dir)
    tools_dir=${2:?--tools-dir needs a folder}
    shift 2
    ;;
  --dry-run)
    dry_run=1
    shift
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "setup.sh: unknown option $1" >&2
    usage >&2
    exit 2
    ;;
  esac
done
case $route in
auto | cuda | vulkan | cpu) ;;
*)
  echo "setup.sh: --route must be auto, cuda, vulkan or cpu, got \"$route\"" >&2
  exit 2
  ;;
esac

say() { echo "setup: $*"; }
# Every command that changes the machine goes through run: --dry-run prints it instead.
run() {
  echo "+ $*"
  if [ "$dry_run" = 0 ]; then "$@"; fi
}
as_root() { if [ "$(id -u)" = 0 ]; then run "$@"; else run sudo "$@"; fi; }

gpu_count() {
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true; else echo 0; fi
}

# A Node on PATH at least NODE_MIN, or the pinned tarball (SHA-256 checked against nodejs.org's list).
ensure_node() {
  if command -v node >/dev/null 2>&1 &&
    node -e "const [a,b]=process.versions.node.split('.').map(Number),[x,y]='$NODE_MIN'.split('.').map(Number);process.exit(a>x||(a===x&&b>=y)?0:1)"; then
    say "node $(node --version) on PATH"
    return
  fi
  local name="node-v$NODE_VERSION-linux-x64"
  local url="https://nodejs.org/dist/v$NODE_VERSION"
  say "installing Node $NODE_VERSION into $tools_dir/node"
  run mkdir -p "$tools_dir/node"
  run curl -fsSL -o "$tools_dir/$name.tar.xz" "$url/$name.tar.xz"
  run curl -fsSL -o "$tools_dir/SHASUMS256.txt" "$url/SHASUMS256.txt"
  if [ "$dry_run" = 0 ]; then
    (cd "$tools_dir" && grep " $name.tar.xz\$" SHASUMS256.txt | sha256sum -c -)
  fi
  run tar -xJf "$tools_dir/$name.tar.xz" -C "$tools_dir/node" --strip-components=1
  export PATH="$tools_dir/node/bin:$PATH"
}

# pip wheels → <tools-dir>/cuda11/nvidia/<lib>/lib; skipped when the same requirements were installed.
install_cuda11() {
  local target="$tools_dir/cuda11"
  local req="$here/cuda11-requirements.txt"
  if [ -f "$target/.requirements" ] && cmp -s "$req" "$target/.requirements"; then
    say "CUDA 11 libraries already in $target"
  else
    run python3 -m pip install --quiet --no-deps --target "$target" -r "$req"
    run cp "$req" "$target/.requirements"
  fi
  # each wheel nvidia-<name>-cu11 puts its libraries in nvidia/<name with _>/lib
  local wheel
  cuda_path=""
  while read -r wheel; do
    cuda_path="$cuda_path${cuda_path:+:}$target/nvidia/${wheel//-/_}/lib"
  done < <(sed -n 's/^nvidia-\(.*\)-cu11==.*/\1/p' "$req")
  export LD_LIBRARY_PATH="$cuda_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # tfjs-node-gpu must match the installed tfjs (one version for every @tensorflow package)
  local tfjs
  tfjs=$(node -p "require('$repo/node_modules/@tensorflow/tfjs-core/package.json').version" 2>/dev/null || echo 4.22.0)
  if [ -d "$repo/node_modules/@tensorflow/tfjs-node-gpu/lib" ]; then
    say "@tensorflow/tfjs-node-gpu already installed"
  else
    run npm install --no-save --no-audit --no-fund "@tensorflow/tfjs-node-gpu@$tfjs"
  fi
}

# Dawn loads libvulkan.so.1, which needs an ICD file naming the driver's Vulkan library. Containers
# often get the NVIDIA driver's libraries without that file; write one when the library is there.
install_vulkan() {
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends libvulkan1
  fi
  local icd_dir=/etc/vulkan/icd.d
  if ls /usr/share/vulkan/icd.d/nvidia_icd*.json "$icd_dir"/nvidia_icd*.json >/dev/null 2>&1; then
    say "NVIDIA Vulkan ICD already registered"
  elif ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia\.so\.0'; then
    say "registering the NVIDIA driver's Vulkan library (libGLX_nvidia.so.0) in $icd_dir"
    as_root mkdir -p "$icd_dir"
    local icd='{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3.0"}}'
    if [ "$dry_run" = 0 ]; then echo "$icd" | as_root tee "$icd_dir/nvidia_icd.json" >/dev/null; else echo "+ write $icd_dir/nvidia_icd.json: $icd"; fi
  else
    say "the NVIDIA driver's Vulkan library (libGLX_nvidia.so.0) is not in this container: the vulkan route cannot work here"
  fi
}

write_env() {
  local env="$tools_dir/env.sh"
  say "writing $env (source it before npx nx run trainer:kaggle)"
  run mkdir -p "$tools_dir"
  local text
  text="export PATH=\"$(dirname "$(command -v node || echo "$tools_dir/node/bin/node")"):\$PATH\""
  if [ -n "${cuda_path:-}" ]; then text="$text
export LD_LIBRARY_PATH=\"$cuda_path\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""; fi
  if [ "$dry_run" = 0 ]; then printf '%s\n' "$text" >"$env"; else printf '%s\n' "$text" | sed 's/^/+   /'; fi
}

cd "$repo"
gpus=$(gpu_count)
if [ "$route" = auto ]; then
  if [ "$gpus" -gt 0 ]; then route=cuda+vulkan; else route=cpu; fi
  say "route auto: $gpus NVIDIA GPU(s) visible → $route"
else
  say "route $route ($gpus NVIDIA GPU(s) visible)"
fi
if [ "$gpus" -gt 1 ]; then
  say "$gpus GPUs: training uses one; the others stay idle (docs/kaggle.md, \"The second T4\")"
fi

ensure_node
run npm ci --no-audit --no-fund
cuda_path=""
case $route in *cuda*) install_cuda11 ;; esac
case $route in *vulkan*) install_vulkan ;; esac
write_env
run npx nx run @laion/vq:build --outputStyle=static
probe=(node "$here/probe-backend.mjs")
if [ "$gpus" -gt 0 ]; then probe+=(--expect-gpu); fi
run "${probe[@]}"
say "done: source $tools_dir/env.sh && npx nx run trainer:kaggle --args=\"--laion\""
