#!/usr/bin/env bash
# Build kustomize v5 from the Go module proxy into <repo>/.tools/bin/kustomize.
# There is no kubectl on our machines; `kustomize build k8s/` renders exactly what `kubectl kustomize k8s/` does.
#
# Cached: when .tools/bin/kustomize already reports the wanted version and was built with the
# same stamp (recorded in .tools/stamps/kustomize), the script returns immediately.
#
# Env:
#   KUSTOMIZE_VERSION  kustomize release (default v5.8.2; v5.8.3 needs go >= 1.27)
#   TOOLS_DIR          tools folder (default <repo>/.tools)
#   TOOLS_FORCE=1      rebuild even when cached
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
STAMP_DIR="$TOOLS_DIR/stamps"
KUSTOMIZE_BIN="$BIN_DIR/kustomize"

log() { echo "[provision-kustomize] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "ERROR: go not found in PATH"
  exit 127
fi

PKG="sigs.k8s.io/kustomize/kustomize/v5"
LDFLAGS="-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
WANT_STAMP="kustomize=$KUSTOMIZE_VERSION cgo=0 ldflags=$LDFLAGS"

installed_version() {
  [[ -x "$KUSTOMIZE_BIN" ]] || return 1
  "$KUSTOMIZE_BIN" version 2>/dev/null
}

# ---- cache check -----------------------------------------------------------------------
if [[ "${TOOLS_FORCE:-0}" != 1 && -x "$KUSTOMIZE_BIN" && -f "$STAMP_DIR/kustomize" ]] \
   && [[ "$(cat "$STAMP_DIR/kustomize")" == "$WANT_STAMP" ]] \
   && [[ "$(installed_version || true)" == "$KUSTOMIZE_VERSION" ]]; then
  echo "kustomize $KUSTOMIZE_VERSION: cached at $KUSTOMIZE_BIN"
  exit 0
fi

# ---- build -------------------------------------------------------------------------------
mkdir -p "$BIN_DIR" "$STAMP_DIR"
rm -f "$STAMP_DIR/kustomize"
log "building $PKG@$KUSTOMIZE_VERSION (CGO_ENABLED=0) into $BIN_DIR"
start=$(date +%s)
(
  cd "$TOOLS_DIR"
  GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 GOBIN="$BIN_DIR" \
    nice -n "${TOOLS_NICE:-10}" go install -trimpath -ldflags "$LDFLAGS" "$PKG@$KUSTOMIZE_VERSION"
)
log "built in $(( $(date +%s) - start ))s"

# ---- verify ------------------------------------------------------------------------------
got="$(installed_version || true)"
if [[ "$got" != "$KUSTOMIZE_VERSION" ]]; then
  log "ERROR: $KUSTOMIZE_BIN version reports '$got', want '$KUSTOMIZE_VERSION'"
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/kustomization.yaml" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: check-
resources: [cm.yaml]
YAML
cat > "$tmp/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
YAML
if ! "$KUSTOMIZE_BIN" build "$tmp" | grep -qF 'name: check-cm'; then
  log "ERROR: $KUSTOMIZE_BIN build did not apply a namePrefix"
  exit 1
fi
echo "$WANT_STAMP" > "$STAMP_DIR/kustomize"
echo "kustomize $KUSTOMIZE_VERSION: built at $KUSTOMIZE_BIN"
