#!/usr/bin/env bash
# Prints the kube-router add-on manifests (kube-router v2.1.0 as the cluster's Service proxy, in
# place of kube-proxy) from the SVC_* variables the caller sets; JSON strings are passed pre-quoted.
# Shaped as upstream's daemonset/kube-router-proxy-daemonset.yaml (service proxy only) with the
# ServiceAccount and RBAC of daemonset/kubeadm-kuberouter-all-features.yaml and a kubeconfig
# ConfigMap like kube-proxy's in addons.sh. Only the service proxy runs (IPVS): no routing/BGP, no
# network policy firewall, no CNI config written (the cluster has its own bridge CNI and routes).
#
#   SVC_KUBE_ROUTER_IMAGE        the image: /usr/local/bin/kube-router, iptables (nft backend),
#                                ipset, ipvsadm, conntrack, ip, a shell (and modprobe, if ip_vs
#                                is not loaded on the node beforehand)
#   SVC_API                      the API server, https://host:port (reached directly, not through
#                                the kubernetes Service, which kube-router itself programs)
#   SVC_KUBE_ROUTER_EXTRA_FLAGS  extra args, pre-quoted, each as `, "--flag=value"`; appended
#                                last, so they override the flags set here (e.g. --hairpin-mode=true)
#
# Flags, against kube-router's defaults (pkg/options/options.go):
# - --hairpin-mode=false, --masquerade-all=false: upstream's defaults, set explicitly so they
#   show. With them a Pod reaching itself through its own Service gets no answer (kube-router only
#   SNATs hairpin traffic with --hairpin-mode or the kube-router.io/service.hairpin annotation),
#   and, since --run-router=false leaves kube-router without the node's Pod CIDR, it installs no
#   SNAT rule for IPVS traffic at all: a NodePort/externalIP connection forwarded to an endpoint on
#   another node keeps the client's source and its reply bypasses this node.
# - --metrics-addr=127.0.0.1 --metrics-port=20245: Prometheus metrics on loopback (kube_router_*;
#   off by default). The health server (--health-port, 20244, /healthz) cannot be bound to an
#   address and, sharing Go's default mux, also answers /metrics and /debug/pprof on all addresses.
# - no --enable-cni/--enable-pod-egress/--enable-overlay/--service-cluster-ip-range: only the
#   routing and firewall controllers read them. --run-loadbalancer stays false (its default).
# - no Pod ranges: v2.1.0 has no --cluster-cidr flag; it reads the node's own podCIDRs from its
#   Node only with --run-router=true.
set -euo pipefail
# shellcheck source=cluster/token-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/token-kubeconfig.sh"
: "${SVC_KUBE_ROUTER_IMAGE:?the kube-router image (SVC_KUBE_ROUTER_IMAGE) is not set}"
: "${SVC_API:?the API server URL (SVC_API) is not set}"
cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: kube-router, namespace: kube-system}
---
# Upstream's ClusterRole without the load balancer allocator's rules (leases, services/status:
# --run-loadbalancer=false). kube-router starts informers for namespaces, pods, services, nodes,
# endpoints, endpointslices and networkpolicies whatever runs, and waits for all of them to sync
# before starting (pkg/cmd/kube-router.go), so their list/watch stays.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: kube-router}
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [list, get, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [list, get, watch]
- apiGroups: [extensions]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kube-router}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kube-router}
subjects:
- {kind: ServiceAccount, name: kube-router, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-router, namespace: kube-system, labels: {k8s-app: kube-router}}
data:
  kubeconfig: |-
$(token_kubeconfig)
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-router
  namespace: kube-system
  labels: {k8s-app: kube-router}
spec:
  selector: {matchLabels: {k8s-app: kube-router}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata:
      labels: {k8s-app: kube-router}
    spec:
      priorityClassName: system-node-critical
      serviceAccountName: kube-router
      hostNetwork: true
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{operator: Exists}]
      containers:
      - name: kube-router
        image: $SVC_KUBE_ROUTER_IMAGE
        imagePullPolicy: IfNotPresent
        command: [/usr/local/bin/kube-router]
        args: [--run-router=false, --run-firewall=false, --run-service-proxy=true, --kubeconfig=/var/lib/kube-router/kubeconfig, --hairpin-mode=false, --masquerade-all=false, --metrics-addr=127.0.0.1, --metrics-port=20245, --health-port=20244${SVC_KUBE_ROUTER_EXTRA_FLAGS:-}]
        env:
        # kube-router finds its Node by NODE_NAME (then the hostname, then --hostname-override).
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        # Upstream's probe, with a 5 s timeout (1 s by default): the VM nodes run under
        # software emulation, 15-45x slower than a real machine.
        livenessProbe:
          httpGet: {path: /healthz, port: 20244}
          initialDelaySeconds: 10
          periodSeconds: 3
          timeoutSeconds: 5
        securityContext: {privileged: true}
        volumeMounts:
        - {name: lib-modules, mountPath: /lib/modules, readOnly: true}
        - {name: kubeconfig, mountPath: /var/lib/kube-router, readOnly: true}
        - {name: xtables-lock, mountPath: /run/xtables.lock}
      volumes:
      - name: lib-modules
        hostPath: {path: /lib/modules}
      - name: kubeconfig
        configMap: {name: kube-router, items: [{key: kubeconfig, path: kubeconfig}]}
      - name: xtables-lock
        hostPath: {path: /run/xtables.lock, type: FileOrCreate}
EOF
