#!/usr/bin/env bash
# Runs a command from an image's root filesystem the way a locked-down pod runs it, without a container runtime:
#   - the root filesystem is mounted read-only (readOnlyRootFilesystem: true);
#   - the only writable places are a fresh tmpfs at /tmp and the artifact directory (the pod's emptyDir), which is
#     a host directory bind-mounted at the image's /var/run/modelgate;
#   - the process runs as the image's numeric user (never root), in its own mount and PID namespaces (it is PID 1,
#     like in a container), with only the environment given, in the image's working directory.
# The network is the host's (tests bind 127.0.0.1).
#
# Usage: sandbox.sh <rootfs> <artifact-dir> <env-file> -- <command> [args...]
#   <rootfs>       an unpacked image root, e.g. from `buildah mount`
#   <env-file>     KEY=VALUE lines: the process's whole environment
#   SANDBOX_USER (uid:gid, default 10001:10001), SANDBOX_WORKDIR (default /app) come from the image config.
set -euo pipefail

if [[ "${1:-}" != --inside ]]; then
  if (($# < 5)) || [[ "$4" != -- ]]; then
    echo "usage: sandbox.sh <rootfs> <artifact-dir> <env-file> -- <command> [args...]" >&2
    exit 2
  fi
  # --kill-child: if unshare dies, the sandboxed process dies too (no orphans).
  unshare --mount --pid --fork --kill-child -- bash "${BASH_SOURCE[0]}" --inside "$@" &
  wrapper=$!
  # unshare does not pass signals on; like `docker stop`, SIGTERM/SIGINT go to the sandbox's PID 1.
  forward() {
    local children
    children="$(cat "/proc/$wrapper/task/$wrapper/children" 2>/dev/null || true)"
    if [[ -n "$children" ]]; then
      # shellcheck disable=SC2086
      kill "-$1" $children 2>/dev/null || true
    fi
  }
  trap 'forward TERM' TERM
  trap 'forward INT' INT
  while kill -0 "$wrapper" 2>/dev/null; do
    wait "$wrapper" || true
  done
  wait "$wrapper"
  exit $?
fi
shift
rootfs="$1" artifacts="$2" env_file="$3"
shift 4
user="${SANDBOX_USER:-10001:10001}"
workdir="${SANDBOX_WORKDIR:-/app}"

# One mount point serves every sandbox: each namespace has its own mounts on it, and they vanish with it.
view="${SANDBOX_VIEW:-/run/modelgate-image-sandbox}"
mkdir -p "$view"
mount --bind "$rootfs" "$view"
mount -o remount,bind,ro,nosuid,nodev "$view"
mount -t tmpfs -o mode=1777,nosuid,nodev,size=64m tmpfs "$view/tmp"
mount -t proc -o nosuid,nodev,noexec proc "$view/proc"
# A minimal /dev: the usual character devices, nothing else of the host's.
mount -t tmpfs -o mode=0755,nosuid,noexec,size=64k tmpfs "$view/dev"
for node in null zero full random urandom; do
  touch "$view/dev/$node"
  mount --bind "/dev/$node" "$view/dev/$node"
done
ln -s /proc/self/fd "$view/dev/fd"
ln -s /proc/self/fd/0 "$view/dev/stdin"
ln -s /proc/self/fd/1 "$view/dev/stdout"
ln -s /proc/self/fd/2 "$view/dev/stderr"
# The artifact directory as the image sees it (/var/run is a symlink to /run in Debian): resolved inside the root.
target="$(chroot "$view" /bin/sh -c 'cd /var/run/modelgate && pwd -P')"
mount --bind "$artifacts" "$view$target"

mapfile -t environment <"$env_file"
cd /
exec chroot --userspec="$user" "$view" /usr/bin/env -i -C "$workdir" "${environment[@]}" "$@"
