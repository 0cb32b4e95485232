#!/usr/bin/env bash
# Builds the bundled cluster's components from source through the Go module proxy.
# Outputs are cached under $SVC_CACHE_DIR/bin/<component>-<version>/, so a second
# build with the same versions does nothing. Usage: cluster/build.sh (reads the same
# config as cluster.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
load_config

need_cmd go "install Go 1.25 or newer (golang.org/dl or your distribution)"

build_dir() { # <name> <version>
  echo "$CACHE_DIR/bin/$1-$2"
}

# The kubernetes build's stamp holds the hash of the multi-call main (cluster/build/kube/main.go),
# so changing what it links (e.g. adding kubeadm) rebuilds it. Other stamps are empty.
# shellcheck disable=SC2015 # the hash for kubernetes, else nothing; status 0 either way
recipe() { [ "$1" = kubernetes ] && sha256sum "$here/build/kube/main.go" | cut -c1-16 || true; }
stamp_ok() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$(recipe "$2")" ]; }

# run_build <name> <version> <fn>: runs fn into a temp dir, then moves it in place atomically.
run_build() {
  local name=$1 version=$2 fn=$3 out tmp start
  out=$(build_dir "$name" "$version")
  if stamp_ok "$out" "$name"; then log "build: $name $version cached at $out"; return 0; fi
  tmp="$out.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/src" "$tmp/bin"
  start=$(date +%s)
  log "build: $name $version (log: $tmp/build.log)"
  if ! ( "$fn" "$version" "$tmp" ) >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    die "building $name $version failed; full log above and in $tmp/build.log. Check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY)) and that $version exists"
  fi
  echo "$(( $(date +%s) - start ))" > "$tmp/bin/.seconds"
  rm -rf "$out"; mkdir -p "$(dirname "$out")"
  mv "$tmp/bin" "$out"; cp "$tmp/build.log" "$out/.build.log"; rm -rf "$tmp"
  recipe "$name" > "$out/.complete"
  log "build: $name $version done in $(cat "$out/.seconds") s"
}

build_kubernetes() {
  local v=$1 dir=$2 minor patch gomod
  minor=$(echo "$v" | cut -d. -f2); patch=$(echo "$v" | cut -d. -f3)
  cd "$dir/src"
  cp "$here/build/kube/main.go" .
  go mod init svc-conformance.local/kube >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@$v" | jq -r .GoMod)
  [ -f "$gomod" ] || { echo "no go.mod for k8s.io/kubernetes@$v"; return 1; }
  {
    echo "require k8s.io/kubernetes $v"
    echo "replace ("
    grep -E '^\s*k8s.io/[^ ]+ => \./staging/' "$gomod" | awk -v m="$minor" -v p="$patch" '{print "\t" $1 " => " $1 " v0." m "." p}'
    echo ")"
  } >> go.mod
  go mod tidy
  local pkg=k8s.io/component-base/version pkg2=k8s.io/client-go/pkg/version ld=""
  for p in $pkg $pkg2; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$dir/bin/kube" .
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl kubeadm; do ln -s kube "$dir/bin/$c"; done
}

build_etcd() {
  local v=$1 dir=$2
  cd "$dir/src"
  cp "$here/build/etcd/main.go" .
  go mod init svc-conformance.local/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$v"
  go mod tidy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" .
}

build_coredns() {
  local v=$1 dir=$2
  CGO_ENABLED=0 GOBIN="$dir/bin" go install -trimpath -tags grpcnotrace -ldflags "-s -w" "github.com/coredns/coredns@$v"
}

build_containerd() {
  local v=$1 dir=$2 c
  for c in containerd containerd-shim-runc-v2 ctr; do
    CGO_ENABLED=0 GOBIN="$dir/bin" go install -trimpath -tags "no_btrfs no_devmapper no_zfs" -ldflags "-s -w" "github.com/containerd/containerd/v2/cmd/$c@$v"
  done
}

# Builds for the kind node image (cluster/kind/node-image.sh): crictl and the CNI plugins
# kind's base image carries, and the kind CLI for the cross-check.
build_crictl() {
  CGO_ENABLED=0 GOBIN="$2/bin" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$1" "sigs.k8s.io/cri-tools/cmd/crictl@$1"
}

build_cni_plugins() {
  local p
  for p in main/bridge main/loopback main/ptp ipam/host-local meta/portmap; do
    CGO_ENABLED=0 GOBIN="$2/bin" go install -trimpath -ldflags "-s -w" "github.com/containernetworking/plugins/plugins/$p@$1"
  done
}

build_kind() {
  CGO_ENABLED=0 GOBIN="$2/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$1"
}

# kube-router (the second Service proxy, run on VM nodes with only its IPVS service proxy on):
# the ldflags of its Makefile's kube-router target, with the tag for `git describe --tags` and
# a fixed date for BUILD_DATE (its format, %Y-%m-%dT%H:%M:%S%z). Its go.mod has no replace.
build_kube_router() {
  local p=github.com/cloudnativelabs/kube-router/v2/pkg/version
  CGO_ENABLED=0 GOBIN="$2/bin" go install -trimpath -ldflags "-s -w -X $p.Version=$1 -X $p.BuildDate=1970-01-01T00:00:00+0000" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$1"
}
build_kube_router_cached() { run_build kube-router "$KUBE_ROUTER_VERSION" build_kube_router; }

build_kind_tools() {
  run_build crictl "$CRICTL_VERSION" build_crictl
  run_build cni-plugins "$CNI_PLUGINS_VERSION" build_cni_plugins
  run_build kind "$KIND_VERSION" build_kind
}

build_all() {
  run_build kubernetes "$K8S_VERSION" build_kubernetes
  run_build etcd "$ETCD_VERSION" build_etcd
  run_build coredns "$COREDNS_VERSION" build_coredns
  run_build containerd "$CONTAINERD_VERSION" build_containerd
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  build_all
  if [ "$SERVICE_PROXY" = kube-router ] || [ "${1:-}" = --kube-router ]; then build_kube_router_cached; fi
  if [ "${1:-}" = --kind ]; then build_kind_tools; fi
fi
