# token_kubeconfig: the kubeconfig a Service proxy's Pod uses (its ServiceAccount's token and
# CA, the API server at $SVC_API directly, not through the Service it programs), indented as a
# ConfigMap's block value. Sourced by addons.sh (kube-proxy) and kube-router.sh.
# shellcheck shell=bash
token_kubeconfig() {
  cat <<EOF2
    apiVersion: v1
    kind: Config
    clusters:
    - cluster:
        certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        server: $SVC_API
      name: default
    contexts:
    - context: {cluster: default, namespace: default, user: default}
      name: default
    current-context: default
    users:
    - name: default
      user:
        tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
EOF2
}
