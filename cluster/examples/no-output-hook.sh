#!/usr/bin/env bash
# Takes the node's own traffic out of the running bundled cluster's Service proxy (iptables
# mode): kube-proxy is switched to the faulty build's no-output-hook fault (so it never
# adds the jump again; the cluster must be up with SVC_KUBE_PROXY_BINARY from
# faulty-kube-proxy/build.sh), then the nat OUTPUT jump to KUBE-SERVICES is removed on
# every node. Pods are still proxied (PREROUTING); host-network Pods are not. Run after
# `cluster up` (which itself needs the jump to see CoreDNS answer). Used by
# scripts/prove-failures.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
K="bash cluster/cluster.sh kubectl"
$K -n kube-system patch ds kube-proxy --type=json \
  -p '[{"op":"add","path":"/spec/template/spec/containers/0/command/-","value":"--svc-fault=no-output-hook"}]'
$K -n kube-system rollout status ds kube-proxy --timeout=120s
for ns in $(ip netns list | awk '/^svc-node-/ {print $1}'); do
  while ip netns exec "$ns" iptables -t nat -D OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES 2>/dev/null; do :; done
  echo "$ns: nat OUTPUT: $(ip netns exec "$ns" iptables -t nat -S OUTPUT | tr '\n' ' ')"
done
