#!/usr/bin/env bash
# Build the Kubernetes test binaries from Go modules into <repo>/.tools/bin: the control plane (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler), the node (kubelet, kube-proxy) and kubectl.
#
# The binaries come from the tools module in scripts/tools/k8s (go.mod/go.sum are committed,
# so normal runs need no dependency resolution). `go install k8s.io/kubernetes/...@v` is
# refused because Kubernetes' go.mod has replace lines, hence the separate module whose
# go.mod mirrors those replaces with the published k8s.io/* v0.X.Y staging modules.
#
# Cached per binary: .tools/stamps/<binary> records the build flags and the module files it was built from.
# When the module files changed (a binary was added to the module, say), the binary's own build info
# (`go version -m`) is compared with what a build would link now: the same modules, tags and ldflags keep the
# binary. So adding a binary to the module costs that binary's build, not a rebuild of all of them.
#
# Env:
#   K8S_VERSION       Kubernetes release (default v1.34.4). Changing it regenerates go.mod/go.sum.
#   K8S_BINARIES      binaries to provision (default: all of them, see BINARIES below)
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

# Binary name -> Go package. Every command of k8s.io/kubernetes that a test harness starts or a test runs.
K8S_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
declare -A BINARIES=([etcd]=go.etcd.io/etcd/server/v3)
for cmd in "${K8S_COMMANDS[@]}"; do BINARIES[$cmd]="k8s.io/kubernetes/cmd/$cmd"; done
ORDER=(kube-apiserver etcd kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
read -r -a WANTED <<<"${K8S_BINARIES:-${ORDER[*]}}"
for name in "${WANTED[@]}"; do
  [[ -n "${BINARIES[$name]:-}" ]] || { log "ERROR: K8S_BINARIES names '$name'; known: ${ORDER[*]}"; exit 2; }
done
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
  local cmd
  for cmd in "${K8S_COMMANDS[@]}"; do
    gomod go get -tool "k8s.io/kubernetes/cmd/$cmd@$K8S_VERSION"
  done
  # etcd: the server module's root package is etcd's main; use the version the apiserver requires.
  local etcd_ver
  etcd_ver="$(gomod go list -m -f '{{.Version}}' go.etcd.io/etcd/client/v3)"
  gomod go get -tool "go.etcd.io/etcd/server/v3@$etcd_ver"
  gomod go mod tidy
  gomod go mod verify >/dev/null
}

missing_tool() { # a wanted package without a `tool` line in go.mod
  local name
  for name in "${WANTED[@]}"; do
    grep -qE "^[[:space:]]*(tool[[:space:]]+)?${BINARIES[$name]}\$" "$MOD_DIR/go.mod" || return 0
  done
  return 1
}

if [[ "${K8S_REGENERATE:-0}" == 1 || ! -f "$MOD_DIR/go.mod" || ! -f "$MOD_DIR/go.sum" \
      || "$(current_k8s_version || true)" != "$K8S_VERSION" ]] || missing_tool; then
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
CONFIG="kubernetes=$K8S_VERSION tags=$TAGS cgo=0 ldflags=$LDFLAGS"

version_of() { # <name>: what the binary's --version is expected to print
  case "$1" in
    etcd) echo "etcd Version: ${ETCD_VERSION#v}" ;;
    kubectl) echo "Client Version: $K8S_VERSION" ;;
    *) echo "Kubernetes $K8S_VERSION" ;;
  esac
}

version_printed() { # <name>
  case "$1" in
    etcd) "$BIN_DIR/etcd" --version 2>&1 | head -1 ;;
    kubectl) "$BIN_DIR/kubectl" version --client 2>&1 | head -1 ;;
    *) "$BIN_DIR/$1" --version 2>&1 | head -1 ;;
  esac
}

# The modules a build of <package> links now, sorted: "path version", or "path => replacement version" for a
# replaced one (whose required version does not matter).
wanted_modules() {
  gomod go list -mod=readonly -deps -tags="$TAGS" \
    -f '{{with .Module}}{{if not .Main}}{{.Path}}{{with .Replace}} => {{.Path}}{{end}} {{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}{{end}}{{end}}' \
    "$1" | sort -u
}

