# The bundled cluster's processes: etcd, the control plane, containerd and kubelet per node.
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
start_etcd() {
  mkdir -p "$STATE_DIR/etcd"; chmod 700 "$STATE_DIR/etcd"
  local -a extra; mapfile -t extra < <(cfg '.extraFlags.etcd[]')
  # shellcheck disable=SC2153 # LOGS: cluster.sh's log folder (not the local logs of write_kubelet_config)
  start_proc etcd "$LOGS/etcd.log" - "$CACHE_DIR/bin/etcd-$ETCD_VERSION/etcd" \
    --name=svc-etcd --data-dir="$STATE_DIR/etcd" \
    --listen-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls="https://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="svc-etcd=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls= \
    --cert-file="$PKI/etcd-server.crt" --key-file="$PKI/etcd-server.key" --client-cert-auth \
    --trusted-ca-file="$PKI/etcd-ca.crt" --snapshot-count=10000 --quota-backend-bytes=2147483648 \
    --unsafe-no-fsync "${extra[@]}"
  wait_for "etcd to be healthy" 30 "$LOGS/etcd.log" etcd \
    curl -sf --cacert "$PKI/etcd-ca.crt" --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key" \
    "https://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

start_control_plane() {
  local -a extra
  mapfile -t extra < <(cfg '.extraFlags["kube-apiserver"][]')
  start_proc kube-apiserver "$LOGS/kube-apiserver.log" - "$(kbin kube-apiserver)" \
    --advertise-address="$(bridge_ip)" --bind-address="$(bridge_ip)" --secure-port="$API_PORT" \
    --allow-privileged=true --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --etcd-servers="https://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-cafile="$PKI/etcd-ca.crt" \
    --etcd-certfile="$PKI/apiserver-etcd-client.crt" --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDRS" --profiling=false "${extra[@]}"
  wait_for "kube-apiserver /readyz" 90 "$LOGS/kube-apiserver.log" kube-apiserver \
    curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$(api_host):$API_PORT/readyz"

  mapfile -t extra < <(cfg '.extraFlags["kube-controller-manager"][]')
  # Each node's Pod range: a /24 of the IPv4 range, a /64 of the IPv6 one.
  local -a masks
  case "$FAMILIES" in
    IPv4) masks=(--node-cidr-mask-size=24) ;;
    IPv6) masks=(--node-cidr-mask-size=64) ;;
    *) masks=(--node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=64) ;;
  esac
  start_proc kube-controller-manager "$LOGS/kube-controller-manager.log" - "$(kbin kube-controller-manager)" \
    --kubeconfig="$STATE_DIR/controller-manager.conf" --authentication-kubeconfig="$STATE_DIR/controller-manager.conf" \
    --authorization-kubeconfig="$STATE_DIR/controller-manager.conf" --bind-address=127.0.0.1 \
    --client-ca-file="$PKI/ca.crt" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-account-private-key-file="$PKI/sa.key" --use-service-account-credentials=true \
    --allocate-node-cidrs=true --cluster-cidr="$POD_CIDRS" "${masks[@]}" \
    --service-cluster-ip-range="$SERVICE_CIDRS" --controllers="$(cfg .controllers)" \
    --leader-elect=false --profiling=false "${extra[@]}"
  mapfile -t extra < <(cfg '.extraFlags["kube-scheduler"][]')
  start_proc kube-scheduler "$LOGS/kube-scheduler.log" - "$(kbin kube-scheduler)" \
    --kubeconfig="$STATE_DIR/scheduler.conf" --authentication-kubeconfig="$STATE_DIR/scheduler.conf" \
    --authorization-kubeconfig="$STATE_DIR/scheduler.conf" --bind-address=127.0.0.1 \
    --leader-elect=false --profiling=false "${extra[@]}"
}

