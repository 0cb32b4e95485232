#!/usr/bin/env bash
# The bundled local cluster: real upstream Kubernetes, etcd, containerd and CoreDNS,
# built from source (cluster/build.sh), with each worker node a network namespace on
# this machine. Usage: cluster/cluster.sh up|down|status|build|images|kubectl ...
# See docs/bundled-cluster.md ("Configuration") for the config file and environment overrides.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
# shellcheck source=cluster/oci.sh
source "$here/oci.sh"

BRIDGE=svcbr0
NETNS_PREFIX=svc-node-
VETH_PREFIX=svcv
CGROUP_NAME=svc-conformance
ETCD_CLIENT_PORT=23790
ETCD_PEER_PORT=23800
PKI=$STATE_DIR/pki
LOGS=$STATE_DIR/logs
PIDS=$STATE_DIR/pids
KUBECONFIG_PATH=$STATE_DIR/admin.conf
PROFILE_PATH=$STATE_DIR/profile.json
# NodeLocal DNSCache (nodeLocalDNS): upstream's link-local address and health port.
NODE_LOCAL_DNS_IP=169.254.20.10
NODE_LOCAL_DNS_HEALTH_PORT=8080
# Packages the cluster needs, by the command that shows each is there.
REQUIRED_CMDS=(ip:iproute2 nsenter:util-linux setsid:util-linux iptables:iptables nft:nftables runc:runc
  openssl:openssl curl:curl jq:jq dig:dnsutils conntrack:conntrack findmnt:util-linux)

