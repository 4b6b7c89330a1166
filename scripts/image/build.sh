#!/usr/bin/env bash
# Builds the real Dockerfile with buildah (vfs storage, chroot isolation: no Docker engine, no container runtime).
# Usage: scripts/image/build.sh <base image> [<build image>]   (BASE_IMAGE and BUILD_IMAGE of the Dockerfile; the
# build image defaults to the base image there). Prints the built image name on stdout.
#
# Cached: the image is also tagged with a hash of its build context (the files .dockerignore admits), the
# Dockerfile, the git revision it is labelled with and the base images; a build whose hash is already tagged only
# re-tags that image (`npm run image:check` and the e2e suite build the same sources once).
# MODELGATE_IMAGE_REBUILD=1 builds anyway.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image_require_root
base="${1:?usage: build.sh <base image> [<build image>]}"
build_base="${2:-$base}"
cd "$IMAGE_REPO_ROOT"

version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
source_url="$(git remote get-url origin 2>/dev/null || true)"
registry="$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)"
# The host's CA bundle, when npm here is configured with one (a TLS-intercepting proxy): a build secret.
ca_file="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
secret_args=()
if [[ -n "$ca_file" && "$ca_file" != null && -s "$ca_file" ]]; then
  secret_args=(--secret "id=npm-ca,src=$ca_file")
fi

# The context as .dockerignore admits it (package files, tsconfigs, scripts/build, the sources without tests).
context_key="$(
  {
    echo "$revision $base $(image_id "$base") $build_base $(image_id "$build_base")"
    echo "$version $source_url $registry"
    find Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json \
      examples/models.morpheus.json scripts/image/third-party-notices.mjs scripts/build app init core \
      -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)"
cached="$IMAGE_NAME_BASE:ctx-$context_key"
if [[ "${MODELGATE_IMAGE_REBUILD:-0}" != 1 ]] && bah inspect --type image "$cached" >/dev/null 2>&1; then
  bah tag "$cached" "$IMAGE_NAME" >/dev/null
  image_log "build context unchanged: $IMAGE_NAME is $cached"
  echo "$IMAGE_NAME"
  exit 0
fi

# Working containers left by an interrupted build or check are only disk weight.
bah rm --all >/dev/null 2>&1 || true
# --layers=false: with vfs storage every committed step is a full copy of the root filesystem, which made a build
# take minutes longer than it saves; npm's download cache (a RUN cache mount) keeps `npm ci` quick instead.
bah bud --pull=never --layers=false --force-rm --isolation chroot \
  -f Dockerfile \
  --build-arg BASE_IMAGE="$base" \
  --build-arg BUILD_IMAGE="$build_base" \
  --build-arg NPM_CONFIG_REGISTRY="$registry" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)" \
  --build-arg SOURCE="$source_url" \
  "${secret_args[@]}" \
  -t "$IMAGE_NAME" \
  . >&2
bah tag "$IMAGE_NAME" "$cached" >/dev/null
# Superseded intermediate and final images of earlier builds; the three newest context tags stay.
bah images --format '{{.CreatedAtRaw}}|{{.Name}}:{{.Tag}}' | grep -F "|$IMAGE_NAME_BASE:ctx-" | sort -r |
  tail -n +4 | cut -d'|' -f2 | while read -r old; do bah rmi "$old" >/dev/null 2>&1 || true; done
bah rmi --prune >/dev/null 2>&1 || true
echo "$IMAGE_NAME"
