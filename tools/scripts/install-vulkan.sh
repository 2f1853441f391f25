#!/usr/bin/env bash
# Make sure a Vulkan driver that Dawn (the `webgpu` npm package) accepts is installed, so the
# webgpu backend's tests run on CI machines without a GPU. Idempotent: does nothing when a driver
# is already accepted.
#
# The software driver is Mesa's lavapipe ("llvmpipe" adapter, ~1.4 GFLOP/s here: correctness only).
# Debian bookworm's mesa-vulkan-drivers 22.3 is refused by Dawn ("Vulkan shaderUniform*ArrayDynamicIndexing
# required"), so on bookworm it comes from bookworm-backports (25.x), which Dawn accepts. Ubuntu 24.04
# (GitHub's ubuntu-latest) ships Mesa 24+, which is taken from its own archive.
#
# Usage: tools/scripts/install-vulkan.sh [--check]   (--check: only report, exit 1 when none is accepted)
set -euo pipefail
cd "$(dirname "$0")/../.."

probe() {
  # The real test is whether Dawn gets an adapter; it needs node_modules/webgpu (npm ci first).
  if [ -d node_modules/webgpu ]; then
    node tools/scripts/probe-webgpu.mjs
    return
  fi
  # Before npm ci: a lavapipe or vendor ICD newer than bookworm's 22.x counts as accepted.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23 && echo "mesa-vulkan-drivers $v" && return 0
  return 1
}

if probe; then
  echo "install-vulkan: a Vulkan driver Dawn accepts is present; nothing to do"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "install-vulkan: no Vulkan driver Dawn accepts" >&2
  exit 1
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install-vulkan: need root (or sudo) to install mesa-vulkan-drivers" >&2
    exit 1
  fi
}

# shellcheck disable=SC1091
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Same archive as the main suite (a mirror or snapshot stays the same mirror).
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
    uri=${uri:-http://deb.debian.org/debian}
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" |
      as_root tee "$list" >/dev/null
  fi
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
else
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers
fi

if ! probe; then
  echo "install-vulkan: mesa-vulkan-drivers installed but Dawn still finds no adapter" >&2
  exit 1
fi
echo "install-vulkan: done"
