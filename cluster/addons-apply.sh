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
  proxycfg=$(jq -n --arg mode "$PROXY_MODE" --arg cidr "$POD_CIDR" --argjson user "$(cfg .kubeProxy)" '{
    kind: "KubeProxyConfiguration", apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    clientConnection: {kubeconfig: "/var/lib/kube-proxy/kubeconfig.conf"},
    mode: $mode, clusterCIDR: $cidr, metricsBindAddress: "127.0.0.1:10249",
    conntrack: {maxPerCore: 0},
    iptables: {minSyncPeriod: "1s"}, nftables: {minSyncPeriod: "1s"}
  } * $user')
  local manifests
  manifests=$(SVC_COREFILE_JSON=$(jq -Rs . <<<"$corefile") SVC_PROXYCFG_JSON=$(jq -Rs . <<<"$proxycfg") \
    SVC_API="https://$(bridge_ip):$API_PORT" SVC_API_HOST="$(bridge_ip)" SVC_API_PORT="$API_PORT" \
    SVC_DNS_IP="$DNS_IP" SVC_COREDNS_IMAGE="$IMAGE_COREDNS" \
    SVC_COREDNS_REPLICAS="$(cfg .coreDNSReplicas)" SVC_NODE_TOOLS_IMAGE="$IMAGE_NODE_TOOLS" \
    SVC_PROXY_ENABLED=$([ "$PROXY_MODE" = none ] && echo 0 || echo 1) \
    "$here/addons.sh")
  kubectl apply --server-side --force-conflicts -f - <<<"$manifests" > "$LOGS/addons.log" 2>&1 \
    || { cat "$LOGS/addons.log" >&2; fail_up "applying the add-ons (CoreDNS, kube-proxy) failed"; }
}

dns_answers() { # queries kubernetes.default from node 1 through the DNS Service IP
  local want server=$DNS_IP; want=$(first_service_ip)
  # Without a Service proxy the Service IP cannot answer: ask a CoreDNS Pod instead.
  if [ "$PROXY_MODE" = none ]; then
    server=$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].status.podIP}' 2>/dev/null)
    [ -n "$server" ] || return 1
  fi
  [ "$(in_node 1 dig +short +time=1 +tries=1 @"$server" "kubernetes.default.svc.$CLUSTER_DOMAIN" A)" = "$want" ]
}

nodes_ready() {
  local ready
  ready=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
  echo "ready nodes: $ready of $NODES"
  [ "$ready" = "$NODES" ]
}

write_profile() {
  jq -n --arg kc "$KUBECONFIG_PATH" --argjson cfg "$CONFIG_JSON" --arg pause "$IMAGE_PAUSE" --arg dns "$IMAGE_COREDNS" \
    --arg node "$IMAGE_NODE" --arg tools "$IMAGE_NODE_TOOLS" --arg api "https://$(bridge_ip):$API_PORT" \
    --arg state "$STATE_DIR" --arg kpv "$KUBE_PROXY_VERSION" '{
      name: "svc-conformance-local", kubeconfig: $kc, apiServer: $api, stateDir: $state,
      kubernetesVersion: $cfg.kubernetesVersion, nodes: $cfg.nodes, proxyMode: $cfg.proxyMode,
      clusterDomain: $cfg.clusterDomain, serviceCIDR: $cfg.serviceCIDR, dnsServiceIP: $cfg.dnsServiceIP,
      podCIDR: $cfg.podCIDR, coreDNSReplicas: $cfg.coreDNSReplicas,
      images: {probe: $node, nodeTools: $tools, pause: $pause, coredns: $dns},
      kubeProxyVersion: $kpv
    }' > "$PROFILE_PATH"
}
