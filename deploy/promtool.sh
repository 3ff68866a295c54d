#!/usr/bin/env bash
# promtool, for the test that checks and unit-tests deploy/prometheus/alerts.yml: Debian's `prometheus` package.
# Installs it with apt-get when it is missing (as root, or with sudo); says what to do otherwise.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
run() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi; }
echo "promtool.sh: installing Debian's prometheus (for promtool)" >&2
if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; then
  run apt-get update -qq && run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null || {
    echo "promtool.sh: could not install prometheus; install Debian's 'prometheus' package (or promtool) and run make test again" >&2
    exit 1
  }
fi
