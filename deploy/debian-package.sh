#!/usr/bin/env bash
# A Debian package a test needs, installed with apt-get when its command is missing (as root, or with sudo);
# says what to do otherwise.   deploy/debian-package.sh PACKAGE COMMAND WHAT-FOR
set -euo pipefail
package=$1 command=$2 why=$3
if command -v "$command" >/dev/null 2>&1; then
  exit 0
fi
run() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi; }
echo "debian-package.sh: installing Debian's $package ($why)" >&2
if ! run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package" >/dev/null; then
  run apt-get update -qq && run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package" >/dev/null || {
    echo "debian-package.sh: could not install $package; install Debian's '$package' package and run make test again" >&2
    exit 1
  }
fi