# write_containerd_config <n> [<state root> <output file> <CNI config folder>]: the node's
# containerd config; a VM node's has guest paths and goes to its config share.
write_containerd_config() {
  local n=$1 d=${2:-$(node_dir "$1")} out=${3:-$(node_dir "$1")/containerd/config.toml} netd=${4:-$(node_dir "$1")/cni/net.d}
  [ $# -gt 1 ] || mkdir -p "$d/containerd" "$d/cni/net.d" "$d/cni/ipam"
  cat > "$out" <<EOF
version = 3
root = "$d/containerd/root"
state = "$d/containerd/state"
[grpc]
  address = "$d/containerd/containerd.sock"
[ttrpc]
  address = "$d/containerd/containerd.sock.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$IMAGE_PAUSE"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # This machine withholds CAP_SYS_RESOURCE, so no process may lower its OOM score:
  # keep Pods' oom_score_adj at or above containerd's own (0), as rootless setups do.
  restrict_oom_score_adj = true
  # Pod network namespaces under the node's state, so that down finds and removes them.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$netd"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$d/runc"
        SystemdCgroup = false
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
[plugins.'io.containerd.internal.v1.opt']
  path = "$d/containerd/opt"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
EOF
}

start_containerd() {
  local n=$1 d; d=$(node_dir "$n")
  # containerd finds its shim (containerd-shim-runc-v2) on PATH and only appends its own
  # directory: with Debian's containerd 1.6 installed (docker.io brings it), /usr/bin's old
  # shim would win ("type with url ... not found"). Its own directory goes first.
  local cdir="$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION"
  start_proc "containerd-$n" "$LOGS/node-$n/containerd.log" "$n" \
    env PATH="$cdir:$PATH" "$cdir/containerd" --config "$d/containerd/config.toml"
}

ctr_node() { local n=$1; shift; "$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION/ctr" -a "$(node_dir "$n")/containerd/containerd.sock" -n k8s.io "$@"; }

import_images() {
  local n=$1 t
  if is_vm "$n"; then # through the guest's images share and command channel
    for t in "${IMAGE_TARS[@]}"; do
      ln -f "$t" "$(vm_dir "$n")/images/" 2>/dev/null || cp "$t" "$(vm_dir "$n")/images/"
      vm_exec "$n" ctr -a /var/lib/svc-node/containerd/containerd.sock -n k8s.io images import --local "/svc/images/${t##*/}" \
        >>"$LOGS/node-$n/import.log" 2>&1 || { echo "importing $t into $(node_name "$n") failed:"; tail -5 "$LOGS/node-$n/import.log"; return 1; }
    done
    return 0
  fi
  for t in "${IMAGE_TARS[@]}"; do
    ctr_node "$n" images import --local "$t" >/dev/null 2>>"$LOGS/node-$n/import.log" \
      || ctr_node "$n" images import "$t" >>"$LOGS/node-$n/import.log" 2>&1 \
      || { echo "importing $t into $(node_name "$n") failed:"; tail -5 "$LOGS/node-$n/import.log"; return 1; }
  done
}

# write_kubelet_config <n> [vm <output file>]: the node's KubeletConfiguration; a VM node's
# has the guest's paths (its config share at /svc/cfg, its own containerd and cgroup root).
write_kubelet_config() {
  local n=$1 d out cg crt key logs resolv ca sock; d=$(node_dir "$n")
  if [ "${2:-}" = vm ]; then
    out=$3; cg=/; ca=/svc/cfg/ca.crt; crt=/svc/cfg/serving.crt; key=/svc/cfg/serving.key
    logs=/var/log/pods; resolv=/etc/resolv.conf; sock=unix:///var/lib/svc-node/containerd/containerd.sock
  else
    mkdir -p "$d/kubelet" "$d/pod-logs"
    printf 'nameserver 127.0.0.1\n' > "$STATE_DIR/resolv.conf"
    out="$d/kubelet/config.json"; cg="/$CGROUP_NAME/$(node_name "$n")"; ca="$PKI/ca.crt"
    crt="$PKI/node-$n-serving.crt"; key="$PKI/node-$n-serving.key"; logs="$d/pod-logs"
    resolv="$STATE_DIR/resolv.conf"; sock="unix://$d/containerd/containerd.sock"
  fi
  # NodeLocal DNSCache in link-local mode: Pods ask the node's cache at 169.254.20.10 (as
  # kubelet --cluster-dns is set for it); in service-ip mode they keep the DNS Service IP,
  # which every node answers itself.
  local dns=$DNS_IP; [ "$NODE_LOCAL_DNS" != link-local ] || dns=$NODE_LOCAL_DNS_IP
  jq -n --arg cg "$cg" --arg ca "$ca" --arg domain "$CLUSTER_DOMAIN" \
    --arg dns "$dns" --arg sock "$sock" --arg crt "$crt" \
    --arg key "$key" --arg logs "$logs" --arg resolv "$resolv" \
    --arg ip "$(node_ip "$n")" --argjson user "$(cfg .kubelet)" '{
      kind: "KubeletConfiguration", apiVersion: "kubelet.config.k8s.io/v1beta1",
      failCgroupV1: false, cgroupDriver: "cgroupfs", cgroupRoot: $cg,
      authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $ca}},
      authorization: {mode: "Webhook"},
      clusterDomain: $domain, clusterDNS: [$dns], containerRuntimeEndpoint: $sock,
      tlsCertFile: $crt, tlsPrivateKeyFile: $key, podLogsDir: $logs, resolvConf: $resolv,
      address: $ip, healthzBindAddress: "127.0.0.1", readOnlyPort: 0,
      failSwapOn: false, imageGCHighThresholdPercent: 100,
      evictionHard: {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
      serializeImagePulls: false, rotateCertificates: false, serverTLSBootstrap: false,
      syncFrequency: "10s", nodeStatusUpdateFrequency: "10s"
    } * $user' > "$out"
}

