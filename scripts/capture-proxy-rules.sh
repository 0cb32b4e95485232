#!/usr/bin/env bash
# Captures real kube-proxy output for the parser unit tests (helpers/testdata/): brings
# the bundled cluster up in the given mode, creates namespace `capture` with web-api
# (3 replicas), grpc-backend (headless, 2 replicas) and an endpoint-less ClusterIP
# Service `empty` (ipvs: also `sticky`, a NodePort Service with ClientIP affinity), then saves
# node-1's rules. Usage: scripts/capture-proxy-rules.sh iptables|nftables|ipvs
set -euo pipefail
cd "$(dirname "$0")/.."
mode=$1
K="bash cluster/cluster.sh kubectl"
bash cluster/cluster.sh down >/dev/null
SVC_PROXY_MODE=$mode bash cluster/cluster.sh up >/dev/null
probe=$(jq -r .images.probe /var/lib/svc-conformance/cluster/profile.json)
$K create ns capture
$K -n capture create configmap svc-probe --from-file=probe.cjs=dist/probe.cjs
for f in web-api grpc-backend; do
  # shellcheck disable=SC2016 # ${REPLICAS} is the manifest's placeholder, replaced literally
  sed -e "s#\${PROBE_IMAGE}#$probe#" -e 's#\${REPLICAS}#3#' "manifests/$f.yaml" | $K -n capture apply -f -
done
$K -n capture create service clusterip empty --tcp=80:8080
if [ "$mode" = ipvs ]; then
  $K -n capture expose deploy/web-api --name=sticky --type=NodePort --port=81 --target-port=8080 --session-affinity=ClientIP
fi
$K -n capture rollout status deploy/web-api --timeout=90s
$K -n capture rollout status deploy/grpc-backend --timeout=90s
if [ "$mode" = ipvs ]; then
  # kube-proxy on a VM node syncs in seconds, not at once: wait (60 s at most) until node-1's
  # IPVS has every Service's virtual server, with its 3 (or 0) real servers.
  vs() { bash cluster/cluster.sh exec 1 ipvsadm -Ln -t "$1" 2>/dev/null | grep -c -- '->' || true; }
  ip_of() { $K -n capture get svc "$1" -o jsonpath='{.spec.clusterIP}'; }
  node_port=$($K -n capture get svc sticky -o jsonpath='{.spec.ports[0].nodePort}')
  for _ in $(seq 1 60); do
    [ "$(vs "$(ip_of web-api):80")" = 4 ] && [ "$(vs "$(ip_of sticky):81")" = 4 ] && [ "$(vs "$(ip_of empty):80")" = 1 ] \
      && [ "$(vs "172.30.0.11:$node_port")" = 4 ] && break
    sleep 1
  done
else
  sleep 3   # let kube-proxy's minSyncPeriod (1 s) pass; this is a capture, not a test
fi
out=helpers/testdata
if [ "$mode" = iptables ]; then
  nsenter --net=/run/netns/svc-node-1 iptables-save > "$out/iptables-save.captured"
elif [ "$mode" = ipvs ]; then
  bash cluster/cluster.sh exec 1 cat /proc/net/ip_vs > "$out/ip_vs.captured"
  bash cluster/cluster.sh exec 1 ip -o addr show dev kube-ipvs0 > "$out/kube-ipvs0.captured"
else
  nsenter --net=/run/netns/svc-node-1 nft -j list table ip kube-proxy > "$out/nft-kube-proxy.captured.json"
fi
$K -n capture get svc,endpointslices -o wide > "$out/capture-$mode-objects.txt"
$K delete ns capture --wait=false