# The modules <binary> was linked with, from its build info (its main module and its deps), in the same form.
linked_modules() {
  go version -m "$1" | awk -F'\t' '
    $2 == "mod" || $2 == "dep" { if (line != "") print line; path = $3; line = $3 " " $4; next }
    $2 == "=>" { line = path " => " $3 " " $4; next }
    END { if (line != "") print line }' | sort -u
}

# The build flags <name> was built with, as recorded when it was built: its stamp, or for kube-apiserver and etcd
# the one stamp both shared before stamps were per binary. (Build info has no -ldflags under -trimpath.)
recorded_config() { # <name>
  local stamp="$STAMP_DIR/$1" legacy="$STAMP_DIR/k8s"
  if [[ -f "$stamp" ]]; then
    sed 's/ mod=[0-9a-f]*$//' "$stamp"
  elif [[ ("$1" == kube-apiserver || "$1" == etcd) && -f "$legacy" ]]; then
    sed -E 's/^(kubernetes=[^ ]+) etcd=[^ ]+ mod=[0-9a-f]+ /\1 /' "$legacy"
  fi
}

# True when <name> was built with the wanted flags and links exactly the modules a build of it would link now.
binary_current() { # <name>
  local bin="$BIN_DIR/$1" info
  [[ "$(recorded_config "$1")" == "$CONFIG" ]] || return 1
  info="$(go version -m "$bin" 2>/dev/null)" || return 1
  grep -qxF "$(printf '\tbuild\t-tags=%s' "$TAGS")" <<<"$info" || return 1
  grep -qxF "$(printf '\tbuild\tCGO_ENABLED=0')" <<<"$info" || return 1
  [[ "$(version_printed "$1")" == "$(version_of "$1")" ]] || return 1
  [[ "$(linked_modules "$bin")" == "$(wanted_modules "${BINARIES[$1]}")" ]]
}

# ---- cache check ------------------------------------------------------------------------------
mkdir -p "$BIN_DIR" "$STAMP_DIR"
stale=()
for name in "${WANTED[@]}"; do
  bin="$BIN_DIR/$name"
  stamp="$STAMP_DIR/$name"
  want="$CONFIG mod=$SUM_HASH"
  if [[ "${TOOLS_FORCE:-0}" != 1 && -x "$bin" ]]; then
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
      echo "$name $(version_of "$name" | awk '{print $NF}'): cached at $bin"
      continue
    fi
    # The module files changed (or the stamp predates per-binary stamps): keep the binary if a build now would
    # link the same modules with the same flags.
    if binary_current "$name"; then
      echo "$want" >"$stamp"
      echo "$name $(version_of "$name" | awk '{print $NF}'): cached at $bin (its modules are unchanged)"
      continue
    fi
  fi
  stale+=("$name")
done
(( ${#stale[@]} > 0 )) || exit 0

# ---- build ------------------------------------------------------------------------------------
for name in "${stale[@]}"; do
  rm -f "$STAMP_DIR/$name"
  start=$(date +%s)
  log "building ${BINARIES[$name]} -> $BIN_DIR/$name"
  gomod env CGO_ENABLED=0 $NICE go build -mod=readonly -trimpath -tags="$TAGS" -ldflags="$LDFLAGS" \
    -o "$BIN_DIR/$name.tmp" "${BINARIES[$name]}"
  mv -f "$BIN_DIR/$name.tmp" "$BIN_DIR/$name"
  log "built $name in $(( $(date +%s) - start ))s"
  got="$(version_printed "$name" || true)"
  if [[ "$got" != "$(version_of "$name")" ]]; then
    log "ERROR: $name printed '$got', want '$(version_of "$name")'"
    exit 1
  fi
  echo "$CONFIG mod=$SUM_HASH" >"$STAMP_DIR/$name"
  echo "$name $(version_of "$name" | awk '{print $NF}'): built at $BIN_DIR/$name"
done
