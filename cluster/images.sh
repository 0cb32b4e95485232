# The images the clusters run, built from local binaries as OCI archives (cached by their inputs):
# pause, CoreDNS, the probe/backend image (Node.js) and node-tools (kube-proxy with iptables/nft).
# Shared by the bundled cluster (cluster.sh) and the kind node image (kind/node-image.sh).
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
# make_image <tarball> <name:tag> <rootfs-dir> <entrypoint-json> [user]
# Writes an OCI image archive (one uncompressed layer) that `ctr images import` takes.
node_binary() {
  local b
  # shellcheck disable=SC2154 # here: the cluster/ folder, set by the script that sources this file
  for b in "${SVC_NODE_BINARY:-}" "$here/../node_modules/node/bin/node" "$(command -v node || true)"; do
    if [ -n "$b" ] && [ -x "$b" ] && "$b" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null; then
      readlink -f "$b"; return 0
    fi
  done
  die "no Node.js >= 22.19 binary for the probe image: run 'npm ci' first (it provides node_modules/node) or set SVC_NODE_BINARY"
}

# iptables_rootfs <rootfs>: the host's iptables (nft backend) as a Service proxy's image needs
# it: xtables-nft-multi under every iptables name, its match and target plugins, protocols and services.
iptables_rootfs() {
  local root=$1 l
  mkdir -p "$root/usr/sbin" "$root/usr/lib/x86_64-linux-gnu" "$root/etc"
  copy_with_libs "$root" /usr/sbin/xtables-nft-multi
  for l in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf xtables-nft-multi "$root/usr/sbin/$l"; done
  cp -a /usr/lib/x86_64-linux-gnu/xtables "$root/usr/lib/x86_64-linux-gnu/"
  for l in "$root"/usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_with_libs "$root" "${l#"$root"}" 2>/dev/null || true; done
  cp /etc/protocols /etc/services "$root/etc/"
}

