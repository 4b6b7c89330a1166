#!/usr/bin/env bash
# Build a test control plane (kube-apiserver + etcd) from Go modules into <repo>/.tools/bin.
#
# The binaries come from the tools module in scripts/tools/k8s (go.mod/go.sum are committed,
# so normal runs need no dependency resolution). `go install k8s.io/kubernetes/...@v` is
# refused because Kubernetes' go.mod has replace lines, hence the separate module whose
# go.mod mirrors those replaces with the published k8s.io/* v0.X.Y staging modules.
#
# Cached: when both binaries exist and .tools/stamps/k8s matches the wanted versions, build
# flags and the module's go.sum, the script returns at once.
#
# Env:
#   K8S_VERSION       Kubernetes release (default v1.34.4). Changing it regenerates go.mod/go.sum.
#   TOOLS_DIR         tools folder (default <repo>/.tools)
#   TOOLS_FORCE=1     rebuild even when cached
#   K8S_REGENERATE=1  regenerate scripts/tools/k8s/go.mod and go.sum from scratch
#   K8S_GENERATE_ONLY=1  only (re)generate the module, do not build
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
MOD_DIR="$SCRIPT_DIR/k8s"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
STAMP_DIR="$TOOLS_DIR/stamps"
MOD_NAME="modelgate/scripts/tools/k8s"
NICE="nice -n ${TOOLS_NICE:-10}"

