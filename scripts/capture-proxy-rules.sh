#!/usr/bin/env bash
# Captures real kube-proxy output for the parser unit tests (helpers/testdata/): brings
# the bundled cluster up in the given mode, creates namespace `capture` with web-api
# (3 replicas), grpc-backend (headless, 2 replicas) and an endpoint-less ClusterIP
# Service `empty`, then saves node-1's rules. Usage: scripts/capture-proxy-rules.sh iptables|nftables
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
  sed -e "s#\${PROBE_IMAGE}#$probe#" -e 's#\${REPLICAS}#3#' "manifests/$f.yaml" | $K -n capture apply -f -
done
$K -n capture create service clusterip empty --tcp=80:8080
$K -n capture rollout status deploy/web-api --timeout=90s
$K -n capture rollout status deploy/grpc-backend --timeout=90s
sleep 3   # let kube-proxy's minSyncPeriod (1 s) pass; this is a capture, not a test
out=helpers/testdata
if [ "$mode" = iptables ]; then
  nsenter --net=/run/netns/svc-node-1 iptables-save > "$out/iptables-save.captured"
else
  nsenter --net=/run/netns/svc-node-1 nft -j list table ip kube-proxy > "$out/nft-kube-proxy.captured.json"
fi
$K -n capture get svc,endpointslices -o wide > "$out/capture-$mode-objects.txt"
$K delete ns capture --wait=false
