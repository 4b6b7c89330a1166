# shellcheck shell=bash
# Shared by the image scripts: where buildah keeps its images (git-ignored, under .tools/) and how it is called.
# vfs needs no kernel overlay support and no fuse, so it works inside CI containers; chroot isolation needs no
# container runtime (runc/crun) either.

IMAGE_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE_STATE_DIR="${MODELGATE_IMAGE_STATE_DIR:-$IMAGE_REPO_ROOT/.tools/containers}"
IMAGE_CACHE_DIR="$IMAGE_STATE_DIR/cache"

# The image name the check builds; BASE_IMAGE_NAME is the local Node base made by base.sh.
IMAGE_NAME="${MODELGATE_IMAGE_NAME:-localhost/modelgate:check}"
# The repository part of IMAGE_NAME: build.sh's cache tags live beside it.
IMAGE_NAME_BASE="${IMAGE_NAME%:*}"
BASE_IMAGE_NAME="localhost/modelgate-node-base"

# TMPDIR: buildah's temporary files and RUN cache mounts stay under the state directory too.
bah() {
  mkdir -p "$IMAGE_STATE_DIR/tmp"
  TMPDIR="$IMAGE_STATE_DIR/tmp" buildah --storage-driver vfs --root "$IMAGE_STATE_DIR/storage" --runroot "$IMAGE_STATE_DIR/run" "$@"
}

# <image>: its ID (sha256:...), empty when absent
image_id() {
  bah images --no-trunc --noheading --format '{{.ID}}' "$1" 2>/dev/null | head -1
}

image_log() {
  echo "image: $*" >&2
}

image_require_root() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "image: this check needs root (mmdebstrap, buildah with vfs storage, mount namespaces for the read-only run)." >&2
    echo "image: run it as root, e.g. in CI's container, or with sudo." >&2
    exit 1
  fi
  local tool
  for tool in buildah mmdebstrap unshare chroot strip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "image: $tool not found; install it with: bash scripts/ci/system-packages.sh" >&2
      exit 1
    fi
  done
}
