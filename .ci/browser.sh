#!/usr/bin/env bash
# Installs the real browser the web view's browser test drives: Debian's
# headless-capable Chromium and its WebDriver server. Called from .ci/run
# before the tests; safe to run again (apt skips what is installed).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium and chromedriver are installed: $(chromium --version 2>/dev/null || true)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version 2>/dev/null || true
chromedriver --version
