#!/usr/bin/env bash
# Smoke test for the provisioned control plane: start etcd + kube-apiserver on loopback (free
# ports, temp dir, static admin token, SA signing keys), wait for /readyz, print /version, stop
# both and verify no process is left behind.
#
# Env:
#   TOOLS_DIR            tools folder (default <repo>/.tools)
#   SMOKE_READY_TIMEOUT  seconds to wait for readiness (default 120)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
TIMEOUT="${SMOKE_READY_TIMEOUT:-120}"

log() { echo "[smoke-apiserver] $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

for b in "$BIN_DIR/etcd" "$BIN_DIR/kube-apiserver"; do
  [[ -x "$b" ]] || die "$b missing (run scripts/tools/provision-k8s.sh)"
done
for c in openssl curl; do
  command -v "$c" >/dev/null || die "$c not found"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/modelgate-smoke.XXXXXX")"
ETCD_PID="" APISERVER_PID=""

# Processes we started: our two pids, plus anything whose command line names our temp dir.
leftovers() {
  local p found=""
  for p in $ETCD_PID $APISERVER_PID; do
    kill -0 "$p" 2>/dev/null && found+=" $p"
  done
  for p in /proc/[0-9]*; do
    [[ "${p#/proc/}" == "$$" ]] && continue
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$WORK/"; then
      [[ " $found " == *" ${p#/proc/} "* ]] || found+=" ${p#/proc/}"
    fi
  done
  echo "$found"
}

stop() { # <pid> <name>
  local pid="$1" i
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$2 (pid $pid) ignored SIGTERM for 10s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

CLEANED=0
cleanup() {
  (( CLEANED )) && return 0
  CLEANED=1
  stop "$APISERVER_PID" kube-apiserver
  stop "$ETCD_PID" etcd
  local left; left="$(leftovers)"
  if [[ -n "$left" ]]; then
    log "FAIL: processes left behind:$left"
    return 1
  fi
  rm -rf "$WORK"
}
trap 'cleanup || exit 1' EXIT
trap 'exit 130' INT TERM

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p
  while :; do
    p=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
ETCD_CLIENT_PORT="$(free_port)"
ETCD_PEER_PORT="$(free_port)"
while [[ "$ETCD_PEER_PORT" == "$ETCD_CLIENT_PORT" ]]; do ETCD_PEER_PORT="$(free_port)"; done
API_PORT="$(free_port)"
while [[ "$API_PORT" == "$ETCD_CLIENT_PORT" || "$API_PORT" == "$ETCD_PEER_PORT" ]]; do API_PORT="$(free_port)"; done

# ---- etcd ----------------------------------------------------------------------------------------
start="$EPOCHREALTIME"
"$BIN_DIR/etcd" --name smoke --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "smoke=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --unsafe-no-fsync --log-level warn >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
log "etcd pid $ETCD_PID on 127.0.0.1:$ETCD_CLIENT_PORT"
for ((i = 0; ; i++)); do
  kill -0 "$ETCD_PID" 2>/dev/null || { cat "$WORK/etcd.log" >&2; die "etcd exited"; }
  curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"' && break
  (( i < TIMEOUT * 10 )) || { tail -20 "$WORK/etcd.log" >&2; die "etcd not healthy after ${TIMEOUT}s"; }
  sleep 0.1
done

# ---- kube-apiserver --------------------------------------------------------------------------------
TOKEN="$(openssl rand -hex 24)"
echo "$TOKEN,admin,admin-uid,\"system:masters\"" >"$WORK/tokens.csv"
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
openssl rsa -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub" 2>/dev/null
ISSUER=https://kubernetes.default.svc.cluster.local
"$BIN_DIR/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --cert-dir="$WORK/pki" --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
  --authorization-mode=Node,RBAC --token-auth-file="$WORK/tokens.csv" \
  --service-account-issuer="$ISSUER" --service-account-signing-key-file="$WORK/sa.key" \
  --service-account-key-file="$WORK/sa.pub" --api-audiences="$ISSUER" \
  --disable-admission-plugins=ServiceAccount --endpoint-reconciler-type=none \
  >"$WORK/apiserver.log" 2>&1 &
APISERVER_PID=$!
log "kube-apiserver pid $APISERVER_PID on https://127.0.0.1:$API_PORT"

CA="$WORK/pki/apiserver.crt"
api() { curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$@"; }
for ((i = 0; ; i++)); do
  kill -0 "$APISERVER_PID" 2>/dev/null || { tail -40 "$WORK/apiserver.log" >&2; die "kube-apiserver exited"; }
  if [[ -s "$CA" ]] && [[ "$(api -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null)" == 200 ]]; then
    break
  fi
  (( i < TIMEOUT * 5 )) || { tail -40 "$WORK/apiserver.log" >&2; api "https://127.0.0.1:$API_PORT/readyz?verbose" >&2 || true; die "not ready after ${TIMEOUT}s"; }
  sleep 0.2
done
log "ready in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')s (etcd + apiserver)"

echo "GET /version:"
api -f "https://127.0.0.1:$API_PORT/version"
echo

# Token auth is really on: anonymous requests to an API path are rejected (401 or 403).
code="$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/api/v1/namespaces")"
[[ "$code" == 401 || "$code" == 403 ]] || die "anonymous GET /api/v1/namespaces returned $code, want 401/403"
code="$(api -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/api/v1/namespaces/default")"
[[ "$code" == 200 ]] || die "admin GET /api/v1/namespaces/default returned $code, want 200"

trap - EXIT
cleanup || die "cleanup failed"
log "PASS: etcd and kube-apiserver started, served /version, and stopped with no process left"