log() { echo "[provision-k8s] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "ERROR: go not found in PATH"
  exit 127
fi

if [[ ! "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  log "ERROR: K8S_VERSION must look like v1.34.4, got '$K8S_VERSION'"
  exit 2
fi
K8S_MINOR="${BASH_REMATCH[1]}"
K8S_PATCH="${BASH_REMATCH[2]}"
STAGING_VERSION="v0.$K8S_MINOR.$K8S_PATCH"

export GOWORK=off
gomod() { (cd "$MOD_DIR" && "$@"); }

current_k8s_version() {
  [[ -f "$MOD_DIR/go.mod" ]] || return 1
  gomod go mod edit -json | awk '
    /"Path": "k8s.io\/kubernetes"/ {found=1; next}
    found && /"Version":/ {gsub(/[",]/, "", $2); print $2; exit}'
}

# Serialise concurrent runs (parallel test suites): the second waits, then finds the cache.
mkdir -p "$TOOLS_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS_DIR/.provision-k8s.lock"
  flock 9
fi

# ---- (re)generate the tools module when missing or at another Kubernetes version ---------
generate_module() {
  log "generating $MOD_DIR/go.mod for k8s.io/kubernetes@$K8S_VERSION (staging modules at $STAGING_VERSION)"
  mkdir -p "$MOD_DIR"
  rm -f "$MOD_DIR/go.mod" "$MOD_DIR/go.sum"
  gomod go mod init "$MOD_NAME" >/dev/null 2>&1
  # Kubernetes' own go.mod: copy each `k8s.io/X => ./staging/...` replace as k8s.io/X@v0.MINOR.PATCH.
  local upstream_mod
  upstream_mod="$(gomod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
    | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$upstream_mod" ]] || { log "ERROR: could not fetch go.mod of k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
  local args=() m
  while read -r m; do
    args+=("-replace=$m=$m@$STAGING_VERSION")
  done < <(grep -E '^[[:space:]]*k8s\.io/[^[:space:]]+[[:space:]]+=>[[:space:]]+\./staging/' "$upstream_mod" | awk '{print $1}')
  (( ${#args[@]} > 0 )) || { log "ERROR: no staging replaces found in $upstream_mod"; exit 1; }
  log "adding ${#args[@]} staging replace directives"
  gomod go mod edit "${args[@]}"
  # Mirror upstream's minimum go version (go get raises it if a dependency needs more) and its
  # godebug default (go1.24 for 1.34).
  local gv gd
  gv="$(sed -n 's/^go[[:space:]]\+\([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$upstream_mod" | head -1)"
  [[ -n "$gv" ]] && gomod go mod edit -go="$gv"
  gd="$(sed -n 's/^godebug[[:space:]]\+default=\(go[0-9.]*\).*/\1/p' "$upstream_mod" | head -1)"
  [[ -n "$gd" ]] && gomod go mod edit -godebug="default=$gd"
  gomod go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION"
  # etcd: the server module's root package is etcd's main; use the version the apiserver requires.
  local etcd_ver
  etcd_ver="$(gomod go list -m -f '{{.Version}}' go.etcd.io/etcd/client/v3)"
  gomod go get -tool "go.etcd.io/etcd/server/v3@$etcd_ver"
  gomod go mod tidy
  gomod go mod verify >/dev/null
}

if [[ "${K8S_REGENERATE:-0}" == 1 || ! -f "$MOD_DIR/go.mod" || ! -f "$MOD_DIR/go.sum" \
      || "$(current_k8s_version || true)" != "$K8S_VERSION" ]]; then
  generate_module
fi
if [[ "${K8S_GENERATE_ONLY:-0}" == 1 ]]; then
  log "K8S_GENERATE_ONLY=1: module ready in $MOD_DIR, not building"
  exit 0
fi

ETCD_VERSION="$(awk '$1=="go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$MOD_DIR/go.mod")"
[[ -n "$ETCD_VERSION" ]] || { log "ERROR: go.etcd.io/etcd/server/v3 missing from $MOD_DIR/go.mod"; exit 1; }

# Version stamps (unstamped, /version reports v0.0.0 and helm's kubeVersion checks fail).
# buildDate: the release's publication time from the module proxy (.info only, no zip download).
BUILD_DATE="$(gomod go list -m -json "k8s.io/kubernetes" 2>/dev/null \
  | sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p' | head -1 || true)"
BUILD_DATE="${BUILD_DATE:-1970-01-01T00:00:00Z}"
LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR"
  LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
done
TAGS="selinux,notest,grpcnotrace"
SUM_HASH="$(cat "$MOD_DIR/go.mod" "$MOD_DIR/go.sum" | sha256sum | cut -c1-16)"
WANT_STAMP="kubernetes=$K8S_VERSION etcd=$ETCD_VERSION mod=$SUM_HASH tags=$TAGS cgo=0 ldflags=$LDFLAGS"

# ---- cache check ----------------------------------------------------------------------------
if [[ "${TOOLS_FORCE:-0}" != 1 && -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/etcd" \
      && -f "$STAMP_DIR/k8s" && "$(cat "$STAMP_DIR/k8s")" == "$WANT_STAMP" ]]; then
  echo "kube-apiserver $K8S_VERSION: cached at $BIN_DIR/kube-apiserver"
  echo "etcd $ETCD_VERSION: cached at $BIN_DIR/etcd"
  exit 0
fi

# ---- build ------------------------------------------------------------------------------------
mkdir -p "$BIN_DIR" "$STAMP_DIR"
rm -f "$STAMP_DIR/k8s"
build() { # <output name> <package>
  local start; start=$(date +%s)
  log "building $2 -> $BIN_DIR/$1"
  gomod env CGO_ENABLED=0 $NICE go build -mod=readonly -trimpath -tags="$TAGS" -ldflags="$LDFLAGS" \
    -o "$BIN_DIR/$1.tmp" "$2"
  mv -f "$BIN_DIR/$1.tmp" "$BIN_DIR/$1"
  log "built $1 in $(( $(date +%s) - start ))s"
}
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build etcd go.etcd.io/etcd/server/v3

# ---- verify -----------------------------------------------------------------------------------
got="$("$BIN_DIR/kube-apiserver" --version 2>&1 || true)"
if [[ "$got" != "Kubernetes $K8S_VERSION" ]]; then
  log "ERROR: kube-apiserver --version printed '$got', want 'Kubernetes $K8S_VERSION'"
  exit 1
fi
got="$("$BIN_DIR/etcd" --version 2>&1 | head -1 || true)"
if [[ "$got" != "etcd Version: ${ETCD_VERSION#v}" ]]; then
  log "ERROR: etcd --version printed '$got', want 'etcd Version: ${ETCD_VERSION#v}'"
  exit 1
fi
echo "$WANT_STAMP" > "$STAMP_DIR/k8s"
echo "kube-apiserver $K8S_VERSION: built at $BIN_DIR/kube-apiserver"
echo "etcd $ETCD_VERSION: built at $BIN_DIR/etcd"
