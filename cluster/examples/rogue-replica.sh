#!/usr/bin/env bash
# Adds a rogue replica to the running bundled cluster's DNS: a second Deployment labelled
# k8s-app=kube-dns (so the kube-dns Service and its EndpointSlices take it in) whose
# Corefile is Corefile.wrong-answers: one replica among the others answers wrongly.
# Used by scripts/prove-failures.sh after `cluster up` (with and without a cache in front).
set -euo pipefail
cd "$(dirname "$0")/../.."
K="bash cluster/cluster.sh kubectl"
profile=/var/lib/svc-conformance/cluster/profile.json
image=$(jq -r .images.coredns "$profile"); domain=$(jq -r .clusterDomain "$profile")
corefile=$(sed "s/\${CLUSTER_DOMAIN}/$domain/g" cluster/examples/Corefile.wrong-answers)
$K -n kube-system create configmap coredns-rogue --from-literal=Corefile="$corefile" --dry-run=client -o yaml | $K apply -f -
$K apply -f - <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns-rogue, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns, svc-conformance.io/rogue: "true"}}
  template:
    metadata: {labels: {k8s-app: kube-dns, svc-conformance.io/rogue: "true"}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
      - name: coredns
        image: $image
        imagePullPolicy: IfNotPresent
        args: [-conf, /etc/coredns/Corefile]
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 1}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns-rogue}}]
YAML
$K -n kube-system rollout status deployment coredns-rogue --timeout=90s
