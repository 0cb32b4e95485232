#!/usr/bin/env bash
# A broken Cilium for scripts/prove-failures.sh (case cilium-other-proxy-name, run inside
# helpers/targets/kind/cli.ts exec --proxy cilium): its agents serve only the Services labelled
# service.kubernetes.io/service-proxy-name=svc-other (Cilium's k8s-service-proxy-name), as a
# Cilium set up to serve another proxy's Services would. The cluster's own Services (kubernetes,
# kube-dns) get the label, so that the cluster keeps working; the suites' Services do not.
set -euo pipefail
: "${KUBECONFIG:?run inside helpers/targets/kind/cli.ts exec (it sets KUBECONFIG)}"
kubectl -n default label service kubernetes service.kubernetes.io/service-proxy-name=svc-other --overwrite
kubectl -n kube-system label service kube-dns service.kubernetes.io/service-proxy-name=svc-other --overwrite
kubectl -n kube-system patch configmap cilium-config --type merge -p '{"data":{"k8s-service-proxy-name":"svc-other"}}'
kubectl -n kube-system rollout restart daemonset/cilium
kubectl -n kube-system rollout status daemonset/cilium --timeout=180s
