# Add-ons of the bundled cluster (CoreDNS, kube-proxy; manifests from addons.sh), readiness and the profile.
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
default_corefile() {
  cat <<EOF
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    cache 30 {
       disable success $CLUSTER_DOMAIN
       disable denial $CLUSTER_DOMAIN
    }
    reload
    loadbalance
}
EOF
}

apply_addons() {
  local corefile proxycfg
  corefile=$(cfg '.corefile // empty')
  [ -n "$corefile" ] || corefile=$(default_corefile)
  corefile=${corefile//\$\{CLUSTER_DOMAIN\}/$CLUSTER_DOMAIN}
  proxycfg=$(jq -n --arg mode "$PROXY_MODE" --arg cidr "$POD_CIDRS" --argjson user "$(cfg .kubeProxy)" '({
    kind: "KubeProxyConfiguration", apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    clientConnection: {kubeconfig: "/var/lib/kube-proxy/kubeconfig.conf"},
    mode: $mode, clusterCIDR: $cidr, metricsBindAddress: "127.0.0.1:10249",
    conntrack: {maxPerCore: 0},
    iptables: {minSyncPeriod: "1s"}, nftables: {minSyncPeriod: "1s"}
  } + (if $mode == "ipvs" then {ipvs: {minSyncPeriod: "1s"}} else {} end)) * $user')
  local manifests
  # shellcheck disable=SC2154 # here: cluster.sh's folder, set by cluster.sh, which sources this file
  manifests=$(SVC_COREFILE_JSON=$(jq -Rs . <<<"$corefile") SVC_PROXYCFG_JSON=$(jq -Rs . <<<"$proxycfg") \
    SVC_API="https://$(api_host):$API_PORT" SVC_API_HOST="$(bridge_ip)" SVC_API_PORT="$API_PORT" \
    SVC_DNS_IP="$DNS_IP" SVC_DNS_IPS="$DNS_IPS" SVC_IP_FAMILIES="$FAMILIES" SVC_COREDNS_IMAGE="$IMAGE_COREDNS" \
    SVC_COREDNS_REPLICAS="$(cfg .coreDNSReplicas)" SVC_NODE_TOOLS_IMAGE="$IMAGE_NODE_TOOLS" \
    SVC_PROXY_ENABLED=$([ "$PROXY_MODE" = none ] && [ "$SERVICE_PROXY" = kube-proxy ] && echo 0 || echo 1) SVC_NODE_LOCAL_DNS="$NODE_LOCAL_DNS" \
    SVC_KUBE_PROXY=$([ "$SERVICE_PROXY" = kube-proxy ] && echo 1 || echo 0) \
    SVC_PROXY_EXTRA_FLAGS="$(cfg '.extraFlags["kube-proxy"] | map(", " + tojson) | join("")')" \
    "$here/addons.sh")
  kubectl apply --server-side --force-conflicts -f - <<<"$manifests" > "$LOGS/addons.log" 2>&1 \
    || { cat "$LOGS/addons.log" >&2; fail_up "applying the add-ons (CoreDNS, kube-proxy) failed"; }
  if [ "$SERVICE_PROXY" = kube-router ]; then
    manifests=$(SVC_KUBE_ROUTER_IMAGE="$IMAGE_KUBE_ROUTER" SVC_API="https://$(api_host):$API_PORT" \
      SVC_KUBE_ROUTER_EXTRA_FLAGS="$(cfg '.extraFlags["kube-router"] // [] | map(", " + tojson) | join("")')" "$here/kube-router.sh")
    kubectl apply --server-side --force-conflicts -f - <<<"$manifests" >> "$LOGS/addons.log" 2>&1 \
      || { tail -20 "$LOGS/addons.log" >&2; fail_up "applying kube-router failed"; }
  fi
  [ "$NODE_LOCAL_DNS" = off ] || apply_node_local_dns
}

