#!/usr/bin/env bash
# Provision what the e2e suite's node needs besides the Kubernetes binaries (provision-k8s.sh builds kubelet,
# kube-proxy and the control plane):
#   - Debian packages: containerd (1.6) and runc, the CNI plugins (bridge, host-local, loopback in /usr/lib/cni),
#     iptables (kube-proxy and the kubelet program it), iproute2 (ip netns, bridges) and util-linux (nsenter);
#   - the pods' sandbox ("pause") process, a small static Go program (scripts/tools/pause), built into
#     .tools/bin/pause; scripts/image/e2e-images.sh turns it into the node's sandbox image.
#
# Installing containerd on a systemd machine enables and starts a system containerd; the harness never uses it
# (its containerd has its own config, socket, root and state), and when this script installed the package it
# disables that service again, so nothing runs that nobody asked for.
#
# Cached: packages that are installed are left alone; the pause binary is rebuilt only when its source or the Go
# version changed (.tools/stamps/pause). Prints one line per part.
#
# Needs root for the packages. Without root and with packages missing it prints a loud SKIP and exits 0, unless
# MODELGATE_REQUIRE_ALL=1 (CI), where that is an error (exit 1).
#
# Env:
#   TOOLS_DIR         tools folder (default <repo>/.tools)
#   TOOLS_FORCE=1     rebuild the pause binary even when cached
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
STAMP_DIR="$TOOLS_DIR/stamps"
PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 util-linux)

log() { echo "[provision-node] $*" >&2; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "##########################################################################" >&2
    echo "SKIP: Debian packages ${missing[*]} missing and not root: the e2e suite will be skipped" >&2
    echo "##########################################################################" >&2
    if [[ "${MODELGATE_REQUIRE_ALL:-0}" == 1 ]]; then
      log "FAIL: MODELGATE_REQUIRE_ALL=1 and packages are missing: ${missing[*]}"
      exit 1
    fi
  else
    log "installing ${missing[*]}"
    start=$(date +%s)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ " ${missing[*]} " == *" containerd "* ]] && [[ -d /run/systemd/system ]]; then
      systemctl disable --now containerd >/dev/null 2>&1 || true
    fi
    log "installed in $(($(date +%s) - start))s"
  fi
fi
for pkg in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "$pkg $(dpkg-query -W -f='${Version}' "$pkg"): installed"
  fi
done

if ! command -v go >/dev/null 2>&1; then
  log "ERROR: go not found in PATH"
  exit 127
fi
mkdir -p "$BIN_DIR" "$STAMP_DIR"
want="go=$(go env GOVERSION) src=$(cat "$SCRIPT_DIR/pause/go.mod" "$SCRIPT_DIR/pause/main.go" | sha256sum | cut -c1-16)"
if [[ "${TOOLS_FORCE:-0}" != 1 && -x "$BIN_DIR/pause" && -f "$STAMP_DIR/pause" && "$(cat "$STAMP_DIR/pause")" == "$want" ]]; then
  echo "pause: cached at $BIN_DIR/pause"
  exit 0
fi
(cd "$SCRIPT_DIR/pause" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$BIN_DIR/pause.tmp" .)
mv -f "$BIN_DIR/pause.tmp" "$BIN_DIR/pause"
echo "$want" >"$STAMP_DIR/pause"
echo "pause: built at $BIN_DIR/pause"
