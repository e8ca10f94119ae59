#!/usr/bin/env bash
# ensure-apt.sh <package> <binary> [optional]: installs a Debian package whose
# binary is missing, when running as root with apt-get. Without root, a
# required package is an error; an optional one only a warning (the tests that
# need it skip and say so).
set -euo pipefail
pkg=$1 bin=$2 optional=${3:-}
if command -v "$pkg" >/dev/null 2>&1 || [ -x "$bin" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing $pkg (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # Another install (a parallel make, the machine's own apt) holds dpkg's lock
  # for a while: wait for it rather than fail.
  lock=(-o DPkg::Lock::Timeout=600)
  apt-get "${lock[@]}" install -y -qq "$pkg" >/dev/null 2>&1 ||
    { apt-get "${lock[@]}" update -qq && apt-get "${lock[@]}" install -y -qq "$pkg" >/dev/null; }
  exit 0
fi
if [ -n "$optional" ]; then
  echo "warning: $bin not found (Debian: sudo apt-get install $pkg); the tests that need it are skipped" >&2
  exit 0
fi
echo "$bin not found: install it (Debian: sudo apt-get install $pkg)" >&2
exit 1
