#!/usr/bin/env bash
# Make sure headless Chromium is installed for the report's screenshot test (trainer-2b
# test/report-font.test.ts). Idempotent: does nothing when `chromium` runs. Debian/Ubuntu only
# (apt); elsewhere it says what is missing and leaves the test to fail under CI.
set -euo pipefail
# (GitHub's ubuntu runners have google-chrome; Ubuntu's chromium package is only a snap stub.)
for bin in chromium chromium-browser google-chrome; do
  if command -v "$bin" >/dev/null 2>&1; then
    echo "install-chromium: $("$bin" --version 2>/dev/null | head -1); nothing to do"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Chromium by hand for the report screenshot test" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
chromium --version
