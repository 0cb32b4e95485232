#!/usr/bin/env bash
# Cilium, the eBPF Service proxy (kube-proxy replacement), built here from source without any
# registry, for the kind target (helpers/targets/kind/provider.ts, `cni: cilium`):
#   - the agent, its CLI (cilium-dbg), the CNI plugin, the init tools and the operator (generic),
#     built from the Go module proxy's copy of github.com/cilium/cilium at CILIUM_VERSION
#     (the module carries the BPF datapath sources, the Helm chart and the image definitions);
#   - the agent image: a Debian root filesystem (debootstrap, cached) with what Cilium's runtime
#     image holds and the agent runs (clang-19 for the datapath it compiles at start, iproute2,
#     iptables, ipset, kmod, bash, util-linux), the binaries, the BPF sources under
#     /var/lib/cilium/bpf and the chart's init scripts, as images/cilium/Dockerfile lays them out;
#   - the operator image (the static binary alone);
#   - Helm (helm.sh/helm/v4, for `helm template` of Cilium's own chart).
# Everything is cached by version and by this script's content: a second run does nothing.
#
# Where the Go module proxy here refuses what Cilium's go.mod names (checked on every build;
# the build says which edit it made):
#   - github.com/osrg/gobgp/v4 at Cilium's pseudo-version: the nearest served release, v4.7.0
#     (the BGP control plane, off in this setup);
#   - the `replace` of sigs.k8s.io/controller-tools by Cilium's fork: dropped (a code-generation
#     tool, not part of any binary);
#   - sigs.k8s.io/mcs-api/controllers (every version refused): a local module holding the one
#     constant the operator uses from it (DerivedServiceAnnotation, "multicluster.kubernetes.io/
#     derived-service", as in mcs-api's controllers package). Used only by the multi-cluster
#     Services controllers, which are off here.
#
# Usage:
#   cluster/cilium/cilium.sh build          build everything (cached); prints the two image archives
#   cluster/cilium/cilium.sh images         the same, quietly: the agent's and the operator's archive
#   cluster/cilium/cilium.sh names          the two image names
#   cluster/cilium/cilium.sh helm           build Helm if needed; print its path
#   cluster/cilium/cilium.sh render API_HOST API_PORT FAMILIES [K8S_VERSION]
#       print Cilium's chart rendered for a kube-proxy-free kind cluster (FAMILIES: ipv4, ipv6 or dual)
#   cluster/cilium/cilium.sh version        the Cilium version built
# Environment: SVC_CILIUM_VERSION (v1.20.2), SVC_CILIUM_HELM_SET (more `--set` values, comma-separated),
#   SVC_CACHE_DIR (/var/cache/svc-conformance), SVC_DEBIAN_MIRROR (the machine's apt mirror).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=cluster/oci.sh
source "$here/oci.sh"

CILIUM_VERSION=${SVC_CILIUM_VERSION:-v1.20.2}
CILIUM_MODULE=github.com/cilium/cilium
HELM_VERSION=v4.3.2
GOBGP_SERVED=v4.7.0
DEBIAN_SUITE=bookworm
# images/runtime/install-runtime-deps.sh's packages, clang (its runtime image copies clang and
# llc from Cilium's LLVM 19 image; the agent calls only clang), and what the chart's init
# containers run (bash, mount, nsenter, grep, cp).
PACKAGES=(bash coreutils util-linux mount grep iproute2 iptables ipset kmod ca-certificates libatomic1 clang-19 procps)
# The build's own revision: raise it when what build_bins or build_images make changes.
BUILD_REV=1
CDIR="$CACHE_DIR/cilium-$CILIUM_VERSION-r$BUILD_REV"
AGENT_NAME="svc-conformance.local/cilium:$CILIUM_VERSION"
OPERATOR_NAME="svc-conformance.local/cilium-operator-generic:$CILIUM_VERSION"
AGENT_TAR="$CDIR/cilium-image.tar"
OPERATOR_TAR="$CDIR/cilium-operator-image.tar"
HDIR="$CACHE_DIR/helm-$HELM_VERSION"
HELM="$HDIR/helm"

module_dir() { # the Cilium module in the Go module cache (downloaded if needed)
  local d; d=$(go mod download -json "$CILIUM_MODULE@$CILIUM_VERSION" 2>/dev/null | jq -r '.Dir // empty')
  { [ -n "$d" ] && [ -d "$d/bpf" ]; } || die "cannot read $CILIUM_MODULE@$CILIUM_VERSION from the Go module proxy ($(go env GOPROXY))"
  echo "$d"
}