# ---------------------------------------------------------------------------- helpers
cidr_prefix() { echo "${1%.*}"; }              # 172.30.0.0/24 -> 172.30.0 (assumes /24)
cidr6_prefix() { echo "${1%%::*}"; }           # fd00:172:30::/64 -> fd00:172:30 (PREFIX::/BITS)
bridge_ip4() { echo "$(cidr_prefix "${NODE_CIDR%/*}").1"; }
node_ip4() { echo "$(cidr_prefix "${NODE_CIDR%/*}").$((10 + $1))"; }
bridge_ip6() { echo "$(cidr6_prefix "$NODE_CIDR_V6")::1"; }
node_ip6() { printf '%s::%x\n' "$(cidr6_prefix "$NODE_CIDR_V6")" $((10 + $1)); }
# The primary family's: the API server's address, a node's InternalIP (kubelet, certificates).
bridge_ip() { if [ "$PRIMARY_FAMILY" = IPv6 ]; then bridge_ip6; else bridge_ip4; fi; }
node_ip() { if [ "$PRIMARY_FAMILY" = IPv6 ]; then node_ip6 "$1"; else node_ip4 "$1"; fi; }
node_ips() { by_family "$(node_ip4 "$1")" "$(node_ip6 "$1")"; }   # every family's, primary first
api_host() { if [ "$PRIMARY_FAMILY" = IPv6 ]; then echo "[$(bridge_ip6)]"; else bridge_ip4; fi; }  # for URLs
node_name() { echo "node-$1"; }
node_dir() { echo "$STATE_DIR/nodes/node-$1"; }
netns() { echo "$NETNS_PREFIX$1"; }
# in_node <n> cmd...: runs cmd on node n (in its network namespace, or in a VM node's guest).
in_node() { local n=$1; shift; if is_vm "$n"; then vm_exec "$n" "$@"; else nsenter --net="/run/netns/$(netns "$n")" -- "$@"; fi; }
kubectl() { "$(kbin kubectl)" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
cgroup_hierarchies() { findmnt -rn -t cgroup -o TARGET; findmnt -rn -t cgroup2 -o TARGET; }

require_root() { [ "$(id -u)" = 0 ] || die "the bundled cluster needs root (network namespaces, cgroups, mounts): run it with sudo, as root, or point the suite at another cluster with KUBECONFIG"; }

check_packages() {
  local missing=() pair
  for pair in "${REQUIRED_CMDS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  for p in bridge host-local loopback portmap; do [ -x "/usr/lib/cni/$p" ] || missing+=(containernetworking-plugins); done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing packages: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')- install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')(or run scripts/setup.sh)"
  fi
}

port_in_use() { # <addr> <port>
  ss -Htln "sport = :$2" 2>/dev/null | awk '{print $4}' | grep -qE "^(\*|0\.0\.0\.0|\[::\]|$1):$2$"
}

# start_proc <name> <logfile> <node|-> cmd...: detached, in our cgroup, pid recorded.
start_proc() {
  local name=$1 logf=$2 node=$3; shift 3
  mkdir -p "$(dirname "$logf")" "$PIDS"
  local cg; cg=$(proc_cgroup)
  local -a prefix=()
  [ "$node" = - ] || prefix=(nsenter --net="/run/netns/$(netns "$node")" --)
  # The wrapper moves itself into our cgroup before exec, so everything the process
  # starts (containerd's shims included) is found again by `down`.
  # shellcheck disable=SC2016 # $$, $1 and $@ are the inner bash's
  setsid "${prefix[@]}" bash -c 'echo $$ > "$1/cgroup.procs" 2>/dev/null || true; shift; exec "$@"' _ "$cg" "$@" \
    >"$logf" 2>&1 </dev/null &
  echo $! > "$PIDS/$name.pid"
}

proc_cgroup() {
  local base; base=$(findmnt -rn -t cgroup -o TARGET | grep -E '/pids$' | head -1)
  [ -n "$base" ] || base=$(findmnt -rn -t cgroup2 -o TARGET | head -1)
  echo "$base/$CGROUP_NAME/procs"
}

proc_alive() { local f="$PIDS/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# wait_for <what> <seconds> <logfile-or-> <proc-name-or-> cmd...: polls cmd; on timeout or
# when the watched process exits, shows the last output of cmd and the log tail.
wait_for() {
  local what=$1 secs=$2 logf=$3 proc=$4; shift 4
  local deadline=$(( $(date +%s) + secs )) out=""
  while true; do
    if out=$("$@" 2>&1); then return 0; fi
    if [ "$proc" != - ] && ! proc_alive "$proc"; then
      echo "---- last lines of $logf" >&2; tail -n 25 "$logf" >&2 || true
      fail_up "$proc exited while waiting for $what (log: $logf, kept in $CACHE_DIR/logs/last-failed-up/)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "---- last check output: ${out:0:2000}" >&2
      if [ "$logf" != - ]; then echo "---- last lines of $logf" >&2; tail -n 25 "$logf" >&2 || true; fi
      fail_up "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.5
  done
}

fail_up() {
  printf '[cluster] error: %s\n' "$*" >&2
  if [ "${SVC_KEEP_ON_FAILURE:-}" = 1 ]; then
    log "leaving the half-made cluster for inspection (SVC_KEEP_ON_FAILURE=1); remove it with: cluster/cluster.sh down"
  else
    local keep="$CACHE_DIR/logs/last-failed-up"
    rm -rf "$keep"; mkdir -p "$keep"; cp -a "$LOGS/." "$keep/" 2>/dev/null || true
    log "removing what this 'up' made; its logs are kept in $keep (set SVC_KEEP_ON_FAILURE=1 to keep the whole cluster for inspection)"
    do_down >/dev/null 2>&1 || true
  fi
  exit 1
}

# ---------------------------------------------------------------------------- parts, by concern
# shellcheck source=cluster/pki.sh
source "$here/pki.sh"
# shellcheck source=cluster/network.sh
source "$here/network.sh"
# shellcheck source=cluster/images.sh
source "$here/images.sh"
# shellcheck source=cluster/components.sh
source "$here/components.sh"
# shellcheck source=cluster/addons-apply.sh
source "$here/addons-apply.sh"
# shellcheck source=cluster/vm.sh
source "$here/vm.sh"

# ---------------------------------------------------------------------------- commands
leftovers() { # prints what exists of a cluster
  local n
  if [ -d "$STATE_DIR" ]; then echo "state directory $STATE_DIR"; fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE"; fi
  if iptables -S FORWARD 2>/dev/null | grep -q svc-conformance-bundled; then echo "iptables FORWARD rules for $BRIDGE"; fi
  if ip6tables -S FORWARD 2>/dev/null | grep -q svc-conformance-bundled; then echo "ip6tables FORWARD rules for $BRIDGE"; fi
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NETNS_PREFIX" || true); do echo "network namespace $n"; done
  for n in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep "^${TAP_PREFIX}[0-9]" || true); do echo "tap device $n"; done
  for n in "$PIDS"/*.pid; do if [ -f "$n" ] && kill -0 "$(cat "$n")" 2>/dev/null; then echo "process $(basename "$n" .pid) ($(cat "$n"))"; fi; done
  true
}

cluster_healthy() {
  [ -f "$PROFILE_PATH" ] && [ -f "$STATE_DIR/config.json" ] || return 1
  local p; for p in etcd kube-apiserver kube-controller-manager kube-scheduler; do proc_alive "$p" || return 1; done
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$(api_host):$API_PORT/readyz" >/dev/null
}

do_up() {
  require_root
  check_packages
  if [ -n "$(leftovers)" ]; then
    if cluster_healthy && [ "$(jq -cS . "$STATE_DIR/config.json")" = "$(jq -cS . <<<"$CONFIG_JSON")" ]; then
      log "the cluster is already up with this config"
      echo "KUBECONFIG=$KUBECONFIG_PATH"
      return 0
    fi
    if cluster_healthy; then
      die "a bundled cluster with a different config is running; run 'cluster/cluster.sh down' first (config differs from $STATE_DIR/config.json)"
    fi
    die "a leftover cluster from an earlier run or crash was found:
$(leftovers | sed 's/^/  - /')
Remove it with: cluster/cluster.sh down"
  fi
  local bip; bip=$(bridge_ip4)
  if has_family IPv4 && ip -o addr show | grep -qF " ${bip%.*}."; then
    die "addresses in $NODE_CIDR are already in use on this machine ($(ip -o addr show | grep -F " ${bip%.*}." | awk '{print $2, $4}' | head -1)); set nodeCIDR in the config to a free /24"
  fi
  local p6; p6=$(cidr6_prefix "$NODE_CIDR_V6")
  if has_family IPv6 && ip -o -6 addr show | grep -qiF " $p6::"; then
    die "addresses in $NODE_CIDR_V6 are already in use on this machine ($(ip -o -6 addr show | grep -iF " $p6::" | awk '{print $2, $4}' | head -1)); set nodeCIDRv6 in the config to a free ::/64"
  fi
  local p
  for p in "127.0.0.1 $ETCD_CLIENT_PORT" "127.0.0.1 $ETCD_PEER_PORT" "127.0.0.1 10257" "127.0.0.1 10259"; do
    # shellcheck disable=SC2086 # $p is "address port": two arguments
    if port_in_use $p; then die "port ${p#* } on ${p% *} is already in use (by: $(ss -Htlnp "sport = :${p#* }" | grep -o 'users:.*' | head -1)); stop that process or run 'cluster/cluster.sh down' if it is a leftover of ours"; fi
  done
  check_node_local_corefile
  vm_check_tools
  local t0; t0=$(date +%s.%N)
  trap 'fail_up "up failed at line $LINENO: $BASH_COMMAND"' ERR
  bash "$here/build.sh"
  build_images
  if any_vm; then vm_rootfs_image; vm_bin_image; vm_seed_image; fi
  log "up: $NODES node(s)$(any_vm && echo " ($VM_NODES of them VMs under QEMU)"), Kubernetes $K8S_VERSION, proxy $([ "$SERVICE_PROXY" = kube-router ] && echo "kube-router $KUBE_ROUTER_VERSION" || echo "$PROXY_MODE"), families $FAMILIES, domain $CLUSTER_DOMAIN$([ "$NODE_LOCAL_DNS" = off ] || echo ", NodeLocal DNSCache $NODE_LOCAL_DNS")"
  mkdir -p "$STATE_DIR" "$LOGS" "$PIDS"
  echo "$CONFIG_JSON" > "$STATE_DIR/config.json"
  make_pki
  make_network
  make_cgroups
  local n
  # VM nodes boot first: their guests start containerd and kubelet themselves, which retry
  # until the API server is there, so the slow boot overlaps the control plane's start.
  for n in $(seq 1 "$NODES"); do
    mkdir -p "$LOGS/node-$n"
    if is_vm "$n"; then vm_prepare "$n"; vm_start "$n"; else write_containerd_config "$n"; start_containerd "$n"; fi
  done
  start_etcd
  start_control_plane
  for n in $(seq 1 "$NODES"); do
    is_vm "$n" && continue
    wait_for "containerd on $(node_name "$n")" 30 "$LOGS/node-$n/containerd.log" "containerd-$n" \
      "$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION/ctr" -a "$(node_dir "$n")/containerd/containerd.sock" version
  done
  local pids=() rc=0
  for n in $(seq 1 "$NODES"); do is_vm "$n" || { import_images "$n" & pids+=($!); }; done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || fail_up "importing images into the nodes' containerd failed (logs: $LOGS/node-*/import.log)"
  for n in $(seq 1 "$NODES"); do is_vm "$n" || { write_kubelet_config "$n"; start_kubelet "$n"; }; done
  wait_for "all kube-system bootstrap RBAC" 30 "$LOGS/kube-apiserver.log" kube-apiserver \
    kubectl get clusterrole system:node-proxier
  apply_addons
  for n in $(seq 1 "$NODES"); do
    if is_vm "$n"; then
      vm_wait_booted "$n"
      wait_for "$(node_name "$n") (a VM) to register" 300 "$LOGS/node-$n/kubelet.log" "vm-$n" kubectl get node "$(node_name "$n")"
    else
      wait_for "$(node_name "$n") to register" 60 "$LOGS/node-$n/kubelet.log" "kubelet-$n" kubectl get node "$(node_name "$n")"
    fi
  done
  wire_pod_cidrs
  wait_for "all $NODES nodes Ready" "$(any_vm && echo 300 || echo 120)" "$LOGS/node-1/kubelet.log" - nodes_ready
  wait_for "CoreDNS to answer kubernetes.default.svc.$CLUSTER_DOMAIN at $DNS_IP$([ "$NODE_LOCAL_DNS" != service-ip ] || echo " (node-1's cache)")" 120 - - dns_answers
  [ "$NODE_LOCAL_DNS" = off ] || wait_node_local_dns
  write_profile
  local secs; secs=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo "?")
  log "up: ready in ${secs}s"
  echo "KUBECONFIG=$KUBECONFIG_PATH"
  echo "profile: $PROFILE_PATH"
}

