#!/usr/bin/env bash
# Least privilege, as a user would grant it: applies manifests/rbac/default.yaml (and
# privileged.yaml with `privileged`) with the current kubeconfig, and prints the path of a
# kubeconfig for the ServiceAccount svc-conformance/svc-conformance those files bind (a
# token of 2 hours). `kubeconfig` only makes that kubeconfig, for the ServiceAccount
# svc-conformance in NAMESPACE (the RBAC already applied, e.g. `svc-conformance manifest
# --rbac-only`). `down` deletes what the files made.
# Usage: scripts/sa-kubeconfig.sh up DIR [default|privileged]  |  scripts/sa-kubeconfig.sh kubeconfig DIR [NAMESPACE]
#        scripts/sa-kubeconfig.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
files=(-f manifests/rbac/default.yaml -f manifests/rbac/privileged.yaml)
# kubeconfig DIR NAMESPACE: a kubeconfig for NAMESPACE/svc-conformance (a 2-hour token) in DIR; its path.
kubeconfig() {
  local dir=$1 ns=$2 token server ca ca_file out
  # The ServiceAccount may take a moment to exist after its namespace (wait on it).
  kubectl -n "$ns" wait --for=create serviceaccount/svc-conformance --timeout=60s >/dev/null
  token=$(kubectl -n "$ns" create token svc-conformance --duration=2h)
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  if [ -z "$ca" ]; then
    ca_file=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')
    ca=$(base64 -w0 < "$ca_file")
  fi
  mkdir -p "$dir"; out=$(cd "$dir" && pwd)/svc-conformance-sa.kubeconfig
  umask 077
  cat > "$out" <<EOF
apiVersion: v1
kind: Config
current-context: svc-conformance
clusters: [{name: cluster, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: svc-conformance, user: {token: "$token"}}]
contexts: [{name: svc-conformance, context: {cluster: cluster, user: svc-conformance}}]
EOF
  echo "$out"
}
case "${1:-}" in
  up)
    dir=${2:?usage: sa-kubeconfig.sh up DIR [default|privileged]}; profile=${3:-default}
    case "$profile" in default) apply=(-f manifests/rbac/default.yaml) ;; privileged) apply=("${files[@]}") ;;
      *) echo "sa-kubeconfig: profile must be default or privileged (got '$profile')" >&2; exit 2 ;; esac
    # An earlier `down`, or a test, may have left the namespace terminating: applying into it
    # is refused ("being terminated"), so wait until it is gone (seen in CI: the runner's tests
    # delete it without waiting, then the scale run's `up` came 0 s later).
    if [ -n "$(kubectl get namespace svc-conformance -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; then
      kubectl wait --for=delete namespace/svc-conformance --timeout=180s >&2 \
        || { echo "sa-kubeconfig: the namespace svc-conformance is still terminating after 180 s: kubectl get namespace svc-conformance -o yaml says why" >&2; exit 1; }
    fi
    kubectl apply "${apply[@]}" >&2
    kubeconfig "$dir" svc-conformance ;;
  kubeconfig)
    kubeconfig "${2:?usage: sa-kubeconfig.sh kubeconfig DIR [NAMESPACE]}" "${3:-svc-conformance}" ;;
  down)
    kubectl delete --ignore-not-found "${files[@]}" >&2 ;;
  *) echo "usage: scripts/sa-kubeconfig.sh up DIR [default|privileged] | kubeconfig DIR [NAMESPACE] | down" >&2; exit 2 ;;
esac