# ---------------------------------------------------------------------------- NodeLocal DNSCache
# Upstream's node-cache Corefile (cluster/addons/dns/nodelocaldns/nodelocaldns.yaml), except the
# `.` block: no forward (nothing leaves this machine, as in the cluster's own Corefile) and so no loop.
default_node_local_corefile() {
  cat <<'EOF'
${CLUSTER_DOMAIN}:53 {
    errors
    cache {
            success 9984 30
            denial 9984 5
    }
    reload
    loop
    bind ${BIND}
    forward . ${UPSTREAM} {
            force_tcp
    }
    prometheus :9253
    health ${LOCAL_DNS}:8080
    }
in-addr.arpa:53 {
    errors
    cache 30
    reload
    loop
    bind ${BIND}
    forward . ${UPSTREAM} {
            force_tcp
    }
    prometheus :9253
    }
ip6.arpa:53 {
    errors
    cache 30
    reload
    loop
    bind ${BIND}
    forward . ${UPSTREAM} {
            force_tcp
    }
    prometheus :9253
    }
.:53 {
    errors
    cache 30
    reload
    bind ${BIND}
    prometheus :9253
    }
EOF
}

node_local_corefile_template() {
  local c; c=$(cfg '.nodeLocalDNSCorefile // empty')
  if [ -n "$c" ]; then echo "$c"; else default_node_local_corefile; fi
}

# Checked before `up` builds anything: the DaemonSet's probes ask the health plugin there.
check_node_local_corefile() {
  [ "$NODE_LOCAL_DNS" != off ] || return 0
  node_local_corefile_template | grep -Eq "^[[:space:]]*health[[:space:]]+(\\$\{LOCAL_DNS\}|${NODE_LOCAL_DNS_IP//./\\.}):$NODE_LOCAL_DNS_HEALTH_PORT([[:space:]]|\$)" \
    || die "nodeLocalDNSCorefile has no 'health \${LOCAL_DNS}:$NODE_LOCAL_DNS_HEALTH_PORT' line: the node-local-dns Pods' readiness and liveness probes ask it (as upstream's liveness probe does)"
}

# The cache's upstream: the kube-dns ClusterIP (link-local), or in service-ip mode the ClusterIP
# of kube-dns-upstream, which node-cache reads from KUBE_DNS_UPSTREAM_SERVICE_HOST.
node_local_upstream() {
  if [ "$NODE_LOCAL_DNS" = service-ip ]; then
    kubectl -n kube-system get service kube-dns-upstream -o jsonpath='{.spec.clusterIP}'
  else
    echo "$DNS_IP"
  fi
}

# dnsmasq in the node cache's place: the same addresses, the cluster domain and the reverse
# zones forwarded to the same upstream, nothing else answered (no resolv.conf, no hosts file:
# nothing leaves this machine), a cache of upstream's size.
dnsmasq_node_local_conf() { # <bind addresses> <upstream>
  local a
  printf '%s\n' keep-in-foreground log-facility=- user=root pid-file= port=53 bind-interfaces no-resolv no-hosts no-poll cache-size=9984
  for a in $1; do echo "listen-address=$a"; done
  for a in "$CLUSTER_DOMAIN" in-addr.arpa ip6.arpa; do echo "server=/$a/$2"; done
  cfg '.nodeLocalDNSExtraConfig[]'
}

# Unbound in the node cache's place: the same addresses; the cluster domain and the reverse
# zones forwarded over TCP (as upstream's Corefile does, force_tcp) to the same upstream; every
# other name refused (nothing leaves this machine); no DNSSEC validation (the cluster's zones
# are unsigned) and the private reverse zones not blocked.
unbound_node_local_conf() { # <bind addresses> <upstream>
  local a z
  printf '%s\n' 'server:' '  do-daemonize: no' '  username: ""' '  chroot: ""' '  directory: "/"' '  pidfile: ""' \
    '  use-syslog: no' '  logfile: ""' '  verbosity: 1' '  num-threads: 1' '  port: 53' '  access-control: 0.0.0.0/0 allow' \
    '  access-control: ::/0 allow' '  do-not-query-localhost: no' '  module-config: "iterator"' '  unblock-lan-zones: yes' \
    '  insecure-lan-zones: yes' '  local-zone: "." refuse'
  for a in $1; do echo "  interface: $a"; done
  for z in "$CLUSTER_DOMAIN." in-addr.arpa. ip6.arpa.; do echo "  local-zone: \"$z\" transparent"; done
  cfg '.nodeLocalDNSExtraConfig[] | "  " + .'
  for z in "$CLUSTER_DOMAIN." in-addr.arpa. ip6.arpa.; do
    printf 'forward-zone:\n  name: "%s"\n  forward-addr: %s\n  forward-tcp-upstream: yes\n' "$z" "$2"
  done
}

