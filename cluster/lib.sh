# Shared by build.sh and cluster.sh: logging, config loading and validation.
# shellcheck shell=bash
CLUSTER_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE_DIR=${SVC_CACHE_DIR:-/var/cache/svc-conformance}
# The state of the running cluster (a fixed path: the runner reads its profile.json there).
# shellcheck disable=SC2034 # used by the scripts that source this file
STATE_DIR=/var/lib/svc-conformance/cluster

# The kind target's own inputs (cluster/kind/): the kind release whose node-image layout,
# base files and CLI are used (helpers/targets/kind/provider.ts follows this release), and the
# tools its base image carries.
# shellcheck disable=SC2034 # used by the scripts that source this file
KIND_VERSION=v0.33.0
# shellcheck disable=SC2034 # used by the scripts that source this file
CRICTL_VERSION=v1.37.0
# shellcheck disable=SC2034 # used by the scripts that source this file
CNI_PLUGINS_VERSION=v1.10.0

# The machine's own Debian mirror (its apt sources), unless SVC_DEBIAN_MIRROR names another:
# what debootstrap reads for the kind node image and the VM nodes' root filesystem.
apt_mirror() {
  { grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
  } | grep -m1 -E '^https?://' || true
}

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }

# Environment overrides: variable -> config key (numbers are converted by jq). The list is
# cluster/env-keys.json, which helpers/config/variables.ts reads too (for the matrix and the
# table of variables in docs/configuration.md): one list.
mapfile -t ENV_KEYS < <(sed -n 's/^ *"\(SVC_[A-Z0-9_]*\)": *"\([A-Za-z]*\)",\{0,1\}$/\1:\2/p' "$(dirname "${BASH_SOURCE[0]}")/env-keys.json")
[ "${#ENV_KEYS[@]}" -gt 0 ] || { echo "[cluster] error: no environment keys in $(dirname "${BASH_SOURCE[0]}")/env-keys.json" >&2; exit 2; }

