#!/usr/bin/env bash
# The images of the e2e suite's node, as OCI archives that the node imports (`ctr -n k8s.io images import`):
#   - modelgate.test/modelgate:e2e          the real Dockerfile, built by build.sh against base.sh's bases (the
#                                          same image `npm run image:check` checks; built once for both)
#   - modelgate.test/modelgate:e2e-upgrade  that image plus one additive migration (test/e2e/fixtures), the "new
#                                          version" of the upgrade scenario
#   - modelgate.test/pause:e2e             the pods' sandbox image: .tools/bin/pause (scripts/tools/provision-node.sh)
#                                          alone in an image made from scratch
# Nothing is pulled from any registry. Cached: an archive is rewritten only when its image changed.
# Prints one JSON line: {"modelgate": <archive>, "upgrade": <archive>, "pause": <archive>, "images": {...}}.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
image_require_root
cd "$IMAGE_REPO_ROOT"

ARCHIVE_DIR="$IMAGE_STATE_DIR/e2e"
MIGRATION="test/e2e/fixtures/29991231000000_e2e_upgrade_marker.js"
PAUSE_BIN="${TOOLS_DIR:-$IMAGE_REPO_ROOT/.tools}/bin/pause"
mkdir -p "$ARCHIVE_DIR"
[[ -x "$PAUSE_BIN" ]] || {
  echo "image: $PAUSE_BIN missing; run: bash scripts/tools/provision-node.sh" >&2
  exit 1
}

# <image>: the input key it was made from (a label), empty when absent
key_of() { bah inspect --type image --format '{{index .OCIv1.Config.Labels "modelgate.test.key"}}' "$1" 2>/dev/null || true; }

# <image> <name in the archive>: writes <name>-<image id>.tar once, prints its path
archive() {
  local id file
  id="$(image_id "$1")"
  id="${id#sha256:}"
  file="$ARCHIVE_DIR/$(tr '/:' '__' <<<"$2")-${id:0:12}.tar"
  if [[ ! -s "$file" ]]; then
    rm -f "$ARCHIVE_DIR/$(tr '/:' '__' <<<"$2")"-*.tar
    # Uncompressed: the archive is read once by a local import, where gzip would only cost time.
    bah push --quiet --disable-compression "$1" "oci-archive:$file.tmp:$2" >/dev/null
    mv -f "$file.tmp" "$file"
  fi
  echo "$file"
}

t=$SECONDS
bases="$(bash scripts/image/base.sh)"
read -r base build_base <<<"$bases"
image="$(MODELGATE_IMAGE_NAME=localhost/modelgate:e2e bash scripts/image/build.sh "$base" "$build_base")"
image_log "e2e: $image ready in $((SECONDS - t))s"

# The upgrade: one more migration file beside the image's own, nothing else changed.
upgrade=localhost/modelgate:e2e-upgrade
upgrade_key="$(image_id "$image") $(sha256sum "$MIGRATION" | cut -c1-16)"
if [[ "$(key_of "$upgrade")" != "$upgrade_key" ]]; then
  ctr="$(bah from --pull=never "$image")"
  bah copy --chown 0:0 "$ctr" "$MIGRATION" /app/core/db/migrations/ >/dev/null
  bah config --label "modelgate.test.key=$upgrade_key" "$ctr"
  bah commit --quiet --rm "$ctr" "$upgrade" >/dev/null
fi

pause=localhost/modelgate-pause:e2e
pause_key="$(sha256sum "$PAUSE_BIN" | cut -c1-16)"
if [[ "$(key_of "$pause")" != "$pause_key" ]]; then
  ctr="$(bah from scratch)"
  bah copy --chmod 0755 "$ctr" "$PAUSE_BIN" /pause >/dev/null
  bah config --entrypoint '["/pause"]' --cmd '[]' --user 65535:65535 --os linux --arch amd64 \
    --label "modelgate.test.key=$pause_key" "$ctr"
  bah commit --quiet --rm "$ctr" "$pause" >/dev/null
fi

printf '{"modelgate":"%s","upgrade":"%s","pause":"%s","images":{"modelgate":"%s","upgrade":"%s","pause":"%s"}}\n' \
  "$(archive "$image" modelgate.test/modelgate:e2e)" \
  "$(archive "$upgrade" modelgate.test/modelgate:e2e-upgrade)" \
  "$(archive "$pause" modelgate.test/pause:e2e)" \
  modelgate.test/modelgate:e2e modelgate.test/modelgate:e2e-upgrade modelgate.test/pause:e2e
