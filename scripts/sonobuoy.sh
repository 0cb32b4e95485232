#!/usr/bin/env bash
# Sonobuoy without any container registry: the CLI built from the Go module proxy, and its
# aggregator/worker image (svc-conformance.local/sonobuoy:VERSION) made here as an OCI archive
# (cluster/oci.sh), imported straight into the nodes' containerd. The image holds /sonobuoy
# (the aggregator Pod runs `/sonobuoy aggregator ...`, a plugin's sidecar `/sonobuoy worker
# global|single-node ...`, `sonobuoy retrieve` execs `/sonobuoy splat`) and /bin/sh.
# Usage:
#   scripts/sonobuoy.sh build            build (cached by version); prints the binary, then the OCI archive
#   scripts/sonobuoy.sh bin | image      build if needed; print the binary | the archive
#   scripts/sonobuoy.sh name             the image name
#   scripts/sonobuoy.sh import-bundled   build, then import the image into every node of the running bundled cluster
#   scripts/sonobuoy.sh import-kind NODE_CONTAINER...   build, then import it into kind node containers
#   scripts/sonobuoy.sh prove PLUGIN_YAML   with $KUBECONFIG: run only that plugin (the image must be
#       imported), wait, retrieve, print the results; always deletes the run; fails unless the run
#       completed and every plugin passed
# Environment: SVC_SONOBUOY_VERSION (v0.57.5), SVC_SONOBUOY_NAMESPACE (sonobuoy),
#   SVC_SONOBUOY_TIMEOUT (seconds the aggregator waits for plugins: 600; the CLI waits 2 minutes more),
#   SVC_SONOBUOY_RUN_FLAGS (more flags for `sonobuoy run`, e.g. "--skip-preflight=dnscheck"),
#   SVC_SONOBUOY_KEEP=DIR (keep the retrieved results tarball there).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here="$repo/cluster"
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=cluster/oci.sh
source "$here/oci.sh"

SONOBUOY_VERSION=${SVC_SONOBUOY_VERSION:-v0.57.5}
SONOBUOY_MODULE=github.com/vmware-tanzu/sonobuoy
NAME="svc-conformance.local/sonobuoy:$SONOBUOY_VERSION"
SDIR="$CACHE_DIR/sonobuoy-$SONOBUOY_VERSION"
BIN="$SDIR/sonobuoy"
IMAGE_TAR="$SDIR/sonobuoy-image.tar"
NS=${SVC_SONOBUOY_NAMESPACE:-sonobuoy}
TIMEOUT=${SVC_SONOBUOY_TIMEOUT:-600}

