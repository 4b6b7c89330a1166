#!/usr/bin/env bash
# Debian packages the test suites use: promtool and prometheus for metrics checks, buildah/mmdebstrap for the
# image (binutils: strip, for the node binary of the local base), openssl for the https source test, chromium for
# the test that opens /docs in a real browser.
set -euo pipefail
wanted=(prometheus buildah mmdebstrap uidmap openssl binutils chromium)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: ${wanted[*]}"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root or install them first)" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package starts a server on install; tests start their own.
systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
pkill -x prometheus >/dev/null 2>&1 || true