# Builds the four images (cached by their inputs) and sets IMAGE_* and IMAGE_TARS.
build_images() {
  local idir="$CACHE_DIR/images" nodebin nodever tmp key
  mkdir -p "$idir"
  nodebin=$(node_binary); nodever=$("$nodebin" --version); nodever=${nodever#v}
  IMAGE_PAUSE="svc-conformance.local/pause:3.10-svc1"
  IMAGE_COREDNS="svc-conformance.local/coredns:$COREDNS_VERSION"
  # The NodeLocal DNSCache runs the built CoreDNS, even when dnsImage replaces the cluster DNS.
  # shellcheck disable=SC2034 # used by addons-apply.sh
  IMAGE_NODE_LOCAL_DNS=$IMAGE_COREDNS
  IMAGE_NODE="svc-conformance.local/node:$nodever"
  IMAGE_NODE_TOOLS="svc-conformance.local/node-tools:$K8S_VERSION"
  local proxybin; proxybin=$(cfg .kubeProxyBinary)
  if [ "$proxybin" != null ]; then
    [ -x "$proxybin" ] || die "kubeProxyBinary $proxybin is not an executable file"
    key=$(sha256sum "$proxybin" | cut -c1-12); IMAGE_NODE_TOOLS="svc-conformance.local/node-tools:custom-$key"
  else
    proxybin=$(kbin kube-proxy)
  fi
  # shellcheck disable=SC2034 # used by addons-apply.sh
  KUBE_PROXY_VERSION=$("$proxybin" --version 2>/dev/null | awk '{print $NF}' || true)
  IMAGE_TARS=()
  # pause
  local t="$idir/pause-3.10-svc1.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"
    (cd "$here/build/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/rootfs/pause" .)
    make_image "$t" "$IMAGE_PAUSE" "$tmp/rootfs" '["/pause"]' 65535; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # coredns
  t="$idir/coredns-$COREDNS_VERSION.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"; base_rootfs "$tmp/rootfs"
    cp "$CACHE_DIR/bin/coredns-$COREDNS_VERSION/coredns" "$tmp/rootfs/coredns"
    make_image "$t" "$IMAGE_COREDNS" "$tmp/rootfs" '["/coredns"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # node runtime (the probe and backend image)
  t="$idir/node-$nodever.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin"; base_rootfs "$tmp/rootfs"
    copy_with_libs "$tmp/rootfs" /bin/sh
    cp "$nodebin" "$tmp/rootfs/usr/local/bin/node"
    copy_with_libs "$tmp/rootfs" "$nodebin" >/dev/null; rm -f "$tmp/rootfs$nodebin"
    make_image "$t" "$IMAGE_NODE" "$tmp/rootfs" '["/usr/local/bin/node"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # node-tools: kube-proxy plus iptables, nft, conntrack, curl, a shell, sleep and cat; ipset
  # (kube-proxy's ipvs mode calls it), ipvsadm and ip (kube-ipvs0's addresses) for the rules checks on IPVS
  key=$(sha256sum "$proxybin" | cut -c1-12)
  t="$idir/node-tools-$K8S_VERSION-$key-v4.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin" "$tmp/rootfs/usr/sbin"; base_rootfs "$tmp/rootfs"
    local b; for b in ipset ipvsadm; do [ -x "/usr/sbin/$b" ] || die "the node-tools image needs /usr/sbin/$b: apt-get install -y $b (scripts/setup.sh does)"; done
    copy_with_libs "$tmp/rootfs" /bin/sh /bin/sleep /bin/cat /usr/sbin/nft /usr/sbin/conntrack /usr/bin/curl \
      /usr/sbin/ipset /usr/sbin/ipvsadm "$(command -v ip)"
    iptables_rootfs "$tmp/rootfs"
    cp -L "$proxybin" "$tmp/rootfs/usr/local/bin/kube-proxy"
    make_image "$t" "$IMAGE_NODE_TOOLS" "$tmp/rootfs" '["/usr/local/bin/kube-proxy"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # kube-router (serviceProxy kube-router): its binary with the tools it calls on the node
  # (iptables, ipset, ip, conntrack; ipvsadm to read IPVS) and a writable rt_tables, which
  # it reads and appends to on every sync (upstream's image is Alpine with the same tools).
  if [ "$SERVICE_PROXY" = kube-router ]; then
    local krbin="$CACHE_DIR/bin/kube-router-$KUBE_ROUTER_VERSION/kube-router"
    [ -x "$krbin" ] || die "kube-router $KUBE_ROUTER_VERSION is not built ($krbin): run cluster/build.sh"
    IMAGE_KUBE_ROUTER="svc-conformance.local/kube-router:$KUBE_ROUTER_VERSION"
    key=$(sha256sum "$krbin" | cut -c1-12)
    t="$idir/kube-router-$KUBE_ROUTER_VERSION-$key-v1.tar"
    if [ ! -f "$t" ]; then
      tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin" "$tmp/rootfs/usr/sbin" "$tmp/rootfs/etc/iproute2"; base_rootfs "$tmp/rootfs"
      copy_with_libs "$tmp/rootfs" /bin/sh /bin/cat /usr/sbin/conntrack /usr/sbin/ipset /usr/sbin/ipvsadm "$(command -v ip)" /usr/bin/curl
      iptables_rootfs "$tmp/rootfs"
      cp /etc/iproute2/rt_tables "$tmp/rootfs/etc/iproute2/"
      cp -L "$krbin" "$tmp/rootfs/usr/local/bin/kube-router"
      make_image "$t" "$IMAGE_KUBE_ROUTER" "$tmp/rootfs" '["/usr/local/bin/kube-router"]'; rm -rf "$tmp"
    fi
    IMAGE_TARS+=("$t")
  fi
  # dnsmasq or Unbound as the node cache (nodeLocalDNSServer): the machine's Debian package's
  # binary and the libraries it loads; tagged with the package's upstream version.
  if [ "$NODE_LOCAL_DNS_SERVER" = dnsmasq ] || [ "$NODE_LOCAL_DNS_SERVER" = unbound ]; then
    local srv=$NODE_LOCAL_DNS_SERVER bin pkg ver
    case "$srv" in dnsmasq) bin=/usr/sbin/dnsmasq pkg=dnsmasq-base ;; unbound) bin=/usr/sbin/unbound pkg=unbound ;; esac
    [ -x "$bin" ] || die "nodeLocalDNSServer $srv needs $bin: apt-get install -y $pkg (scripts/setup.sh does)"
    ver=$(dpkg-query -W -f='${Version}' "$pkg"); ver=${ver#*:}; ver=${ver%%-*}
    IMAGE_NODE_LOCAL_DNS="svc-conformance.local/$srv:v$ver"
    key=$(sha256sum "$bin" | cut -c1-12)
    t="$idir/$srv-$ver-$key-v1.tar"
    if [ ! -f "$t" ]; then
      tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"; base_rootfs "$tmp/rootfs"
      copy_with_libs "$tmp/rootfs" "$bin"
      make_image "$t" "$IMAGE_NODE_LOCAL_DNS" "$tmp/rootfs" "[\"$bin\"]"; rm -rf "$tmp"
    fi
    IMAGE_TARS+=("$t")
  fi
  local dns; dns=$(cfg .dnsImage)
  if [ "$dns" != null ]; then
    if [ -f "$dns" ]; then
      IMAGE_TARS+=("$dns")
      IMAGE_COREDNS=$( { tar -xOf "$dns" index.json 2>/dev/null || true; } | jq -r '.manifests[0].annotations["io.containerd.image.name"] // empty' 2>/dev/null || true)
      [ -n "$IMAGE_COREDNS" ] || die "dnsImage $dns: no io.containerd.image.name annotation in its index.json; give an OCI archive made with a name (e.g. skopeo copy ... oci-archive:FILE:NAME)"
    else
      die "dnsImage must be the path of an OCI image archive (it is imported into every node); got '$dns'"
    fi
  fi
}