kill_all() {
  local f pid
  # Kubelets first, so that they do not restart what we stop next.
  for f in "$PIDS"/kubelet-*.pid "$PIDS"/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null || true
  done
  local cg="" h
  while read -r h; do if [ -d "$h/$CGROUP_NAME" ]; then cg="$cg $h/$CGROUP_NAME"; fi; done < <(findmnt -rn -t cgroup -o TARGET | grep -E '/pids$')
  for _ in $(seq 1 50); do
    local left
    left=$( { for h in $cg; do find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null; done; \
      for f in "$PIDS"/*.pid; do if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then cat "$f"; fi; done; } | sort -u)
    [ -n "$left" ] || break
    # shellcheck disable=SC2086 # $left is a list of PIDs: one argument each
    kill -KILL $left 2>/dev/null || true
    sleep 0.1
  done
  rm -f "$PIDS"/*.pid
}

remove_cgroups() {
  local h
  while read -r h; do
    [ -d "$h/$CGROUP_NAME" ] || continue
    find "$h/$CGROUP_NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done < <(cgroup_hierarchies)
}

unmount_state() {
  local m
  for _ in 1 2 3; do
    m=$(findmnt -rn -o TARGET | grep -E "^($STATE_DIR|/run/svc-conformance)" | sort -r || true)
    [ -n "$m" ] || break
    echo "$m" | while read -r t; do umount -l "$t" 2>/dev/null || true; done
  done
}

do_down() {
  require_root
  local t0; t0=$(date +%s.%N)
  kill_all
  unmount_state
  local n r
  if [ -f "$STATE_DIR/root-routes" ]; then
    while read -r r; do ip route del "$r" 2>/dev/null || true; done < "$STATE_DIR/root-routes"
  fi
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NETNS_PREFIX" || true); do ip netns del "$n" 2>/dev/null || true; done
  for n in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^($VETH_PREFIX|$TAP_PREFIX)[0-9]" || true); do ip link del "$n" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  forward_rules del
  # IPv4 forwarding back off if up turned it on for VM nodes (and dockerd, which needs it, is not running).
  if [ -f "$STATE_DIR/host-ip-forward-was" ] && ! pgrep -x dockerd >/dev/null; then sysctl -qw net.ipv4.ip_forward=0 || true; fi
  remove_cgroups
  # Pod sandboxes' network namespaces live under containerd's state; cni and ipam data under the node dirs.
  rm -rf "$STATE_DIR"
  local left; left=$(leftovers)
  [ -z "$left" ] || { echo "$left" >&2; die "down could not remove everything listed above"; }
  log "down: everything removed in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo ?)s"
}

do_status() {
  if [ ! -d "$STATE_DIR" ]; then echo "cluster: not up (no $STATE_DIR)"; return 3; fi
  local f name rc=0
  printf '%-28s %-8s %s\n' COMPONENT STATE LOG
  for f in "$PIDS"/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    local logf="$LOGS/$name.log"
    [[ $name =~ ^(containerd|kubelet)-([0-9]+)$ ]] && logf="$LOGS/node-${BASH_REMATCH[2]}/${BASH_REMATCH[1]}.log"
    [[ $name =~ ^vm-([0-9]+)$ ]] && logf="$LOGS/node-${BASH_REMATCH[1]}/console.log (containerd.log, kubelet.log beside it)"
    if kill -0 "$(cat "$f")" 2>/dev/null; then printf '%-28s %-8s %s\n' "$name" running "$logf"; else printf '%-28s %-8s %s\n' "$name" EXITED "$logf"; rc=1; fi
  done
  if cluster_healthy; then
    echo; kubectl get nodes -o wide 2>&1 || rc=1
    echo; kubectl -n kube-system get pods -o wide 2>&1 || rc=1
    echo; if dns_answers; then echo "DNS: kubernetes.default.svc.$CLUSTER_DOMAIN answers at $DNS_IP"; else echo "DNS: NOT answering at $DNS_IP"; rc=1; fi
    if [ "$NODE_LOCAL_DNS" != off ]; then echo; node_local_dns_status || rc=1; fi
  else
    echo "kube-apiserver: not ready"; rc=1
  fi
  echo; echo "KUBECONFIG=$KUBECONFIG_PATH"; echo "profile: $PROFILE_PATH"
  return $rc
}

usage() {
  cat <<EOF
usage: cluster/cluster.sh COMMAND
  up        build (cached) and start the cluster; returns when every node is Ready and CoreDNS answers
  down      stop everything and remove all the cluster made (processes, namespaces, links, routes, mounts, state)
  status    each component's health and log file, nodes, kube-system Pods, DNS
  build     only build the components (cached by version under $CACHE_DIR); --vm: also kube-router and the VM nodes' disks; --vm-rootfs: only their Debian root filesystem
  kubectl   run the bundled kubectl against the cluster (cluster/cluster.sh kubectl get pods -A)
  exec      run a command on a node, in its network namespace or VM guest (cluster/cluster.sh exec 1 ipvsadm -Ln)
  import    import OCI image archives into every running node (cluster/cluster.sh import FILE...)
Config: cluster/cluster.json holds the defaults; SVC_CLUSTER_CONFIG=FILE merges a file of your own over them;
environment overrides: $(for p in "${ENV_KEYS[@]}"; do printf '%s ' "${p%%:*}"; done)
Admin kubeconfig: $KUBECONFIG_PATH (profile for the suite: $PROFILE_PATH)
EOF
}

# status and kubectl read the running cluster's config (as `up` merged it), not this shell's overrides.
load_running_config() {
  if [ -f "$STATE_DIR/config.json" ]; then
    local p; for p in "${ENV_KEYS[@]}"; do unset "${p%%:*}"; done
    SVC_CLUSTER_CONFIG=$STATE_DIR/config.json
  fi
  load_config
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) load_config; do_up ;;
  down) do_down ;;
  status) load_running_config; do_status ;;
  build)
    load_config
    if [ "${1:-}" = --vm-rootfs ]; then
      # Only the guest's Debian root filesystem (debootstrap: downloads, mostly), which needs
      # no other build: scripts/setup.sh makes it while the Go builds run.
      require_root; VM_NODES=1; vm_rootfs_image
    elif [ "${1:-}" = --vm ]; then
      # Everything VM nodes need, cached: kube-router, the images, the guest's disks (scripts/setup.sh).
      require_root; bash "$here/build.sh" --kube-router
      VM_NODES=1; vm_check_tools; vm_rootfs_image; vm_bin_image
      for SERVICE_PROXY in kube-proxy kube-router; do build_images; vm_seed_image; done   # a seed for each
    else
      bash "$here/build.sh"
    fi ;;
  kubectl) load_running_config; kubectl "$@" ;;
  exec)
    # A command on a node: in its network namespace, or in a VM node's guest (cluster/cluster.sh exec 1 ipvsadm -Ln).
    load_running_config
    # shellcheck disable=SC2015 # die unless every test holds
    [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] && [ $# -gt 1 ] || die "usage: cluster/cluster.sh exec NODE COMMAND... (NODE: 1 to $NODES)"
    [ -d "$STATE_DIR/nodes" ] || die "the bundled cluster is not running (cluster/cluster.sh up)"
    in_node "$@" ;;
  import)
    # OCI archives (an image of your own: scripts/image.sh) into every running node's containerd.
    load_running_config
    [ $# -gt 0 ] || die "usage: cluster/cluster.sh import ARCHIVE... (OCI image archives, e.g. from scripts/image.sh build)"
    for t in "$@"; do [ -f "$t" ] || die "no such archive: $t"; done
    [ -d "$STATE_DIR/nodes" ] || die "the bundled cluster is not running (cluster/cluster.sh up)"
    IMAGE_TARS=("$@")
    for d in "$STATE_DIR"/nodes/node-*; do import_images "${d##*/node-}" || die "import into $(basename "$d") failed (above)"; done
    log "imported $# image archive(s) into $(find "$STATE_DIR"/nodes -maxdepth 1 -name 'node-*' | wc -l) node(s)" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
