#!/usr/bin/env bash
# Build helm v3 from the Go module proxy into <repo>/.tools/bin/helm (static, version-stamped).
#
# Cached: when .tools/bin/helm already reports the wanted version and was built with the
# same stamps (recorded in .tools/stamps/helm), the script returns immediately.
#
# Env:
#   HELM_VERSION      helm release to build (default v3.19.5, which pairs with k8s.io v0.34)
#   HELM_KUBE_MAJOR   Kubernetes major stamped as helm's default Capabilities.KubeVersion (default 1)
#   HELM_KUBE_MINOR   Kubernetes minor (default 34)
#   TOOLS_DIR         tools folder (default <repo>/.tools)
#   TOOLS_FORCE=1     rebuild even when cached
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
HELM_KUBE_MAJOR="${HELM_KUBE_MAJOR:-1}"
HELM_KUBE_MINOR="${HELM_KUBE_MINOR:-34}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
STAMP_DIR="$TOOLS_DIR/stamps"
HELM_BIN="$BIN_DIR/helm"

log() { echo "[provision-helm] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "ERROR: go not found in PATH"
  exit 127
fi

PKG="helm.sh/helm/v3"
LDFLAGS="-s -w"
LDFLAGS+=" -X $PKG/internal/version.version=$HELM_VERSION"
LDFLAGS+=" -X $PKG/internal/version.gitTreeState=clean"
LDFLAGS+=" -X $PKG/pkg/chartutil.k8sVersionMajor=$HELM_KUBE_MAJOR"
LDFLAGS+=" -X $PKG/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR"
LDFLAGS+=" -X $PKG/pkg/lint/rules.k8sVersionMajor=$HELM_KUBE_MAJOR"
LDFLAGS+=" -X $PKG/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR"
WANT_STAMP="helm=$HELM_VERSION kube=$HELM_KUBE_MAJOR.$HELM_KUBE_MINOR cgo=0 ldflags=$LDFLAGS"

installed_version() {
  [[ -x "$HELM_BIN" ]] || return 1
  "$HELM_BIN" version --template '{{.Version}}' 2>/dev/null
}

# Serialise concurrent runs (parallel test suites): the second waits, then finds the cache.
mkdir -p "$TOOLS_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS_DIR/.provision-helm.lock"
  flock 9
fi

# ---- cache check -----------------------------------------------------------------------
if [[ "${TOOLS_FORCE:-0}" != 1 && -x "$HELM_BIN" && -f "$STAMP_DIR/helm" ]] \
   && [[ "$(cat "$STAMP_DIR/helm")" == "$WANT_STAMP" ]] \
   && [[ "$(installed_version || true)" == "$HELM_VERSION" ]]; then
  echo "helm $HELM_VERSION (kube $HELM_KUBE_MAJOR.$HELM_KUBE_MINOR): cached at $HELM_BIN"
  exit 0
fi

# ---- build -------------------------------------------------------------------------------
mkdir -p "$BIN_DIR" "$STAMP_DIR"
rm -f "$STAMP_DIR/helm"
log "building $PKG/cmd/helm@$HELM_VERSION (CGO_ENABLED=0, kube $HELM_KUBE_MAJOR.$HELM_KUBE_MINOR) into $BIN_DIR"
start=$(date +%s)
# `go install pkg@version` ignores any go.mod around it; run from the tools dir anyway so no
# workspace/module of the repo can interfere.
(
  cd "$TOOLS_DIR"
  GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOBIN="$BIN_DIR" \
    nice -n "${TOOLS_NICE:-10}" go install -trimpath -ldflags "$LDFLAGS" "$PKG/cmd/helm@$HELM_VERSION"
)
log "built in $(( $(date +%s) - start ))s"

# ---- verify ------------------------------------------------------------------------------
got="$(installed_version || true)"
if [[ "$got" != "$HELM_VERSION" ]]; then
  log "ERROR: $HELM_BIN version reports '$got', want '$HELM_VERSION'"
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/chart/templates"
cat > "$tmp/chart/Chart.yaml" <<'YAML'
apiVersion: v2
name: provision-check
version: 0.0.1
YAML
cat > "$tmp/chart/templates/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: check
data:
  kubeVersion: "{{ .Capabilities.KubeVersion.Major }}.{{ .Capabilities.KubeVersion.Minor }}"
YAML
out="$(HELM_CACHE_HOME="$tmp/cache" HELM_CONFIG_HOME="$tmp/config" HELM_DATA_HOME="$tmp/data" \
  "$HELM_BIN" template check "$tmp/chart")"
want_kv="kubeVersion: \"$HELM_KUBE_MAJOR.$HELM_KUBE_MINOR\""
if ! grep -qF "$want_kv" <<<"$out"; then
  log "ERROR: helm template did not report Capabilities.KubeVersion $HELM_KUBE_MAJOR.$HELM_KUBE_MINOR:"
  echo "$out" >&2
  exit 1
fi
echo "$WANT_STAMP" > "$STAMP_DIR/helm"
echo "helm $HELM_VERSION (kube $HELM_KUBE_MAJOR.$HELM_KUBE_MINOR): built at $HELM_BIN"
