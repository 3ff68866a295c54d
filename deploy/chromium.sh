#!/usr/bin/env bash
# Headless Chromium for the test that renders the demo report: Debian's `chromium` package.
# Installs it with apt-get when it is missing (as root, or with sudo); says what to do otherwise.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
run() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi; }
echo "chromium.sh: installing Debian's chromium (headless browser for the report test)" >&2
if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; then
  run apt-get update -qq && run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null || {
    echo "chromium.sh: could not install chromium; install Debian's 'chromium' package and run make test again" >&2
    exit 1
  }
fi
