#!/usr/bin/env bash
# Make sure shellcheck is installed: the docs test lints the Kaggle setup script and the notebook's
# bash cells with it (tools/docs-test/test/kaggle.test.ts skips them, saying so, when it is absent).
# Idempotent: does nothing when shellcheck is on PATH (GitHub's ubuntu-latest has it).
set -euo pipefail
if command -v shellcheck >/dev/null 2>&1; then
  echo "install-shellcheck: $(shellcheck --version | sed -n 's/^version: /shellcheck /p') present; nothing to do"
  exit 0
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install-shellcheck: need root (or sudo) to apt-get install shellcheck" >&2
    exit 1
  fi
}
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends shellcheck
echo "install-shellcheck: $(shellcheck --version | sed -n 's/^version: /shellcheck /p') installed"