served() { # served MODULE@VERSION: whether the Go module proxy gives its zip
  (cd "$1" && GOFLAGS=-mod=mod go mod download "$2" >/dev/null 2>&1)
}

# A writable copy of the module, with go.mod edited where the proxy refuses what it names.
prepare_source() { # <dir>
  local src=$1 mod bgp
  mod=$(module_dir)
  cp -r "$mod/." "$src/"; chmod -R u+w "$src"
  bgp=$(cd "$src" && go mod edit -json | jq -r '.Require[] | select(.Path == "github.com/osrg/gobgp/v4") | .Version')
  if [ -n "$bgp" ] && ! served "$src" "github.com/osrg/gobgp/v4@$bgp"; then
    log "cilium: github.com/osrg/gobgp/v4@$bgp is refused by the Go module proxy: using $GOBGP_SERVED, the nearest served release"
    (cd "$src" && go mod edit -require="github.com/osrg/gobgp/v4@$GOBGP_SERVED")
  fi
  if (cd "$src" && go mod edit -json | jq -e '.Replace[]? | select(.Old.Path == "sigs.k8s.io/controller-tools")' >/dev/null); then
    log "cilium: dropping go.mod's replace of sigs.k8s.io/controller-tools (Cilium's fork, refused; a code generator, in no binary)"
    (cd "$src" && go mod edit -dropreplace=sigs.k8s.io/controller-tools)
  fi
  local mcs; mcs=$(cd "$src" && go mod edit -json | jq -r '.Require[] | select(.Path == "sigs.k8s.io/mcs-api/controllers") | .Version')
  if [ -n "$mcs" ] && ! served "$src" "sigs.k8s.io/mcs-api/controllers@$mcs"; then
    log "cilium: sigs.k8s.io/mcs-api/controllers@$mcs is refused (every version is): a local module with the one constant the operator uses"
    mkdir -p "$src/.svc-mcs-controllers"
    printf 'module sigs.k8s.io/mcs-api/controllers\n\ngo 1.24\n' >"$src/.svc-mcs-controllers/go.mod"
    cat >"$src/.svc-mcs-controllers/controllers.go" <<'EOF'
// Package controllers stands in for sigs.k8s.io/mcs-api/controllers, which the Go module proxy
// here refuses (cluster/cilium/cilium.sh). Cilium uses this one constant of it.
package controllers

// DerivedServiceAnnotation is set on a ServiceImport to reference its derived Service.
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"
EOF
    (cd "$src" && go mod edit -replace=sigs.k8s.io/mcs-api/controllers=./.svc-mcs-controllers)
  fi
}

build_bins() {
  [ -f "$CDIR/bin/.complete" ] && return 0
  need_cmd go "install Go (scripts/setup.sh does); Cilium is built from the Go module proxy"
  local tmp t0 p; t0=$(date +%s)
  mkdir -p "$CDIR"; tmp=$(mktemp -d "$CDIR/build.XXXXXX")
  log "cilium: building $CILIUM_MODULE@$CILIUM_VERSION (agent, cilium-dbg, CNI plugin, tools, operator); log: $tmp.log"
  prepare_source "$tmp/src" 2>&1 | tee -a "$tmp.log" >&2
  mkdir -p "$tmp/bin"
  # As the Makefiles build them (static, osusergo; the operator's generic variant).
  for p in daemon:cilium-agent cilium-dbg:cilium-dbg plugins/cilium-cni:cilium-cni tools/mount:cilium-mount \
      tools/sysctlfix:cilium-sysctlfix cilium-health/responder:cilium-health-responder operator:cilium-operator-generic; do
    local tags=osusergo; [ "${p%%:*}" = operator ] && tags=osusergo,ipam_provider_operator
    if ! (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags "$tags" \
        -ldflags "-s -w -X github.com/cilium/cilium/pkg/version.ciliumVersion=${CILIUM_VERSION#v}" \
        -o "$tmp/bin/${p#*:}" "./${p%%:*}") >>"$tmp.log" 2>&1; then
      tail -20 "$tmp.log" >&2; die "go build ./${p%%:*} of $CILIUM_MODULE@$CILIUM_VERSION failed (above; log $tmp.log)"
    fi
    log "cilium: built ${p#*:} ($(( $(date +%s) - t0 )) s so far)"
  done
  rm -rf "${CDIR:?}/bin" "$CDIR/bpf" "$CDIR/scripts"
  mv "$tmp/bin" "$CDIR/bin"
  cp -r "$tmp/src/bpf" "$CDIR/bpf"
  mkdir -p "$CDIR/scripts"
  cp "$tmp/src/images/cilium/init-container.sh" "$tmp/src/plugins/cilium-cni/install-plugin.sh" "$tmp/src/plugins/cilium-cni/cni-uninstall.sh" "$CDIR/scripts/"
  rm -rf "$tmp" "$tmp.log"
  echo "$CILIUM_VERSION" >"$CDIR/bin/.complete"
  log "cilium: binaries built in $(( $(date +%s) - t0 )) s: $CDIR/bin"
}

