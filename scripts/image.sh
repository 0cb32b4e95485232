#!/usr/bin/env bash
# The svc-conformance container image, built here without a registry or Docker (as the
# bundled cluster's images are: cluster/oci.sh): Node.js (the node@24 npm ci installs) and
# the npm package (npm pack of this checkout) installed with its runtime dependencies from
# package-lock.json, under /opt/svc-conformance; user 1000; entrypoint the CLI:
#   docker run --rm IMAGE run --kubeconfig /kube/config ...   |   args: run --in-cluster ...
# Usage:
#   scripts/image.sh build            build (cached by the package's content); prints the OCI archive, then the image name
#   scripts/image.sh name             the image name (svc-conformance.local/svc-conformance:VERSION)
#   scripts/image.sh docker-load      build, then load it into Docker
#   scripts/image.sh import-bundled   build, then import it into every node of the running bundled cluster
#   scripts/image.sh import-kind NODE_CONTAINER...   build, then import it into kind node containers
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here="$repo/cluster"
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=cluster/oci.sh
source "$here/oci.sh"
cd "$repo"
NODE=node_modules/node/bin/node
[ -x "$NODE" ] || die "run 'npm ci' (or scripts/setup.sh) first: the image takes Node.js from node_modules/node"
VERSION=$("$NODE" -p 'require("./package.json").version')
NAME="svc-conformance.local/svc-conformance:$VERSION"

build() {
  local idir="$CACHE_DIR/images" tmp tgz key out nodebin
  mkdir -p "$idir"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  if [ -n "${SVC_IMAGE_PACKAGE:-}" ]; then
    # A tarball packed already (scripts/ship-e2e.sh: its phases may run at once, and packing
    # rebuilds dist/ in this checkout).
    tgz=$SVC_IMAGE_PACKAGE
    [ -f "$tgz" ] || die "SVC_IMAGE_PACKAGE=$tgz: no such file (give an npm pack tarball of this checkout, or unset it)"
  else
    # npm pack runs the build (prepack): the compiled JavaScript and the probe bundle.
    PATH="$repo/node_modules/node/bin:$PATH" npm pack --silent --pack-destination "$tmp" >"$tmp/pack.log" 2>&1 \
      || { cat "$tmp/pack.log" >&2; die "npm pack failed (above)"; }
    tgz=$(ls "$tmp"/svc-conformance-*.tgz)
  fi
  nodebin=$(readlink -f "$NODE")
  # The cache key: the package's files, the lock file, the Node binary and how the image is made.
  key=$( { tar -xzOf "$tgz" | sha256sum; sha256sum package-lock.json "$nodebin" "$repo/scripts/image.sh" "$here/oci.sh"; } | sha256sum | cut -c1-12)
  out="$idir/svc-conformance-$VERSION-$key.tar"
  if [ ! -f "$out" ]; then
    log "image: building $NAME (package $(basename "$tgz"), Node $("$NODE" --version))"
    local root="$tmp/rootfs" app="$tmp/rootfs/opt/svc-conformance"
    mkdir -p "$root/usr/local/bin" "$app"; base_rootfs "$root"
    copy_with_libs "$root" /bin/sh
    cp "$nodebin" "$root/usr/local/bin/node"
    copy_with_libs "$root" "$nodebin" >/dev/null; rm -f "$root$nodebin"
    tar -xzf "$tgz" -C "$app" --strip-components=1
    # The runtime dependencies, at the versions the repository's lock file pins.
    cp package-lock.json "$app/"
    (cd "$app" && PATH="$repo/node_modules/node/bin:$PATH" npm ci --omit=dev --ignore-scripts --no-audit --no-fund >"$tmp/ci.log" 2>&1) \
      || { tail -20 "$tmp/ci.log" >&2; die "npm ci in the image's /opt/svc-conformance failed (above)"; }
    # Native addons (Jest's resolver, its watcher) load shared libraries of their own.
    local addon lib
    while read -r addon; do
      ldd "$addon" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
        [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
      done
    done < <(find "$app/node_modules" -name '*.node' -type f)
    ln -s /opt/svc-conformance/bin/svc-conformance.cjs "$root/usr/local/bin/svc-conformance"
    make_image "$out" "$NAME" "$root" '["/usr/local/bin/node","--no-warnings","/opt/svc-conformance/dist/helpers/cli/cli.js"]' 1000
    log "image: $out ($(du -h "$out" | cut -f1))"
    # Earlier builds of this version are superseded.
    find "$idir" -maxdepth 1 -name "svc-conformance-$VERSION-*.tar" ! -name "$(basename "$out")" -delete
  fi
  IMAGE_TAR=$out
}

case "${1:-}" in
  build) build; echo "$IMAGE_TAR"; echo "$NAME" ;;
  name) echo "$NAME" ;;
  docker-load)
    build
    # The same name with other content (a rebuild): Docker's copy is replaced.
    cfg=$(tar -xOf "$IMAGE_TAR" "blobs/$(tar -xOf "$IMAGE_TAR" index.json | jq -r '.manifests[0].digest | sub(":"; "/")')" | jq -r .config.digest)
    [ "$(docker image inspect -f '{{.Id}}' "$NAME" 2>/dev/null || true)" = "$cfg" ] || docker rmi -f "$NAME" >/dev/null 2>&1 || true
    docker_load_oci "$IMAGE_TAR"; echo "$NAME" ;;
  import-bundled) build; bash "$here/cluster.sh" import "$IMAGE_TAR"; echo "$NAME" ;;
  import-kind)
    shift; [ $# -gt 0 ] || die "usage: scripts/image.sh import-kind NODE_CONTAINER..."
    build; kind_import_oci "$IMAGE_TAR" "$@" || die "import into kind failed (above)"; echo "$NAME" ;;
  *) echo "usage: scripts/image.sh build | name | docker-load | import-bundled | import-kind NODE_CONTAINER..." >&2; exit 2 ;;
esac