apply_node_local_dns() {
  local upstream corefile bind manifests key args probe
  upstream=$(node_local_upstream 2>>"$LOGS/addons.log") || true
  [ -n "$upstream" ] || fail_up "the kube-dns-upstream Service has no ClusterIP (log: $LOGS/addons.log)"
  bind=$(node_local_dns_addrs)
  case "$NODE_LOCAL_DNS_SERVER" in
    dnsmasq)
      corefile=$(dnsmasq_node_local_conf "$bind" "$upstream"); key=dnsmasq.conf
      args='["--conf-file=/etc/coredns/dnsmasq.conf"]' ;;
    unbound)
      corefile=$(unbound_node_local_conf "$bind" "$upstream"); key=unbound.conf
      args='["-d", "-c", "/etc/coredns/unbound.conf"]' ;;
    *)
      corefile=$(node_local_corefile_template)
      corefile=${corefile//\$\{CLUSTER_DOMAIN\}/$CLUSTER_DOMAIN}
      corefile=${corefile//\$\{LOCAL_DNS\}/$NODE_LOCAL_DNS_IP}
      corefile=${corefile//\$\{BIND\}/$bind}
      corefile=${corefile//\$\{UPSTREAM\}/$upstream}
      key=Corefile args='[-conf, /etc/coredns/Corefile]' ;;
  esac
  if [ "$NODE_LOCAL_DNS_SERVER" = coredns ]; then
    probe="httpGet: {host: \"$NODE_LOCAL_DNS_IP\", path: /health, port: $NODE_LOCAL_DNS_HEALTH_PORT}"
  else
    probe="tcpSocket: {host: \"$NODE_LOCAL_DNS_IP\", port: 53}"
  fi
  manifests=$(SVC_NODE_LOCAL_COREFILE_JSON=$(jq -Rs . <<<"$corefile") SVC_NODE_LOCAL_DNS_IMAGE="$IMAGE_NODE_LOCAL_DNS" \
    SVC_NODE_LOCAL_CONFIG_KEY="$key" SVC_NODE_LOCAL_ARGS_JSON="$args" SVC_NODE_LOCAL_PROBE="$probe" \
    "$here/addons.sh" node-local-dns)
  kubectl apply --server-side --force-conflicts -f - <<<"$manifests" >> "$LOGS/addons.log" 2>&1 \
    || { tail -20 "$LOGS/addons.log" >&2; fail_up "applying the NodeLocal DNSCache (node-local-dns) failed"; }
  log "NodeLocal DNSCache ($NODE_LOCAL_DNS, $NODE_LOCAL_DNS_SERVER): binds $bind on every node, forwards $CLUSTER_DOMAIN and reverse zones to $upstream"
}

node_local_dns_ready() {
  local s
  s=$(kubectl -n kube-system get daemonset node-local-dns -o jsonpath='{.status.numberReady}/{.status.desiredNumberScheduled}')
  echo "node-local-dns ready: $s"
  kubectl -n kube-system get pods -l k8s-app=node-local-dns -o wide 2>&1 || true
  [ "$s" = "$NODES/$NODES" ]
}

primary_rrtype() { if [ "$PRIMARY_FAMILY" = IPv6 ]; then echo AAAA; else echo A; fi; }  # kubernetes.default's family

node_local_dns_answers() { # <node>: its cache answers kubernetes.default at every address it binds
  local n=$1 a got want; want=$(first_service_ip)
  for a in $(node_local_dns_addrs); do
    got=$(in_node "$n" dig +short +time=1 +tries=1 @"$a" "kubernetes.default.svc.$CLUSTER_DOMAIN" "$(primary_rrtype)" 2>&1) || true
    echo "$(node_name "$n") @$a: ${got:-no answer}"
    [ "$got" = "$want" ] || return 1
  done
}

wait_node_local_dns() {
  wait_for "the node-local-dns DaemonSet to be ready on all $NODES nodes" 120 - - node_local_dns_ready
  local n
  for n in $(seq 1 "$NODES"); do
    wait_for "$(node_name "$n")'s NodeLocal DNSCache to answer kubernetes.default.svc.$CLUSTER_DOMAIN at $(node_local_dns_addrs)" 60 - - \
      node_local_dns_answers "$n"
  done
}

node_local_dns_status() {
  local rc=0 n a ds upstream have want rules lo answers
  ds=$(kubectl -n kube-system get daemonset node-local-dns -o jsonpath='{.status.numberReady}/{.status.desiredNumberScheduled}' 2>/dev/null) || true
  upstream=$(node_local_upstream 2>/dev/null) || true
  echo "NodeLocal DNSCache ($NODE_LOCAL_DNS): DaemonSet node-local-dns ${ds:-MISSING} ready, forwarding to ${upstream:-?}"
  [ -n "$ds" ] && [ "$ds" = "$NODES/$NODES" ] || rc=1
  want=$(( $(node_local_dns_addrs | wc -w) * $(node_local_dns_rules x | wc -l) ))
  for n in $(seq 1 "$NODES"); do
    lo=""
    for a in $(node_local_dns_addrs); do
      if in_node "$n" ip -o addr show dev lo 2>/dev/null | grep -qF " $a/32 "; then lo="$lo $a"; else lo="$lo $a(MISSING)"; rc=1; fi
    done
    have=$( { in_node "$n" iptables -w 5 -t raw -S; in_node "$n" iptables -w 5 -t filter -S; } 2>/dev/null | grep -cF "$NODE_LOCAL_DNS_COMMENT" || true)
    [ "$have" = "$want" ] || rc=1
    rules="$have of $want rules"
    if answers=$(node_local_dns_answers "$n"); then answers="answers"; else answers="NOT answering ($(echo "$answers" | tail -1))"; rc=1; fi
    echo "  $(node_name "$n"): lo$lo; $rules; $answers"
  done
  return $rc
}

dns_answers() { # queries kubernetes.default from node 1 through the DNS Service IP
  local want server=$DNS_IP; want=$(first_service_ip)
  # Without a Service proxy the Service IP cannot answer: ask a CoreDNS Pod instead.
  if [ "$PROXY_MODE" = none ]; then
    server=$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].status.podIP}' 2>/dev/null)
    [ -n "$server" ] || return 1
  fi
  [ "$(in_node 1 dig +short +time=1 +tries=1 @"$server" "kubernetes.default.svc.$CLUSTER_DOMAIN" "$(primary_rrtype)")" = "$want" ]
}

nodes_ready() {
  local ready
  ready=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
  echo "ready nodes: $ready of $NODES"
  [ "$ready" = "$NODES" ]
}

write_profile() {
  jq -n --arg kc "$KUBECONFIG_PATH" --argjson cfg "$CONFIG_JSON" --arg pause "$IMAGE_PAUSE" --arg dns "$IMAGE_COREDNS" \
    --arg node "$IMAGE_NODE" --arg tools "$IMAGE_NODE_TOOLS" --arg api "https://$(api_host):$API_PORT" \
    --arg state "$STATE_DIR" --arg kpv "$KUBE_PROXY_VERSION" --arg families "$FAMILIES" --arg svc "$SERVICE_CIDRS" \
    --arg dnsips "$DNS_IPS" --arg pods "$POD_CIDRS" --argjson vmnodes "$VM_NODES" '{
      name: "svc-conformance-local", kubeconfig: $kc, apiServer: $api, stateDir: $state,
      kubernetesVersion: $cfg.kubernetesVersion, nodes: $cfg.nodes,
      proxyMode: (if $cfg.serviceProxy == "kube-router" then "kube-router" else $cfg.proxyMode end),
      serviceProxy: $cfg.serviceProxy, vmNodes: $vmnodes,
      clusterDomain: $cfg.clusterDomain, ipFamilies: ($families | split(",")),
      serviceCIDR: ($svc | split(",")[0]), serviceCIDRs: ($svc | split(",")),
      dnsServiceIP: ($dnsips | split(",")[0]), dnsServiceIPs: ($dnsips | split(",")),
      podCIDR: ($pods | split(",")[0]), podCIDRs: ($pods | split(",")),
      coreDNSReplicas: $cfg.coreDNSReplicas, nodeLocalDNS: $cfg.nodeLocalDNS,
      images: {probe: $node, nodeTools: $tools, pause: $pause, coredns: $dns},
      kubeProxyVersion: $kpv
    }' > "$PROFILE_PATH"
}