# load_config: merges cluster.json defaults, the user's file ($SVC_CLUSTER_CONFIG) and
# environment overrides into $CONFIG_JSON, validates it, and exports the common values.
# shellcheck disable=SC2034 # the values it sets are for the scripts that source this file
load_config() {
  need_cmd jq "install it with: apt-get install -y jq"
  local defaults="$CLUSTER_SRC/cluster.json" user='{}' env='{}' pair var key val unknown
  if [ -n "${SVC_CLUSTER_CONFIG:-}" ]; then
    [ -f "$SVC_CLUSTER_CONFIG" ] || die "config file $SVC_CLUSTER_CONFIG (SVC_CLUSTER_CONFIG) does not exist"
    user=$(jq -c . "$SVC_CLUSTER_CONFIG" 2>&1) || die "config file $SVC_CLUSTER_CONFIG is not valid JSON: $user"
    unknown=$(jq -r --slurpfile d "$defaults" '[keys[] | select(. as $k | $d[0] | has($k) | not)] | join(", ")' <<<"$user")
    [ -z "$unknown" ] || die "unknown config key(s) in $SVC_CLUSTER_CONFIG: $unknown. Known keys: $(jq -r 'keys | join(", ")' "$defaults")"
    unknown=$(jq -r --slurpfile d "$defaults" '(.extraFlags // {}) | [keys[] | select(. as $k | $d[0].extraFlags | has($k) | not)] | join(", ")' <<<"$user")
    [ -z "$unknown" ] || die "unknown component(s) in extraFlags of $SVC_CLUSTER_CONFIG: $unknown. Known: $(jq -r '.extraFlags | keys | join(", ")' "$defaults")"
  fi
  for pair in "${ENV_KEYS[@]}"; do
    var=${pair%%:*}; key=${pair#*:}
    if [ -n "${!var:-}" ]; then
      val=${!var}
      case "$key" in corefile|nodeLocalDNSCorefile) if [ -f "$val" ]; then val=$(cat "$val"); fi ;; esac
      env=$(jq -c --arg k "$key" --arg v "$val" '. + {($k): ($v | tonumber? // $v)}' <<<"$env")
    fi
  done
  CONFIG_JSON=$(jq -c -s '.[0] * .[1] * .[2]' "$defaults" <(echo "$user") <(echo "$env"))
  cfg() { jq -r "$1" <<<"$CONFIG_JSON"; }
  K8S_VERSION=$(cfg .kubernetesVersion); ETCD_VERSION=$(cfg .etcdVersion)
  COREDNS_VERSION=$(cfg .coreDNSVersion); CONTAINERD_VERSION=$(cfg .containerdVersion)
  NODES=$(cfg .nodes); PROXY_MODE=$(cfg .proxyMode); CLUSTER_DOMAIN=$(cfg .clusterDomain)
  SERVICE_CIDR=$(cfg .serviceCIDR); DNS_IP=$(cfg .dnsServiceIP); POD_CIDR=$(cfg .podCIDR)
  NODE_CIDR=$(cfg .nodeCIDR); API_PORT=$(cfg .apiserverPort)
  SERVICE_CIDR_V6=$(cfg .serviceCIDRv6); DNS_IP_V6=$(cfg .dnsServiceIPv6); POD_CIDR_V6=$(cfg .podCIDRv6)
  NODE_CIDR_V6=$(cfg .nodeCIDRv6)
  # ipFamilies: a list, or (from SVC_IP_FAMILIES) a comma-separated string; the first is the
  # cluster's primary family (its Services' default, the API server's and the DNS Service's).
  FAMILIES=$(cfg 'if (.ipFamilies | type) == "string" then .ipFamilies else (.ipFamilies // [] | join(",")) end')
  case "$FAMILIES" in
    IPv4|IPv6|IPv4,IPv6|IPv6,IPv4) ;;
    *) die "ipFamilies '$FAMILIES' is not one of [\"IPv4\"], [\"IPv6\"], [\"IPv4\",\"IPv6\"], [\"IPv6\",\"IPv4\"] (SVC_IP_FAMILIES: IPv4, IPv6, IPv4,IPv6 or IPv6,IPv4)" ;;
  esac
  PRIMARY_FAMILY=${FAMILIES%%,*}
  # Validation: each message names the fix.
  [[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "kubernetesVersion '$K8S_VERSION' is not of the form v1.MINOR.PATCH"
  local minor=${BASH_REMATCH[1]}
  [ "$minor" -ge 35 ] || die "kubernetesVersion $K8S_VERSION is not supported: use v1.35.0 or newer (kubelet needs failCgroupV1 and the sandbox image from containerd)"
  [[ "$CONTAINERD_VERSION" =~ ^v2\. ]] || die "containerdVersion $CONTAINERD_VERSION is not supported: use a v2.x release"
  # shellcheck disable=SC2015 # die unless both tests hold
  [[ "$ETCD_VERSION" =~ ^v3\.([0-9]+)\. ]] && [ "${BASH_REMATCH[1]}" -ge 6 ] || die "etcdVersion $ETCD_VERSION is not supported: use v3.6 or newer"
  [[ "$NODES" =~ ^[1-5]$ ]] || die "nodes must be 1 to 5 (got '$NODES')"
  case "$PROXY_MODE" in iptables|nftables|ipvs|none) ;; *) die "proxyMode '$PROXY_MODE' is unknown: use iptables, nftables, ipvs or none" ;; esac
  # VM nodes (cluster/vm.sh): the last vmNodes nodes are QEMU guests with Debian's kernel. A
  # proxy that needs a kernel of its own (ipvs: this machine's has no IP_VS) makes every node
  # one, and then a cluster of one node unless nodes is set (kind's default, and VMs are slow).
  # serviceProxy: kube-proxy (in proxyMode), or kube-router (its IPVS service proxy alone, in
  # place of kube-proxy; proxyMode does not apply and must be left unset).
  SERVICE_PROXY=$(cfg .serviceProxy); KUBE_ROUTER_VERSION=$(cfg .kubeRouterVersion)
  case "$SERVICE_PROXY" in
    kube-proxy) ;;
    kube-router)
      # (A running cluster's own config, as `status` reads it back, has the default proxyMode.)
      if [ "$PROXY_MODE" != "$(jq -r .proxyMode "$defaults")" ]; then
        die "serviceProxy kube-router replaces kube-proxy, so proxyMode ($PROXY_MODE) does not apply: leave proxyMode (SVC_PROXY_MODE) unset"
      fi
      [[ "$KUBE_ROUTER_VERSION" =~ ^v2\.[0-9]+\.[0-9]+$ ]] || die "kubeRouterVersion '$KUBE_ROUTER_VERSION' is not a kube-router v2 release (v2.MINOR.PATCH)" ;;
    *) die "serviceProxy '$SERVICE_PROXY' is unknown: use kube-proxy (proxyMode picks its mode) or kube-router" ;;
  esac
  local vm why=""; vm=$(cfg '.vmNodes // empty')
  [ "$PROXY_MODE" != ipvs ] || why="proxyMode ipvs"
  [ "$SERVICE_PROXY" != kube-router ] || why="serviceProxy kube-router (IPVS-based)"
  if [ -n "$why" ]; then
    if ! jq -e 'has("nodes")' <<<"$user" >/dev/null && ! jq -e 'has("nodes")' <<<"$env" >/dev/null; then NODES=1; CONFIG_JSON=$(jq -c '.nodes = 1' <<<"$CONFIG_JSON"); fi
    [ -z "$vm" ] || [ "$vm" = "$NODES" ] || die "$why runs every node as a VM (this machine's kernel has no IP_VS): vmNodes must be $NODES (the node count) or unset, not $vm"
    vm=$NODES
  fi
  VM_NODES=${vm:-0}
  # shellcheck disable=SC2015 # die unless both tests hold
  [[ "$VM_NODES" =~ ^[0-9]+$ ]] && [ "$VM_NODES" -le "$NODES" ] || die "vmNodes must be 0 to nodes ($NODES) (got '$VM_NODES')"
  # shellcheck disable=SC2015 # die unless both tests hold
  [[ "$(cfg .vmMemoryMiB)" =~ ^[0-9]+$ ]] && [ "$(cfg .vmMemoryMiB)" -ge 1024 ] || die "vmMemoryMiB must be a number of MiB, at least 1024 (got '$(cfg .vmMemoryMiB)')"
  [[ "$(cfg .vmCPUs)" =~ ^[1-8]$ ]] || die "vmCPUs must be 1 to 8 (got '$(cfg .vmCPUs)')"
  [[ "$CLUSTER_DOMAIN" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]] || die "clusterDomain '$CLUSTER_DOMAIN' is not a valid DNS name"
  local r; r=$(cfg .coreDNSReplicas); [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "coreDNSReplicas must be a positive number (got '$r')"
  case "$(cfg .cniHairpinMode)" in true|false) ;; *) die "cniHairpinMode must be true or false (got '$(cfg .cniHairpinMode)')" ;; esac
  NODE_LOCAL_DNS=$(cfg .nodeLocalDNS)
  case "$NODE_LOCAL_DNS" in
    off|link-local|service-ip) ;;
    *) die "nodeLocalDNS '$NODE_LOCAL_DNS' is unknown: use off, link-local (Pods ask 169.254.20.10) or service-ip (each node answers the DNS Service IP itself)" ;;
  esac
  if [ "$NODE_LOCAL_DNS" != off ] && [ "$PROXY_MODE" = none ] && [ "$SERVICE_PROXY" = kube-proxy ]; then
    die "nodeLocalDNS $NODE_LOCAL_DNS needs a Service proxy: the node cache forwards to the cluster DNS through a Service IP. Use proxyMode iptables or nftables, or nodeLocalDNS off"
  fi
  # The node cache's server: CoreDNS (NodeLocal DNSCache's own), or dnsmasq or Unbound (Debian's
  # packages) in its place, on the same addresses and rules.
  NODE_LOCAL_DNS_SERVER=$(cfg .nodeLocalDNSServer)
  case "$NODE_LOCAL_DNS_SERVER" in
    coredns|dnsmasq|unbound) ;;
    *) die "nodeLocalDNSServer '$NODE_LOCAL_DNS_SERVER' is unknown: use coredns (NodeLocal DNSCache), dnsmasq or unbound" ;;
  esac
  if [ "$NODE_LOCAL_DNS_SERVER" != coredns ] && [ "$NODE_LOCAL_DNS" = off ]; then
    die "nodeLocalDNSServer $NODE_LOCAL_DNS_SERVER is the node cache's server: set nodeLocalDNS to link-local or service-ip (SVC_NODE_LOCAL_DNS) too"
  fi
  [ "$(cfg '.nodeLocalDNSExtraConfig | type == "array" and all(type == "string")')" = true ] \
    || die "nodeLocalDNSExtraConfig must be a list of strings (lines of dnsmasq.conf, or of Unbound's server: clause)"
  if [ "$NODE_LOCAL_DNS_SERVER" = coredns ] && [ "$(cfg '.nodeLocalDNSExtraConfig | length')" != 0 ]; then
    die "nodeLocalDNSExtraConfig adds lines to dnsmasq's or Unbound's config: with nodeLocalDNSServer coredns use nodeLocalDNSCorefile"
  fi
  if [ "$NODE_LOCAL_DNS_SERVER" != coredns ] && [ "$(cfg '.nodeLocalDNSCorefile // empty')" != "" ]; then
    die "nodeLocalDNSCorefile configures CoreDNS, and nodeLocalDNSServer is $NODE_LOCAL_DNS_SERVER: drop the Corefile, or use nodeLocalDNSServer coredns"
  fi
  if [ "$NODE_LOCAL_DNS" = off ] && [ "$(cfg '.nodeLocalDNSCorefile // empty')" != "" ]; then
    die "nodeLocalDNSCorefile is set but nodeLocalDNS is off: set nodeLocalDNS to link-local or service-ip (SVC_NODE_LOCAL_DNS), or drop the Corefile"
  fi
  if has_family IPv6; then
    # Each IPv6 range as the control plane needs it: node addresses in a ::/64, a Service
    # range of at most 20 bits (kube-apiserver's limit), Pod ranges cut into /64s per node
    # (at most 16 bits more, kube-controller-manager's limit).
    local c bits key lo hi val
    for c in nodeCIDRv6:64:64 serviceCIDRv6:108:120 podCIDRv6:48:64; do
      IFS=: read -r key lo hi <<<"$c"
      val=$(cfg ".$key")
      [[ "$val" =~ ^[0-9a-fA-F:]+::/([0-9]+)$ ]] || die "$key '$val' is not an IPv6 range of the form PREFIX::/BITS"
      bits=${BASH_REMATCH[1]}
      # shellcheck disable=SC2015 # die unless both tests hold
      [ "$bits" -ge "$lo" ] && [ "$bits" -le "$hi" ] || die "$key '$val': the prefix length must be $lo to $hi"
    done
    [[ "$DNS_IP_V6" == "${SERVICE_CIDR_V6%%::*}::"* ]] || die "dnsServiceIPv6 '$DNS_IP_V6' is not in serviceCIDRv6 $SERVICE_CIDR_V6"
    if [ "$NODE_LOCAL_DNS" != off ] && [ "$PRIMARY_FAMILY" = IPv6 ]; then
      die "nodeLocalDNS $NODE_LOCAL_DNS is IPv4 here (upstream's link-local address 169.254.20.10): use it on a cluster whose first family is IPv4, or nodeLocalDNS off"
    fi
  fi
  # The ranges and addresses of the families in use, primary first (comma-separated, as the
  # control plane's flags take them); DNS_IP is the primary family's DNS Service address.
  SERVICE_CIDRS=$(by_family "$SERVICE_CIDR" "$SERVICE_CIDR_V6"); POD_CIDRS=$(by_family "$POD_CIDR" "$POD_CIDR_V6")
  DNS_IPS=$(by_family "$DNS_IP" "$DNS_IP_V6"); DNS_IP=${DNS_IPS%%,*}
  mapfile -t KUBELET_EXTRA < <(cfg '.extraFlags.kubelet[]')
  export K8S_VERSION ETCD_VERSION COREDNS_VERSION CONTAINERD_VERSION NODES PROXY_MODE CLUSTER_DOMAIN NODE_LOCAL_DNS NODE_LOCAL_DNS_SERVER FAMILIES VM_NODES SERVICE_PROXY KUBE_ROUTER_VERSION
}

has_family() { [[ ",$FAMILIES," == *",$1,"* ]]; }
# by_family <IPv4 value> <IPv6 value>: the values of the families in use, primary first, comma-separated.
by_family() {
  case "$FAMILIES" in IPv4) echo "$1" ;; IPv6) echo "$2" ;; IPv4,IPv6) echo "$1,$2" ;; IPv6,IPv4) echo "$2,$1" ;; esac
}
# kbin <name>: the path of a binary of the Kubernetes build (cluster/build.sh) of the config's version.
kbin() { echo "$CACHE_DIR/bin/kubernetes-$K8S_VERSION/$1"; }
