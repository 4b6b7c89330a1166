#!/usr/bin/env bash
# `npm run image:check`: the container image, built and run without a Docker engine.
#   1. local Node base images (scripts/image/base.sh; cached, rebuilt only when their inputs change): the runtime
#      base and, for the build stage, the same plus npm
#   2. the real Dockerfile built with buildah against them (scripts/image/build.sh)
#   3. the image size (goal: at most 200 MB uncompressed)
#   4. the image's config, contents and entry points checked from its mounted root filesystem, read-only, as its
#      user, against a real PostgreSQL (test/image/run-image.mjs with scripts/image/sandbox.sh)
# Needs root, buildah and mmdebstrap (scripts/ci/system-packages.sh installs them) and the npm registry.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image_require_root
cd "$IMAGE_REPO_ROOT"

SIZE_GOAL_MB=200
t0=$SECONDS
phase() { # <label> <start seconds>
  image_log "$1 in $((SECONDS - $2))s"
}

t=$SECONDS
bases="$(bash scripts/image/base.sh)"
read -r base build_base <<<"$bases"
phase "base images $base (runtime) and $build_base (build) ready" "$t"

t=$SECONDS
image="$(bash scripts/image/build.sh "$base" "$build_base")"
phase "built $image" "$t"

size_bytes() { # <image>: the uncompressed size, the sum of its layers (stored as plain tar in vfs)
  bah inspect --type image --format '{{.Manifest}}' "$1" |
    node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).layers.reduce((n,l)=>n+l.size,0)))'
}
total="$(size_bytes "$image")"
base_size="$(size_bytes "$base")"
mb() { node -e "console.log((Number(process.argv[1]) / 1e6).toFixed(1))" "$1"; }
image_log "size: $(mb "$total") MB uncompressed ($(mb "$base_size") MB base + $(mb $((total - base_size))) MB modelgate); goal <= $SIZE_GOAL_MB MB"
if ((total > SIZE_GOAL_MB * 1000 * 1000)); then
  image_log "size: over the $SIZE_GOAL_MB MB goal; see docs/image.md"
  exit 1
fi

t=$SECONDS
work="$(mktemp -d)"
ctr="$(bah from --pull=never "$image")"
cleanup() {
  bah umount "$ctr" >/dev/null 2>&1 || true
  bah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rootfs="$(bah mount "$ctr")"
bah inspect --type image "$image" |
  node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.stringify(JSON.parse(s).OCIv1)))' \
    >"$work/config.json"
node test/image/run-image.mjs "$rootfs" "$work/config.json"
phase "run check" "$t"
image_log "image check passed in $((SECONDS - t0))s"
