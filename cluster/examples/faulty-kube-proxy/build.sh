#!/usr/bin/env bash
# Builds kube-proxy with switchable faults (main.go) from the same Kubernetes version as
# the bundled cluster, cached by version and by this folder's content. Prints the binary's
# path. Used by scripts/prove-failures.sh as kubeProxyBinary; never by the tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster/lib.sh
source "$here/../../lib.sh"
load_config
need_cmd go "install Go 1.25 or newer"
key=$(cat "$here"/main.go "$here"/*.go.txt "$here"/build.sh | sha256sum | cut -c1-12)
out="$CACHE_DIR/bin/kube-proxy-faulty-$K8S_VERSION-$key"
if [ -x "$out/kube-proxy" ]; then echo "$out/kube-proxy"; exit 0; fi
minor=$(echo "$K8S_VERSION" | cut -d. -f2); patch=$(echo "$K8S_VERSION" | cut -d. -f3)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
cp "$here/main.go" .
go mod init svc-conformance.local/faulty-kube-proxy >/dev/null 2>&1
mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
gomod=$(jq -r .GoMod <<<"$mod"); src=$(jq -r .Dir <<<"$mod")
{
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo "replace ("
  grep -E '^\s*k8s.io/[^ ]+ => \./staging/' "$gomod" | awk -v m="$minor" -v p="$patch" '{print "\t" $1 " => " $1 " v0." m "." p}'
  echo ")"
} >> go.mod
# A writable copy of the Kubernetes module (go build -overlay may not replace files in the
# module cache), patched below and used through a replace directive.
cp -r "$src" "$tmp/kubernetes"; chmod -R u+w "$tmp/kubernetes"; src=$tmp/kubernetes
echo "replace k8s.io/kubernetes => ./kubernetes" >> go.mod
go mod tidy >&2
# patch <file under pkg/proxy> <sed expression> <text that must then be present>
patch_src() {
  local f=$1 expr=$2 want=$3 dst
  dst="$src/pkg/proxy/$f"
  sed -i -e "$expr" "$dst"
  grep -qF "$want" "$dst" || die "faulty kube-proxy: patching pkg/proxy/$f found nothing to change for '$want' (upstream changed: update $here/build.sh)"
}
patch_src topology.go 's/ep\.IsLocal()/(ep.IsLocal() || svcFault("local-everywhere"))/g' 'svcFault("local-everywhere")'
patch_src topology.go 's/if ep\.IsServing() && ep\.IsTerminating() {/if ep.IsServing() \&\& ep.IsTerminating() \&\& !svcFault("no-terminating-fallback") {/' 'svcFault("no-terminating-fallback")'
patch_src topology.go 's/if !ep\.IsReady() {/if !ep.IsReady() \&\& !(svcFault("terminating-with-ready") \&\& ep.IsServing()) {/' 'svcFault("terminating-with-ready")'
patch_src topology.go 's/^\t\ttopologyMode = topologyModeFromHints(svcInfo, endpoints, nodeName, zone)$/&\n\t\tif svcFault("ignore-topology") {\n\t\t\ttopologyMode = ""\n\t\t}/' 'svcFault("ignore-topology")'
patch_src conntrack/cleanup.go 's/^\tstart := time\.Now()$/\tif svcFault("no-conntrack-cleanup") {\n\t\treturn\n\t}\n\tstart := time.Now()/' 'svcFault("no-conntrack-cleanup")'
patch_src iptables/proxier.go 's/^\t\tfor _, jump := range append(iptablesJumpChains, iptablesKubeletJumpChains...) {$/&\n\t\t\tif svcFault("no-output-hook") \&\& jump.table == utiliptables.TableNAT \&\& jump.srcChain == utiliptables.ChainOutput {\n\t\t\t\tcontinue\n\t\t\t}/' 'svcFault("no-output-hook")'
patch_src serviceport.go 's/^\treturn bsvcPortInfo\.stickyMaxAgeSeconds$/\tif svcFault("affinity-no-timeout") {\n\t\treturn 10800\n\t}\n&/' 'svcFault("affinity-no-timeout")'
patch_src servicechangetracker.go 's/^\tsvc := current$/\tif svcFault("ignore-service-updates") \&\& previous != nil \&\& current != nil {\n\t\treturn false\n\t}\n&/' 'svcFault("ignore-service-updates")'
patch_src servicechangetracker.go 's/^\tsvc := current$/\tif svcFault("ignore-recreated") \&\& svcRecreated(previous, current) {\n\t\treturn false\n\t}\n&/' 'svcFault("ignore-recreated")'
patch_src servicechangetracker.go 's/^\tclusterIP := proxyutil\.GetClusterIPByFamily(sct\.ipFamily, service)$/&\n\tif svcFault("ignore-ipv6") \&\& sct.ipFamily == v1.IPv6Protocol \&\& service.Namespace != "kube-system" \&\& service.Namespace != "default" {\n\t\treturn nil\n\t}/' 'svcFault("ignore-ipv6")'
cp "$here/recreated.go.txt" "$src/pkg/proxy/svc_recreated.go"
patch_src servicechangetracker.go 's/^\t\tservicePort := \&service\.Spec\.Ports\[i\]$/&\n\t\tif i > 0 \&\& svcFault("first-port-only") \&\& service.Namespace != "kube-system" {\n\t\t\tbreak\n\t\t}/' 'svcFault("first-port-only")'
# IPVS: the virtual server is made but its address is not bound to kube-ipvs0, so packets to
# the ClusterIP are not local and IPVS never sees them (kube-system and default spared).
patch_src ipvs/proxier.go 's/^\tif bindAddr {$/\tif bindAddr \&\& svcFault("ipvs-no-bind") \&\& !strings.HasPrefix(svcName, "kube-system\/") \&\& !strings.HasPrefix(svcName, "default\/") {\n\t\treturn nil\n\t}\n&/' 'svcFault("ipvs-no-bind")'
sed 's/^package PKG/package ipvs/' "$here/fault.go.txt" > "$src/pkg/proxy/ipvs/svc_fault.go"
sed 's/^package PKG/package iptables/' "$here/fault.go.txt" > "$src/pkg/proxy/iptables/svc_fault.go"
sed 's/^package PKG/package proxy/' "$here/fault.go.txt" > "$src/pkg/proxy/svc_fault.go"
sed 's/^package PKG/package conntrack/' "$here/fault.go.txt" > "$src/pkg/proxy/conntrack/svc_fault.go"
ld=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$out.tmp"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ld" -o "$out.tmp/kube-proxy" . >&2
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out/kube-proxy"
