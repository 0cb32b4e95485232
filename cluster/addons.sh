#!/usr/bin/env bash
# Prints the add-on manifests (CoreDNS and kube-proxy, shaped as kubeadm installs them)
# from the SVC_* variables that cluster.sh sets. JSON strings are passed pre-quoted.
# `addons.sh node-local-dns` prints the NodeLocal DNSCache instead, shaped as upstream's
# cluster/addons/dns/nodelocaldns/nodelocaldns.yaml but running CoreDNS itself (no node-cache),
# or dnsmasq or Unbound in its place (nodeLocalDNSServer): its config file, args and probe given.
set -euo pipefail
# shellcheck source=cluster/token-kubeconfig.sh
source "$(dirname "${BASH_SOURCE[0]}")/token-kubeconfig.sh"
if [ "${1:-}" = node-local-dns ]; then
cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata:
  name: node-local-dns
  namespace: kube-system
  labels: {kubernetes.io/cluster-service: "true"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: node-local-dns, namespace: kube-system}
data:
  $SVC_NODE_LOCAL_CONFIG_KEY: $SVC_NODE_LOCAL_COREFILE_JSON
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-local-dns
  namespace: kube-system
  labels: {k8s-app: node-local-dns, kubernetes.io/cluster-service: "true"}
spec:
  updateStrategy: {rollingUpdate: {maxUnavailable: 10%}}
  selector: {matchLabels: {k8s-app: node-local-dns}}
  template:
    metadata:
      labels: {k8s-app: node-local-dns}
      annotations: {prometheus.io/port: "9253", prometheus.io/scrape: "true"}
    spec:
      priorityClassName: system-node-critical
      serviceAccountName: node-local-dns
      hostNetwork: true
      dnsPolicy: Default  # never the cluster DNS
      tolerations: [{operator: Exists}]
      containers:
      # node-cache is CoreDNS plus the interface and iptables setup, which cluster.sh did
      # for every node at up: here the same Corefile runs in the bundled CoreDNS.
      - name: node-cache
        image: $SVC_NODE_LOCAL_DNS_IMAGE
        imagePullPolicy: IfNotPresent
        args: $SVC_NODE_LOCAL_ARGS_JSON
        resources:
          requests: {cpu: 25m, memory: 5Mi}
        securityContext:
          capabilities: {add: [NET_ADMIN, NET_BIND_SERVICE]}
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        - {containerPort: 9253, name: metrics, protocol: TCP}
        # CoreDNS: its health plugin; dnsmasq and Unbound: their DNS port over TCP.
        livenessProbe: {$SVC_NODE_LOCAL_PROBE, initialDelaySeconds: 60, timeoutSeconds: 5}
        readinessProbe: {$SVC_NODE_LOCAL_PROBE, periodSeconds: 1}
        volumeMounts:
        - {name: config-volume, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config-volume
        configMap:
          name: node-local-dns
          items: [{key: $SVC_NODE_LOCAL_CONFIG_KEY, path: $SVC_NODE_LOCAL_CONFIG_KEY}]
---
# Headless, for the metrics, as upstream.
apiVersion: v1
kind: Service
metadata:
  name: node-local-dns
  namespace: kube-system
  labels: {k8s-app: node-local-dns}
  annotations: {prometheus.io/port: "9253", prometheus.io/scrape: "true"}
spec:
  clusterIP: None
  ports:
  - {name: metrics, port: 9253, targetPort: 9253}
  selector: {k8s-app: node-local-dns}
EOF
exit 0
fi
cat <<EOF
# The apiserver's client certificate towards kubelets (logs, exec, port-forward).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "svc-conformance:apiserver-kubelet-api-admin"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:kubelet-api-admin"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: $SVC_COREFILE_JSON
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: $SVC_COREDNS_REPLICAS
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      priorityClassName: system-cluster-critical
      serviceAccountName: coredns
      dnsPolicy: Default
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      - {key: node-role.kubernetes.io/control-plane, effect: NoSchedule}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector: {matchExpressions: [{key: k8s-app, operator: In, values: [kube-dns]}]}
              topologyKey: kubernetes.io/hostname
      containers:
      - name: coredns
        image: $SVC_COREDNS_IMAGE
        imagePullPolicy: IfNotPresent
        args: [-conf, /etc/coredns/Corefile]
$(if [ "${SVC_PROXY_ENABLED:-1}" = 0 ]; then cat <<ENV
        # No Service proxy in this cluster: reach the API server directly, not through 10.96.0.1.
        env:
        - {name: KUBERNETES_SERVICE_HOST, value: "${SVC_API_HOST}"}
        - {name: KUBERNETES_SERVICE_PORT, value: "${SVC_API_PORT}"}
ENV
fi)
        resources:
          limits: {memory: 170Mi}
          requests: {cpu: 100m, memory: 70Mi}
        ports:
        - {containerPort: 53, name: dns, protocol: UDP}
        - {containerPort: 53, name: dns-tcp, protocol: TCP}
        - {containerPort: 9153, name: metrics, protocol: TCP}
        livenessProbe:
          httpGet: {path: /health, port: 8080, scheme: HTTP}
          initialDelaySeconds: 60
          timeoutSeconds: 5
          successThreshold: 1
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /ready, port: 8181, scheme: HTTP}
          periodSeconds: 1
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
          readOnlyRootFilesystem: true
        volumeMounts:
        - {name: config-volume, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config-volume
        configMap:
          name: coredns
          items: [{key: Corefile, path: Corefile}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: CoreDNS}
  annotations: {prometheus.io/port: "9153", prometheus.io/scrape: "true"}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $SVC_DNS_IP
$(if [ "${SVC_IP_FAMILIES:-IPv4}" != IPv4 ]; then cat <<FAM
  clusterIPs: [$(sed 's/[^,]*/"&"/g' <<<"$SVC_DNS_IPS")]
  ipFamilies: [${SVC_IP_FAMILIES}]
  ipFamilyPolicy: $([[ ${SVC_IP_FAMILIES} == *,* ]] && echo RequireDualStack || echo SingleStack)
FAM
fi)
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
EOF
# NodeLocal DNSCache in service-ip mode: every node answers the kube-dns ClusterIP itself, so
# the cache reaches the cluster DNS through a second Service (its ClusterIP allocated).
if [ "${SVC_NODE_LOCAL_DNS:-off}" = service-ip ]; then cat <<EOF
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns-upstream
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/cluster-service: "true", kubernetes.io/name: KubeDNSUpstream}
spec:
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
EOF
fi
[ "${SVC_PROXY_ENABLED:-1}" = 1 ] && [ "${SVC_KUBE_PROXY:-1}" = 1 ] || exit 0
cat <<EOF
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: kube-proxy, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubeadm:node-proxier"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-proxier"}
subjects:
- {kind: ServiceAccount, name: kube-proxy, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system, labels: {app: kube-proxy}}
data:
  config.conf: $SVC_PROXYCFG_JSON
  kubeconfig.conf: |-
$(token_kubeconfig)
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-proxy
  namespace: kube-system
  labels: {k8s-app: kube-proxy}
spec:
  selector: {matchLabels: {k8s-app: kube-proxy}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata:
      labels: {k8s-app: kube-proxy}
    spec:
      priorityClassName: system-node-critical
      serviceAccountName: kube-proxy
      hostNetwork: true
      nodeSelector: {kubernetes.io/os: linux}
      tolerations: [{operator: Exists}]
      containers:
      - name: kube-proxy
        image: $SVC_NODE_TOOLS_IMAGE
        imagePullPolicy: IfNotPresent
        command: [/usr/local/bin/kube-proxy, --config=/var/lib/kube-proxy/config.conf, --hostname-override=\$(NODE_NAME)${SVC_PROXY_EXTRA_FLAGS:-}]
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        securityContext: {privileged: true}
        volumeMounts:
        - {mountPath: /var/lib/kube-proxy, name: kube-proxy}
        - {mountPath: /run/xtables.lock, name: xtables-lock}
      volumes:
      - name: kube-proxy
        configMap: {name: kube-proxy}
      - name: xtables-lock
        hostPath: {path: /run/xtables.lock, type: FileOrCreate}
EOF
