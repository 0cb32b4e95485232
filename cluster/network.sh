# The bundled cluster's network: a host bridge, a network namespace per node, pod CIDR routes.
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
make_network() {
  ip link add "$BRIDGE" type bridge
  if has_family IPv4; then ip addr add "$(bridge_ip4)/${NODE_CIDR#*/}" dev "$BRIDGE"; fi
  # nodad: the address is usable at once (no duplicate address detection on our own bridge).
  if has_family IPv6; then sysctl -qw net.ipv6.conf.all.forwarding=1; ip -6 addr add "$(bridge_ip6)/${NODE_CIDR_V6#*/}" dev "$BRIDGE" nodad; fi
  ip link set "$BRIDGE" up
  forward_rules add
  # VM nodes send traffic for other nodes' Pods to the host (node_net_script), which routes
  # it back onto the bridge: IPv4 forwarding on (IPv6's is above). The old value is restored at down.
  if any_vm && has_family IPv4 && [ "$(sysctl -n net.ipv4.ip_forward)" != 1 ]; then
    echo 0 > "$STATE_DIR/host-ip-forward-was"; sysctl -qw net.ipv4.ip_forward=1
  fi
  local n
  for n in $(seq 1 "$NODES"); do
    if is_vm "$n"; then
      # A VM node: a tap on the bridge, its guest's eth0; the guest runs node_net_script itself
      # at boot (vm_prepare puts it in the node's config share).
      ip tuntap add dev "$TAP_PREFIX$n" mode tap
      ip link set "$TAP_PREFIX$n" master "$BRIDGE" up
      continue
    fi
    ip netns add "$(netns "$n")"
    ip link add "$VETH_PREFIX$n" type veth peer name eth0 netns "$(netns "$n")"
    ip link set "$VETH_PREFIX$n" master "$BRIDGE" up
    in_node "$n" bash -euo pipefail -c "$(node_net_script "$n")"
  done
}

# node_net_script <n>: the commands that give a node (a network namespace or a VM guest) its
# network: addresses on eth0, the Service range's route, the forwarding sysctls, and
# NodeLocal DNSCache's addresses and rules.
node_net_script() {
  local n=$1
  echo "ip link set lo up"
  if has_family IPv4; then echo "ip addr add $(node_ip4 "$n")/${NODE_CIDR#*/} dev eth0"; fi
  if has_family IPv6; then echo "ip -6 addr add $(node_ip6 "$n")/${NODE_CIDR_V6#*/} dev eth0 nodad"; fi
  echo "ip link set eth0 up"
  # Service VIPs: a route (with the node's address as source) lets host-network clients
  # connect() so that kube-proxy's DNAT applies; anything not rewritten dies there. Nodes
  # have no default route at all. IPv4 uses lo. IPv6 cannot: the kernel makes a route
  # over lo to non-local addresses a reject route, which answers forwarded Pod traffic
  # with "no route" before kube-proxy's FORWARD rules (its REJECT for a Service without
  # endpoints) see it; so IPv6 VIPs are on-link on eth0, where nothing answers for them.
  if has_family IPv4; then echo "ip route add $SERVICE_CIDR dev lo src $(node_ip4 "$n")"; fi
  if has_family IPv6; then echo "ip -6 route add $SERVICE_CIDR_V6 dev eth0 src $(node_ip6 "$n")"; fi
  echo "sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.conf.all.route_localnet=1 >/dev/null"
  if has_family IPv6; then echo "sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null"; fi
  if is_vm "$n"; then
    # A VM node reaches the other nodes' Pods through the host, which has a route to each
    # node's Pod range (wire_pod_cidrs): one route for the whole cluster Pod range, nothing else.
    if has_family IPv4; then echo "ip route add $POD_CIDR via $(bridge_ip4) dev eth0"; fi
    if has_family IPv6; then echo "ip -6 route add $POD_CIDR_V6 via $(bridge_ip6) dev eth0"; fi
  fi
  node_local_dns_script
}