# The CLI: `go install MODULE@VERSION` does not work here: it reads the module's version list
# (for deprecations), which the Go module proxy here does not serve (403); `go get` of the
# exact version in a throwaway module does not need it, and builds its main package.
build_bin() {
  [ -x "$BIN" ] && [ -f "$SDIR/.bin-complete" ] && return 0
  need_cmd go "install Go (scripts/setup.sh does); the CLI is built from the Go module proxy"
  local tmp t0 sha; t0=$(date +%s)
  mkdir -p "$SDIR"; tmp=$(mktemp -d "$SDIR/build.XXXXXX")
  log "sonobuoy: building the CLI $SONOBUOY_VERSION from the Go module proxy ($(go env GOPROXY)); log: $tmp.log"
  if ! (cd "$tmp" && go mod init tmp && go get "$SONOBUOY_MODULE@$SONOBUOY_VERSION") >"$tmp.log" 2>&1; then
    tail -20 "$tmp.log" >&2; rm -rf "$tmp"; die "go get $SONOBUOY_MODULE@$SONOBUOY_VERSION failed (above)"
  fi
  # The commit the version's tag names (as `sonobuoy version` shows it), when the proxy tells.
  sha=$(cd "$tmp" && { go mod download -json "$SONOBUOY_MODULE@$SONOBUOY_VERSION" 2>/dev/null || true; } | jq -r '.Origin.Hash // empty')
  if ! (cd "$tmp" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X $SONOBUOY_MODULE/pkg/buildinfo.Version=$SONOBUOY_VERSION -X $SONOBUOY_MODULE/pkg/buildinfo.GitSHA=$sha" \
      -o "$BIN.tmp" "$SONOBUOY_MODULE") >>"$tmp.log" 2>&1; then
    tail -20 "$tmp.log" >&2; rm -rf "$tmp"; die "go build $SONOBUOY_MODULE@$SONOBUOY_VERSION failed (above)"
  fi
  mv "$BIN.tmp" "$BIN"; rm -rf "$tmp" "$tmp.log"
  "$BIN" version --short >"$SDIR/.bin-complete"
  log "sonobuoy: CLI $(cat "$SDIR/.bin-complete") built in $(( $(date +%s) - t0 )) s: $BIN"
}

# The aggregator/worker image: the same static binary at /sonobuoy, /bin/sh, a minimal /etc.
build_image() {
  [ -f "$IMAGE_TAR" ] && return 0
  local tmp; tmp=$(mktemp -d)
  base_rootfs "$tmp/rootfs"
  cp "$BIN" "$tmp/rootfs/sonobuoy"
  copy_with_libs "$tmp/rootfs" /bin/sh
  make_image "$IMAGE_TAR" "$NAME" "$tmp/rootfs" '["/sonobuoy"]'
  rm -rf "$tmp"
  log "sonobuoy: image $NAME: $IMAGE_TAR ($(du -h "$IMAGE_TAR" | cut -f1))"
}

build() { build_bin; build_image; }

sb() { "$BIN" "$@"; }

# `sonobuoy retrieve` streams the results out of the aggregator through an exec of
# `/sonobuoy splat /tmp/sonobuoy` (a tar.gz holding the run's tarball on stdout) and untars it.
# v0.57.5 then checks that nothing but zeros is left on the *raw* stream (drainReader of the
# exec stream, pkg/client/retrieve.go), but its gzip reader reads ahead in 4 KiB pieces: when
# the tar ends before the gzip stream does in what was read (the last deflate bytes, 00 00 ff
# ff, and the gzip trailer), those bytes are left and the correct transfer is refused
# ("non-zero data ÿ (byte 255) read after tar EOF"). That depends on the data, so it repeats
# for the same tarball (seen in CI on kind, three times in a row). When it refuses, the same
# exec is made with kubectl and read with tar, and the run's tarball kept only when its size
# and sha256 are the ones the aggregator's status gives for it. Prints the retrieved file.
retrieve() {
  local out=$1 status=$2 err file want_sha want_size got_sha kc pod
  want_sha=$(echo "$status" | jq -r '."tar-info".sha256 // empty' 2>/dev/null || true)
  want_size=$(echo "$status" | jq -r '."tar-info".size // empty' 2>/dev/null || true)
  if err=$(sb retrieve "$out" --namespace "$NS" 2>&1) && file=$(find "$out" -maxdepth 1 -name '*.tar.gz' | head -1) && [ -n "$file" ]; then
    :
  else
    log "sonobuoy: retrieve refused the transfer (${err:-no tarball written}); reading it with kubectl exec and tar instead"
    find "$out" -mindepth 1 -delete
    # kubectl: the cluster build's (the cluster's version), else the one on PATH.
    kc=$(find "$CACHE_DIR/bin" -path '*/kubernetes-*/kubectl' -type f 2>/dev/null | sort | tail -1)
    [ -n "$kc" ] || kc=$(command -v kubectl) || die "no kubectl to read the results with (build the cluster, or put kubectl on PATH)"
    pod=$("$kc" -n "$NS" get pods -l sonobuoy-component=aggregator -o jsonpath='{.items[0].metadata.name}') || die "no aggregator Pod in namespace $NS"
    "$kc" -n "$NS" exec "$pod" -c kube-sonobuoy -- /sonobuoy splat /tmp/sonobuoy >"$out/splat.tar.gz" || die "kubectl exec $pod -- /sonobuoy splat failed"
    tar -xzf "$out/splat.tar.gz" -C "$out" || die "the results stream from $pod is not a readable tar.gz"
    rm -f "$out/splat.tar.gz"
    file=$(find "$out" -maxdepth 1 -name '*.tar.gz' | head -1)
    [ -n "$file" ] || die "the results stream from $pod held no tarball"
  fi
  if [ -n "$want_sha" ]; then
    got_sha=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got_sha" = "$want_sha" ] || die "$(basename "$file") has sha256 $got_sha ($(stat -c %s "$file") bytes); the aggregator's status says $want_sha ($want_size bytes)"
  fi
  echo "$file"
}

prove() {
  local yaml=${1:-}
  [ -f "$yaml" ] || die "usage: scripts/sonobuoy.sh prove PLUGIN_YAML (a Sonobuoy plugin definition file)"
  [ -n "${KUBECONFIG:-}" ] || die "set KUBECONFIG to the cluster's kubeconfig"
  [[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "SVC_SONOBUOY_TIMEOUT must be a number of seconds (got '$TIMEOUT')"
  build
  local out rc=0 t0 tarball status wait_min=$(( TIMEOUT / 60 + 2 ))
  # One run per namespace: one already there is someone else's (the cleanup would delete it).
  if command -v kubectl >/dev/null 2>&1 && kubectl get namespace "$NS" >/dev/null 2>&1; then
    die "namespace $NS exists: a Sonobuoy run is there already. Delete it ($BIN delete --namespace $NS --wait) or set SVC_SONOBUOY_NAMESPACE"
  fi
  out=$(mktemp -d)
  # shellcheck disable=SC2064 # the namespace and directory are fixed now
  trap "log 'sonobuoy: deleting the run (namespace $NS)'; timeout 300 '$BIN' delete --namespace '$NS' --wait >/dev/null 2>&1 || log 'sonobuoy: delete failed'; rm -rf '$out'" EXIT
  t0=$(date +%s)
  log "sonobuoy: run $yaml in namespace $NS (image $NAME, aggregator timeout ${TIMEOUT}s, wait ${wait_min}m)"
  # Only the given plugin runs (no e2e, no systemd-logs: they run only when no --plugin is
  # given); every image IfNotPresent, the plugins' too (--force-image-pull-policy).
  # shellcheck disable=SC2086 # SVC_SONOBUOY_RUN_FLAGS is a list of flags
  timeout $(( wait_min * 60 + 120 )) "$BIN" run --plugin "$yaml" --namespace "$NS" \
    --sonobuoy-image "$NAME" --image-pull-policy IfNotPresent --force-image-pull-policy \
    --timeout "$TIMEOUT" --wait="$wait_min" --wait-output progress ${SVC_SONOBUOY_RUN_FLAGS:-} || rc=$?
  log "sonobuoy: run ended (exit $rc) after $(( $(date +%s) - t0 )) s"
  status=$(sb status --namespace "$NS" --json 2>/dev/null || true)
  echo "$status" | jq . 2>/dev/null || echo "$status"
  tarball=$(retrieve "$out" "$status")
  if [ -n "${SVC_SONOBUOY_KEEP:-}" ]; then mkdir -p "$SVC_SONOBUOY_KEEP"; cp "$tarball" "$SVC_SONOBUOY_KEEP/"; log "sonobuoy: results kept in $SVC_SONOBUOY_KEEP/$(basename "$tarball")"; fi
  echo "== sonobuoy results $(basename "$tarball")"
  sb results "$tarball" || rc=1
  # One JSON line per test (JUnit testcase name, status, file); the run's own details left out.
  local p
  for p in $(echo "$status" | jq -r '.plugins[]?.plugin' 2>/dev/null | sort -u); do
    echo "== sonobuoy results --plugin $p --mode detailed"
    sb results "$tarball" --plugin "$p" --mode detailed
  done
  [ "$rc" -eq 0 ] || die "sonobuoy run did not complete (exit $rc)"
  # Every plugin must have completed with result-status passed.
  echo "$status" | jq -e '.status == "complete" and (.plugins | length > 0) and all(.plugins[]; .status == "complete" and ."result-status" == "passed")' >/dev/null \
    || die "a plugin did not pass (status above)"
  log "sonobuoy: every plugin passed ($(( $(date +%s) - t0 )) s)"
}

case "${1:-}" in
  build) build; echo "$BIN"; echo "$IMAGE_TAR" ;;
  bin) build_bin; echo "$BIN" ;;
  image) build; echo "$IMAGE_TAR" ;;
  name) echo "$NAME" ;;
  import-bundled) build; bash "$here/cluster.sh" import "$IMAGE_TAR"; echo "$NAME" ;;
  import-kind)
    shift; [ $# -gt 0 ] || die "usage: scripts/sonobuoy.sh import-kind NODE_CONTAINER..."
    build; kind_import_oci "$IMAGE_TAR" "$@" || die "import into kind failed (above)"; echo "$NAME" ;;
  prove) shift; prove "$@" ;;
  *) echo "usage: scripts/sonobuoy.sh build | bin | image | name | import-bundled | import-kind NODE_CONTAINER... | prove PLUGIN_YAML" >&2; exit 2 ;;
esac