debian_rootfs() { # the Debian root filesystem, cached as a tar by suite and package list
  local key tar tmp mirror
  key=$(printf '%s\n' "$DEBIAN_SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
  tar="$CACHE_DIR/cilium-rootfs-$DEBIAN_SUITE-$key.tar"
  if [ ! -f "$tar" ]; then
    need_cmd debootstrap "install it with: apt-get install -y debootstrap (scripts/setup.sh does)"
    mirror=${SVC_DEBIAN_MIRROR:-$(apt_mirror)}
    [ -n "$mirror" ] || die "no Debian mirror in this machine's apt sources: set SVC_DEBIAN_MIRROR"
    tmp=$(mktemp -d "$CACHE_DIR/cilium-debootstrap.XXXXXX")
    log "cilium: debootstrap $DEBIAN_SUITE with ${PACKAGES[*]} (log: $tmp.log)"
    if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" "$DEBIAN_SUITE" "$tmp/root" "$mirror" >"$tmp.log" 2>&1; then
      tail -n 20 "$tmp.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log above and in $tmp.log)"
    fi
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man"
    tar --numeric-owner -C "$tmp/root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$tmp" "$tmp.log"
  fi
  echo "$tar"
}

build_images() {
  [ -f "$AGENT_TAR" ] && [ -f "$OPERATOR_TAR" ] && return 0
  local rootfs tmp t0; t0=$(date +%s)
  rootfs=$(debian_rootfs)
  tmp=$(mktemp -d "$CDIR/image.XXXXXX")
  mkdir -p "$tmp/agent"
  tar --numeric-owner -C "$tmp/agent" -xf "$rootfs"
  local r="$tmp/agent" b
  for b in cilium-agent cilium-dbg cilium-mount cilium-sysctlfix cilium-health-responder; do install -m 0755 "$CDIR/bin/$b" "$r/usr/bin/$b"; done
  ln -sf cilium-dbg "$r/usr/bin/cilium"
  ln -sf clang-19 "$r/usr/bin/clang"
  ln -sf llc-19 "$r/usr/bin/llc"
  mkdir -p "$r/opt/cni/bin" "$r/var/lib/cilium" "$r/cni"
  install -m 0755 "$CDIR/bin/cilium-cni" "$r/opt/cni/bin/cilium-cni"
  cp -r "$CDIR/bpf" "$r/var/lib/cilium/bpf"
  install -m 0755 "$CDIR/scripts/init-container.sh" "$CDIR/scripts/install-plugin.sh" "$CDIR/scripts/cni-uninstall.sh" "$r/"
  make_image "$AGENT_TAR.tmp" "$AGENT_NAME" "$r" '["/usr/bin/cilium-agent"]' && mv "$AGENT_TAR.tmp" "$AGENT_TAR"
  mkdir -p "$tmp/operator/usr/bin"; base_rootfs "$tmp/operator"
  install -m 0755 "$CDIR/bin/cilium-operator-generic" "$tmp/operator/usr/bin/cilium-operator-generic"
  mkdir -p "$tmp/operator/etc/ssl"; cp -rL /etc/ssl/certs "$tmp/operator/etc/ssl/" 2>/dev/null || true
  make_image "$OPERATOR_TAR.tmp" "$OPERATOR_NAME" "$tmp/operator" '["/usr/bin/cilium-operator-generic"]' && mv "$OPERATOR_TAR.tmp" "$OPERATOR_TAR"
  rm -rf "$tmp"
  log "cilium: images $AGENT_NAME ($(du -h "$AGENT_TAR" | cut -f1)) and $OPERATOR_NAME ($(du -h "$OPERATOR_TAR" | cut -f1)) in $(( $(date +%s) - t0 )) s"
}

# Helm, built as sonobuoy's CLI is (scripts/sonobuoy.sh): `go get` of the exact version in a
# throwaway module, then its main package.
build_helm() {
  [ -x "$HELM" ] && [ -f "$HDIR/.complete" ] && return 0
  local tmp t0; t0=$(date +%s)
  mkdir -p "$HDIR"; tmp=$(mktemp -d "$HDIR/build.XXXXXX")
  log "helm: building $HELM_VERSION from the Go module proxy; log: $tmp.log"
  if ! (cd "$tmp" && go mod init tmp && go get "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" &&
      CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$HELM.tmp" helm.sh/helm/v4/cmd/helm) >"$tmp.log" 2>&1; then
    tail -20 "$tmp.log" >&2; rm -rf "$tmp"; die "building helm $HELM_VERSION failed (above)"
  fi
  mv "$HELM.tmp" "$HELM"; rm -rf "$tmp" "$tmp.log"
  echo "$HELM_VERSION" >"$HDIR/.complete"
  log "helm: $HELM_VERSION built in $(( $(date +%s) - t0 )) s"
}

build() { build_bins; build_images; build_helm; }

# The chart as a kind cluster without kube-proxy runs it: Cilium's documented kube-proxy-free
# install (kubeProxyReplacement, the API server's address since no proxy serves the kubernetes
# Service yet), the cluster's Pod ranges from the nodes (ipam kubernetes), our images, and
# nothing this suite does not test (Hubble, the L7 proxy, Envoy).
render() {
  local host=${1:-} port=${2:-} families=${3:-} kver=${4:-}
  { [ -n "$host" ] && [[ "$port" =~ ^[0-9]+$ ]]; } || die "usage: cluster/cilium/cilium.sh render API_HOST API_PORT ipv4|ipv6|dual [K8S_VERSION]"
  local v4=true v6=false
  case "$families" in ipv4) ;; ipv6) v4=false; v6=true ;; dual) v6=true ;; *) die "families must be ipv4, ipv6 or dual (got '$families')" ;; esac
  build_helm
  local chart; chart="$(module_dir)/install/kubernetes/cilium"
  # A host whose capability bounding set lacks CAP_SYS_RESOURCE (this machine's kind nodes,
  # docs/kind.md): containerd in the node cannot grant it, and no Cilium container that asks
  # for it starts ("unable to apply caps"). The agent uses it only to raise RLIMIT_MEMLOCK,
  # which kernels from 5.11 no longer charge BPF maps to: it is taken out of every list.
  local bnd drop_sys_resource=0; bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  (( ((bnd >> 24) & 1) == 1 )) || drop_sys_resource=1
  local sets=(
    "kubeProxyReplacement=true" "k8sServiceHost=$host" "k8sServicePort=$port"
    "ipam.mode=kubernetes" "ipv4.enabled=$v4" "ipv6.enabled=$v6"
    "image.repository=${AGENT_NAME%:*}" "image.tag=$CILIUM_VERSION" "image.useDigest=false" "image.pullPolicy=Never"
    "operator.image.repository=svc-conformance.local/cilium-operator" "operator.image.tag=$CILIUM_VERSION"
    "operator.image.useDigest=false" "operator.image.pullPolicy=Never" "operator.replicas=1"
    "hubble.enabled=false" "envoy.enabled=false" "l7Proxy=false"
  )
  # An IPv6-only cluster's nodes have no IPv4 address for the VXLAN tunnel: the tunnel over IPv6.
  # (Verified here: ipv4. Dual-stack and IPv6-only are rendered as Cilium documents them, not run yet.)
  [ "$families" != ipv6 ] || sets+=("underlayProtocol=ipv6")
  local args=() s
  for s in "${sets[@]}"; do args+=(--set "$s"); done
  [ -z "${SVC_CILIUM_HELM_SET:-}" ] || args+=(--set "$SVC_CILIUM_HELM_SET")
  if [ "$drop_sys_resource" = 1 ]; then
    "$HELM" template cilium "$chart" --namespace kube-system ${kver:+--kube-version "$kver"} "${args[@]}" | sed -E '/^[[:space:]]+- SYS_RESOURCE$/d'
  else
    "$HELM" template cilium "$chart" --namespace kube-system ${kver:+--kube-version "$kver"} "${args[@]}"
  fi
}

case "${1:-}" in
  build) build; echo "$AGENT_TAR"; echo "$OPERATOR_TAR" ;;
  images) build >/dev/null; echo "$AGENT_TAR"; echo "$OPERATOR_TAR" ;;
  names) echo "$AGENT_NAME"; echo "$OPERATOR_NAME" ;;
  helm) build_helm; echo "$HELM" ;;
  render) shift; render "$@" ;;
  version) echo "$CILIUM_VERSION" ;;
  *) echo "usage: cluster/cilium/cilium.sh build | images | names | helm | render API_HOST API_PORT ipv4|ipv6|dual [K8S_VERSION] | version" >&2; exit 2 ;;
esac