# After the controller-manager gives each node its podCIDRs (one per family): CNI config
# (an address per family for every Pod) and routes to each node's ranges.
wire_pod_cidrs() {
  local n m cidr via want
  declare -A cidrs
  want=$(tr ',' '\n' <<<"$FAMILIES" | wc -l)
  for n in $(seq 1 "$NODES"); do
    wait_for "$want podCIDR(s) for $(node_name "$n")" 60 "$LOGS/kube-controller-manager.log" kube-controller-manager \
      bash -c "[ \"\$(\"$(kbin kubectl)\" --kubeconfig \"$KUBECONFIG_PATH\" get node $(node_name "$n") -o jsonpath='{.spec.podCIDRs[*]}' | wc -w)\" -ge $want ]"
    cidrs[$n]=$(kubectl get node "$(node_name "$n")" -o jsonpath='{.spec.podCIDRs[*]}')
  done
  for n in $(seq 1 "$NODES"); do
    # A VM node's guest copies its conflist from the config share into its own /etc/cni/net.d.
    local netd data; netd="$(node_dir "$n")/cni/net.d"; data="$(node_dir "$n")/cni/ipam"
    if is_vm "$n"; then netd="$(vm_dir "$n")/cfg/cni"; data=/var/lib/cni/ipam; fi
    mkdir -p "$netd"
    # shellcheck disable=SC2086 # the node's ranges, one per family
    jq -n --arg data "$data" --argjson hairpin "$(cfg .cniHairpinMode)" \
      --args '{
      cniVersion: "1.0.0", name: "svc-pods",
      plugins: [
        {type: "bridge", bridge: "cni0", isGateway: true, ipMasq: false, hairpinMode: $hairpin,
         ipam: {type: "host-local", ranges: [$ARGS.positional[] | [{subnet: .}]],
                routes: [$ARGS.positional[] | if test(":") then {dst: "::/0"} else {dst: "0.0.0.0/0"} end],
                dataDir: $data}},
        {type: "portmap", capabilities: {portMappings: true}}
      ]}' ${cidrs[$n]} > "$netd/10-svc-pods.conflist.tmp"
    mv "$netd/10-svc-pods.conflist.tmp" "$netd/10-svc-pods.conflist"
    for cidr in ${cidrs[$n]}; do
      if [[ $cidr == *:* ]]; then via=$(node_ip6 "$n"); else via=$(node_ip4 "$n"); fi
      ip route replace "$cidr" via "$via" dev "$BRIDGE"
      echo "$cidr" >> "$STATE_DIR/root-routes"
      for m in $(seq 1 "$NODES"); do
        [ "$m" = "$n" ] || is_vm "$m" || in_node "$m" ip route replace "$cidr" via "$via" dev eth0
      done
    done
  done
}

# Traffic between nodes crosses the host bridge, and bridged packets pass the host's
# iptables FORWARD chain (bridge-nf-call-iptables). Docker sets that chain's policy to
# DROP when dockerd starts (the kind target runs one beside this cluster), so the bridge
# gets its own ACCEPT rules, tagged with a comment and removed by `down`. Docker's own
# chains only match its own interfaces and leave these alone.
forward_rules() { # add|del (ip6tables too for an IPv6 cluster; del removes both)
  local dir flag tool tools=(iptables)
  if [ "$1" = del ] || has_family IPv6; then tools+=(ip6tables); fi
  for tool in "${tools[@]}"; do
    for dir in -i -o; do
      flag=-C; [ "$1" = del ] && flag=-D
      if [ "$1" = add ]; then
        "$tool" -C FORWARD "$dir" "$BRIDGE" -m comment --comment svc-conformance-bundled -j ACCEPT 2>/dev/null ||
          "$tool" -I FORWARD 1 "$dir" "$BRIDGE" -m comment --comment svc-conformance-bundled -j ACCEPT
      else
        while "$tool" "$flag" FORWARD "$dir" "$BRIDGE" -m comment --comment svc-conformance-bundled -j ACCEPT 2>/dev/null; do :; done
      fi
    done
  done
}

# NodeLocal DNSCache (nodeLocalDNS link-local|service-ip): what node-cache sets up on each node
# before it serves, done here once at `up` for every node (the Pod runs plain CoreDNS). The
# addresses go on lo, as this kernel has no dummy interfaces (node-cache makes a dummy
# `nodelocaldns`); deleting the node's network namespace at `down` removes them and the rules.
node_local_dns_addrs() { # the addresses the node cache binds
  case "$NODE_LOCAL_DNS" in
    link-local) echo "$NODE_LOCAL_DNS_IP" ;;
    service-ip) echo "$NODE_LOCAL_DNS_IP $DNS_IP" ;;
  esac
}
NODE_LOCAL_DNS_COMMENT="NodeLocal DNS Cache: skip conntrack"
# node-cache's rules (cmd/node-cache/app/cache_app.go, initIptables), for every address it binds:
# its DNS traffic skips conntrack (so kube-proxy's DNAT of the DNS Service IP never applies) and is
# accepted; also the health-check port's. node-cache prepends each one; so does this.
node_local_dns_rules() { # <address>: prints "table chain target match..." lines
  local a=$1 p
  for p in tcp udp; do
    echo "raw PREROUTING NOTRACK -p $p -d $a --dport 53"
    echo "filter INPUT ACCEPT -p $p -d $a --dport 53"
    echo "raw OUTPUT NOTRACK -p $p -s $a --sport 53"
    echo "filter OUTPUT ACCEPT -p $p -s $a --sport 53"
    echo "raw OUTPUT NOTRACK -p $p -d $a --dport 53"
  done
  echo "raw OUTPUT NOTRACK -p tcp -d $a --dport $NODE_LOCAL_DNS_HEALTH_PORT"
  echo "raw OUTPUT NOTRACK -p tcp -s $a --sport $NODE_LOCAL_DNS_HEALTH_PORT"
}

# The node's part of node_net_script, run before any Pod can start (CoreDNS's `bind` needs the addresses there).
node_local_dns_script() {
  [ "$NODE_LOCAL_DNS" != off ] || return 0
  local a table chain target match
  for a in $(node_local_dns_addrs); do
    echo "ip addr add $a/32 dev lo"
    while read -r table chain target match; do
      echo "iptables -w 5 -t $table -I $chain $match -m comment --comment '$NODE_LOCAL_DNS_COMMENT' -j $target"
    done < <(node_local_dns_rules "$a")
  done
}