# Every kubelet binds the device-plugin registration socket at the fixed path
# /var/lib/kubelet/device-plugins/kubelet.sock (not under --root-dir), unlinking what is
# there first. Two kubelets doing that at the same instant fail with "address already in
# use" and one never registers (seen with v1.35.4). So each kubelet is started only after
# the previous one has bound its socket (a new inode there), or 30 s have passed.
PLUGIN_SOCK=/var/lib/kubelet/device-plugins/kubelet.sock
start_kubelet() {
  local n=$1 d before; d=$(node_dir "$n")
  local -a extra; mapfile -t extra < <(cfg '.extraFlags.kubelet[]')
  before=$(stat -c "%i %z" "$PLUGIN_SOCK" 2>/dev/null || echo none)
  start_proc "kubelet-$n" "$LOGS/node-$n/kubelet.log" "$n" "$(kbin kubelet)" \
    --config="$d/kubelet/config.json" --kubeconfig="$d/kubelet.conf" --root-dir="$d/kubelet" \
    --hostname-override="$(node_name "$n")" --node-ip="$(node_ips "$n")" --v=1 \
    --node-labels="topology.kubernetes.io/zone=zone-$n" "${extra[@]}"
  for _ in $(seq 1 300); do
    [ "$(stat -c "%i %z" "$PLUGIN_SOCK" 2>/dev/null || echo none)" != "$before" ] && return 0
    proc_alive "kubelet-$n" || return 0
    sleep 0.1
  done
  log "kubelet-$n: no device-plugin socket after 30 s; starting the next kubelet anyway"
}

make_cgroups() {
  local h cg n
  while read -r h; do
    for cg in "$CGROUP_NAME" "$CGROUP_NAME/procs" $(for n in $(seq 1 "$NODES"); do echo "$CGROUP_NAME/$(node_name "$n")"; done); do
      mkdir -p "$h/$cg"
      if [ -f "$h/$cg/cpuset.cpus" ] && [ -z "$(cat "$h/$cg/cpuset.cpus")" ]; then
        cat "$(dirname "$h/$cg")/cpuset.cpus" > "$h/$cg/cpuset.cpus"
        cat "$(dirname "$h/$cg")/cpuset.mems" > "$h/$cg/cpuset.mems"
      fi
    done
  done < <(findmnt -rn -t cgroup -o TARGET)
}
