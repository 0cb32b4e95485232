#!/usr/bin/env bash
# The bundled local cluster: real upstream Kubernetes, etcd, containerd and CoreDNS,
# built from source (cluster/build.sh), with each worker node a network namespace on
# this machine. Usage: cluster/cluster.sh up|down|status|build|images|kubectl ...
# See README.md ("The bundled cluster") for the config file and environment overrides.
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
# Packages the cluster needs, by the command that shows each is there.
REQUIRED_CMDS=(ip:iproute2 nsenter:util-linux setsid:util-linux iptables:iptables nft:nftables runc:runc
  openssl:openssl curl:curl jq:jq dig:dnsutils conntrack:conntrack findmnt:util-linux)

# ---------------------------------------------------------------------------- helpers
cidr_prefix() { echo "${1%.*}"; }              # 172.30.0.0/24 -> 172.30.0 (assumes /24)
bridge_ip() { echo "$(cidr_prefix "${NODE_CIDR%/*}").1"; }
node_ip() { echo "$(cidr_prefix "${NODE_CIDR%/*}").$((10 + $1))"; }
node_name() { echo "node-$1"; }
node_dir() { echo "$STATE_DIR/nodes/node-$1"; }
netns() { echo "$NETNS_PREFIX$1"; }
in_node() { local n=$1; shift; nsenter --net="/run/netns/$(netns "$n")" -- "$@"; }
kbin() { echo "$CACHE_DIR/bin/kubernetes-$K8S_VERSION/$1"; }
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

# ---------------------------------------------------------------------------- PKI
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
gen_ca() { # <name> <cn>
  gen_key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}
# gen_cert <ca> <name> <subject> <client|server|both> [sans]
gen_cert() {
  local ca=$1 name=$2 subj=$3 usage=$4 sans=${5:-} ext
  gen_key "$PKI/$name.key"
  case $usage in client) ext=clientAuth ;; server) ext=serverAuth ;; both) ext=serverAuth,clientAuth ;; esac
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$ext"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } > "$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

write_kubeconfig() { # <file> <user> <cert-name>
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: svc-conformance
  cluster:
    server: https://$(bridge_ip):$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$3.crt")
    client-key-data: $(base64 -w0 "$PKI/$3.key")
contexts:
- name: svc-conformance
  context: {cluster: svc-conformance, user: $2}
current-context: svc-conformance
EOF
  chmod 600 "$1"
}

make_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  local svc_ip; svc_ip=$(first_service_ip)
  gen_ca ca kubernetes
  gen_ca etcd-ca etcd-ca
  gen_cert etcd-ca etcd-server "/CN=etcd" server "IP:127.0.0.1,DNS:localhost"
  gen_cert etcd-ca apiserver-etcd-client "/CN=kube-apiserver-etcd-client" client
  gen_cert ca apiserver "/CN=kube-apiserver" server \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:$svc_ip,IP:$(bridge_ip),IP:127.0.0.1"
  gen_cert ca apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client" client
  gen_cert ca admin "/O=system:masters/CN=kubernetes-admin" client
  gen_cert ca controller-manager "/CN=system:kube-controller-manager" client
  gen_cert ca scheduler "/CN=system:kube-scheduler" client
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  local n
  for n in $(seq 1 "$NODES"); do
    gen_cert ca "node-$n" "/O=system:nodes/CN=system:node:$(node_name "$n")" client
    gen_cert ca "node-$n-serving" "/CN=$(node_name "$n")" server "DNS:$(node_name "$n"),IP:$(node_ip "$n")"
  done
  write_kubeconfig "$KUBECONFIG_PATH" kubernetes-admin admin
  write_kubeconfig "$STATE_DIR/controller-manager.conf" system:kube-controller-manager controller-manager
  write_kubeconfig "$STATE_DIR/scheduler.conf" system:kube-scheduler scheduler
  for n in $(seq 1 "$NODES"); do
    mkdir -p "$(node_dir "$n")"
    write_kubeconfig "$(node_dir "$n")/kubelet.conf" "system:node:$(node_name "$n")" "node-$n"
  done
}

first_service_ip() { # 10.96.0.0/16 -> 10.96.0.1
  local base=${SERVICE_CIDR%/*}; echo "${base%.*}.$(( ${base##*.} + 1 ))"
}

# ---------------------------------------------------------------------------- network
make_network() {
  local bip; bip=$(bridge_ip)
  ip link add "$BRIDGE" type bridge
  ip addr add "$bip/${NODE_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local n
  for n in $(seq 1 "$NODES"); do
    ip netns add "$(netns "$n")"
    ip link add "$VETH_PREFIX$n" type veth peer name eth0 netns "$(netns "$n")"
    ip link set "$VETH_PREFIX$n" master "$BRIDGE" up
    in_node "$n" ip link set lo up
    in_node "$n" ip addr add "$(node_ip "$n")/${NODE_CIDR#*/}" dev eth0
    in_node "$n" ip link set eth0 up
    # Service VIPs: a route over lo (with the node's address as source) lets host-network
    # clients connect() so that kube-proxy's DNAT applies; anything not rewritten dies
    # there. Nodes have no default route at all.
    in_node "$n" ip route add "$SERVICE_CIDR" dev lo src "$(node_ip "$n")"
    in_node "$n" sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
      net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.conf.all.route_localnet=1 >/dev/null
  done
}

# After the controller-manager gives each node a podCIDR: CNI config and routes.
wire_pod_cidrs() {
  local n m cidr
  declare -A cidrs
  for n in $(seq 1 "$NODES"); do
    wait_for "a podCIDR for $(node_name "$n")" 60 "$LOGS/kube-controller-manager.log" kube-controller-manager \
      bash -c "[ -n \"\$(\"$(kbin kubectl)\" --kubeconfig \"$KUBECONFIG_PATH\" get node $(node_name "$n") -o jsonpath='{.spec.podCIDR}')\" ]"
    cidrs[$n]=$(kubectl get node "$(node_name "$n")" -o jsonpath='{.spec.podCIDR}')
  done
  for n in $(seq 1 "$NODES"); do
    cidr=${cidrs[$n]}
    mkdir -p "$(node_dir "$n")/cni/net.d"
    jq -n --arg subnet "$cidr" --arg data "$(node_dir "$n")/cni/ipam" '{
      cniVersion: "1.0.0", name: "svc-pods",
      plugins: [
        {type: "bridge", bridge: "cni0", isGateway: true, ipMasq: false, hairpinMode: true,
         ipam: {type: "host-local", ranges: [[{subnet: $subnet}]], routes: [{dst: "0.0.0.0/0"}], dataDir: $data}},
        {type: "portmap", capabilities: {portMappings: true}}
      ]}' > "$(node_dir "$n")/cni/net.d/10-svc-pods.conflist"
    ip route replace "$cidr" via "$(node_ip "$n")" dev "$BRIDGE"
    echo "$cidr" >> "$STATE_DIR/root-routes"
    for m in $(seq 1 "$NODES"); do
      [ "$m" = "$n" ] || in_node "$m" ip route replace "$cidr" via "$(node_ip "$n")" dev eth0
    done
  done
}

# ---------------------------------------------------------------------------- images
# make_image <tarball> <name:tag> <rootfs-dir> <entrypoint-json> [user]
# Writes an OCI image archive (one uncompressed layer) that `ctr images import` takes.
node_binary() {
  local b
  for b in "${SVC_NODE_BINARY:-}" "$here/../node_modules/node/bin/node" "$(command -v node || true)"; do
    if [ -n "$b" ] && [ -x "$b" ] && "$b" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null; then
      readlink -f "$b"; return 0
    fi
  done
  die "no Node.js >= 22.19 binary for the probe image: run 'npm ci' first (it provides node_modules/node) or set SVC_NODE_BINARY"
}

# Builds the four images (cached by their inputs) and sets IMAGE_* and IMAGE_TARS.
build_images() {
  local idir="$CACHE_DIR/images" nodebin nodever tmp key
  mkdir -p "$idir"
  nodebin=$(node_binary); nodever=$("$nodebin" --version); nodever=${nodever#v}
  IMAGE_PAUSE="svc-conformance.local/pause:3.10-svc1"
  IMAGE_COREDNS="svc-conformance.local/coredns:$COREDNS_VERSION"
  IMAGE_NODE="svc-conformance.local/node:$nodever"
  IMAGE_NODE_TOOLS="svc-conformance.local/node-tools:$K8S_VERSION"
  local proxybin; proxybin=$(cfg .kubeProxyBinary)
  if [ "$proxybin" != null ]; then
    [ -x "$proxybin" ] || die "kubeProxyBinary $proxybin is not an executable file"
    key=$(sha256sum "$proxybin" | cut -c1-12); IMAGE_NODE_TOOLS="svc-conformance.local/node-tools:custom-$key"
  else
    proxybin=$(kbin kube-proxy)
  fi
  KUBE_PROXY_VERSION=$("$proxybin" --version 2>/dev/null | awk '{print $NF}' || true)
  IMAGE_TARS=()
  # pause
  local t="$idir/pause-3.10-svc1.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"
    (cd "$here/build/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/rootfs/pause" .)
    make_image "$t" "$IMAGE_PAUSE" "$tmp/rootfs" '["/pause"]' 65535; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # coredns
  t="$idir/coredns-$COREDNS_VERSION.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs"; base_rootfs "$tmp/rootfs"
    cp "$CACHE_DIR/bin/coredns-$COREDNS_VERSION/coredns" "$tmp/rootfs/coredns"
    make_image "$t" "$IMAGE_COREDNS" "$tmp/rootfs" '["/coredns"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # node runtime (the probe and backend image)
  t="$idir/node-$nodever.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin"; base_rootfs "$tmp/rootfs"
    copy_with_libs "$tmp/rootfs" /bin/sh
    cp "$nodebin" "$tmp/rootfs/usr/local/bin/node"
    copy_with_libs "$tmp/rootfs" "$nodebin" >/dev/null; rm -f "$tmp/rootfs$nodebin"
    make_image "$t" "$IMAGE_NODE" "$tmp/rootfs" '["/usr/local/bin/node"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  # node-tools: kube-proxy plus iptables, nft, conntrack, curl, a shell, sleep and cat
  key=$(sha256sum "$proxybin" | cut -c1-12)
  t="$idir/node-tools-$K8S_VERSION-$key-v3.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin" "$tmp/rootfs/usr/sbin"; base_rootfs "$tmp/rootfs"
    copy_with_libs "$tmp/rootfs" /bin/sh /bin/sleep /bin/cat /usr/sbin/xtables-nft-multi /usr/sbin/nft /usr/sbin/conntrack /usr/bin/curl
    local l
    for l in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
      ln -sf xtables-nft-multi "$tmp/rootfs/usr/sbin/$l"
    done
    mkdir -p "$tmp/rootfs/usr/lib/x86_64-linux-gnu"
    cp -a /usr/lib/x86_64-linux-gnu/xtables "$tmp/rootfs/usr/lib/x86_64-linux-gnu/"
    for l in "$tmp"/rootfs/usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_with_libs "$tmp/rootfs" "${l#"$tmp/rootfs"}" 2>/dev/null || true; done
    cp /etc/protocols /etc/services "$tmp/rootfs/etc/"
    cp -L "$proxybin" "$tmp/rootfs/usr/local/bin/kube-proxy"
    make_image "$t" "$IMAGE_NODE_TOOLS" "$tmp/rootfs" '["/usr/local/bin/kube-proxy"]'; rm -rf "$tmp"
  fi
  IMAGE_TARS+=("$t")
  local dns; dns=$(cfg .dnsImage)
  if [ "$dns" != null ]; then
    if [ -f "$dns" ]; then
      IMAGE_TARS+=("$dns")
      IMAGE_COREDNS=$( { tar -xOf "$dns" index.json 2>/dev/null || true; } | jq -r '.manifests[0].annotations["io.containerd.image.name"] // empty' 2>/dev/null || true)
      [ -n "$IMAGE_COREDNS" ] || die "dnsImage $dns: no io.containerd.image.name annotation in its index.json; give an OCI archive made with a name (e.g. skopeo copy ... oci-archive:FILE:NAME)"
    else
      die "dnsImage must be the path of an OCI image archive (it is imported into every node); got '$dns'"
    fi
  fi
}

# ---------------------------------------------------------------------------- components
start_etcd() {
  mkdir -p "$STATE_DIR/etcd"; chmod 700 "$STATE_DIR/etcd"
  local -a extra; mapfile -t extra < <(cfg '.extraFlags.etcd[]')
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
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false "${extra[@]}"
  wait_for "kube-apiserver /readyz" 90 "$LOGS/kube-apiserver.log" kube-apiserver \
    curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://$(bridge_ip):$API_PORT/readyz"

  mapfile -t extra < <(cfg '.extraFlags["kube-controller-manager"][]')
  start_proc kube-controller-manager "$LOGS/kube-controller-manager.log" - "$(kbin kube-controller-manager)" \
    --kubeconfig="$STATE_DIR/controller-manager.conf" --authentication-kubeconfig="$STATE_DIR/controller-manager.conf" \
    --authorization-kubeconfig="$STATE_DIR/controller-manager.conf" --bind-address=127.0.0.1 \
    --client-ca-file="$PKI/ca.crt" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-account-private-key-file="$PKI/sa.key" --use-service-account-credentials=true \
    --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 \
    --service-cluster-ip-range="$SERVICE_CIDR" --controllers="$(cfg .controllers)" \
    --leader-elect=false --profiling=false "${extra[@]}"
  mapfile -t extra < <(cfg '.extraFlags["kube-scheduler"][]')
  start_proc kube-scheduler "$LOGS/kube-scheduler.log" - "$(kbin kube-scheduler)" \
    --kubeconfig="$STATE_DIR/scheduler.conf" --authentication-kubeconfig="$STATE_DIR/scheduler.conf" \
    --authorization-kubeconfig="$STATE_DIR/scheduler.conf" --bind-address=127.0.0.1 \
    --leader-elect=false --profiling=false "${extra[@]}"
}

write_containerd_config() {
  local n=$1 d; d=$(node_dir "$n")
  mkdir -p "$d/containerd" "$d/cni/net.d" "$d/cni/ipam"
  cat > "$d/containerd/config.toml" <<EOF
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
    conf_dir = "$d/cni/net.d"
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
  start_proc "containerd-$n" "$LOGS/node-$n/containerd.log" "$n" \
    "$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION/containerd" --config "$d/containerd/config.toml"
}

ctr_node() { local n=$1; shift; "$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION/ctr" -a "$(node_dir "$n")/containerd/containerd.sock" -n k8s.io "$@"; }

import_images() {
  local n=$1 t
  for t in "${IMAGE_TARS[@]}"; do
    ctr_node "$n" images import --local "$t" >/dev/null 2>>"$LOGS/node-$n/import.log" \
      || ctr_node "$n" images import "$t" >>"$LOGS/node-$n/import.log" 2>&1 \
      || { echo "importing $t into $(node_name "$n") failed:"; tail -5 "$LOGS/node-$n/import.log"; return 1; }
  done
}

write_kubelet_config() {
  local n=$1 d; d=$(node_dir "$n")
  mkdir -p "$d/kubelet" "$d/pod-logs"
  printf 'nameserver 127.0.0.1\n' > "$STATE_DIR/resolv.conf"
  jq -n --arg cg "/$CGROUP_NAME/$(node_name "$n")" --arg ca "$PKI/ca.crt" --arg domain "$CLUSTER_DOMAIN" \
    --arg dns "$DNS_IP" --arg sock "unix://$d/containerd/containerd.sock" --arg crt "$PKI/node-$n-serving.crt" \
    --arg key "$PKI/node-$n-serving.key" --arg logs "$d/pod-logs" --arg resolv "$STATE_DIR/resolv.conf" \
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
    } * $user' > "$d/kubelet/config.json"
}

# Every kubelet binds the device-plugin registration socket at the fixed path
# /var/lib/kubelet/device-plugins/kubelet.sock (not under --root-dir), unlinking what is
# there first. Two kubelets doing that at the same instant fail with "address already in
# use" and one never registers (seen with v1.35.4). So each kubelet is started only after
# the previous one has bound its socket (a new inode there), or 30 s have passed.
PLUGIN_SOCK=/var/lib/kubelet/device-plugins/kubelet.sock
start_kubelet() {
  local n=$1 d before i; d=$(node_dir "$n")
  local -a extra; mapfile -t extra < <(cfg '.extraFlags.kubelet[]')
  before=$(stat -c "%i %z" "$PLUGIN_SOCK" 2>/dev/null || echo none)
  start_proc "kubelet-$n" "$LOGS/node-$n/kubelet.log" "$n" "$(kbin kubelet)" \
    --config="$d/kubelet/config.json" --kubeconfig="$d/kubelet.conf" --root-dir="$d/kubelet" \
    --hostname-override="$(node_name "$n")" --node-ip="$(node_ip "$n")" --v=1 "${extra[@]}"
  for i in $(seq 1 300); do
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

# ---------------------------------------------------------------------------- add-ons
default_corefile() {
  cat <<EOF
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    cache 30 {
       disable success $CLUSTER_DOMAIN
       disable denial $CLUSTER_DOMAIN
    }
    reload
    loadbalance
}
EOF
}

apply_addons() {
  local corefile proxycfg
  corefile=$(cfg '.corefile // empty')
  [ -n "$corefile" ] || corefile=$(default_corefile)
  corefile=${corefile//\$\{CLUSTER_DOMAIN\}/$CLUSTER_DOMAIN}
  proxycfg=$(jq -n --arg mode "$PROXY_MODE" --arg cidr "$POD_CIDR" --argjson user "$(cfg .kubeProxy)" '{
    kind: "KubeProxyConfiguration", apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    clientConnection: {kubeconfig: "/var/lib/kube-proxy/kubeconfig.conf"},
    mode: $mode, clusterCIDR: $cidr, metricsBindAddress: "127.0.0.1:10249",
    conntrack: {maxPerCore: 0},
    iptables: {minSyncPeriod: "1s"}, nftables: {minSyncPeriod: "1s"}
  } * $user')
  local manifests
  manifests=$(SVC_COREFILE_JSON=$(jq -Rs . <<<"$corefile") SVC_PROXYCFG_JSON=$(jq -Rs . <<<"$proxycfg") \
    SVC_API="https://$(bridge_ip):$API_PORT" SVC_API_HOST="$(bridge_ip)" SVC_API_PORT="$API_PORT" \
    SVC_DNS_IP="$DNS_IP" SVC_COREDNS_IMAGE="$IMAGE_COREDNS" \
    SVC_COREDNS_REPLICAS="$(cfg .coreDNSReplicas)" SVC_NODE_TOOLS_IMAGE="$IMAGE_NODE_TOOLS" \
    SVC_PROXY_ENABLED=$([ "$PROXY_MODE" = none ] && echo 0 || echo 1) \
    "$here/addons.sh")
  kubectl apply --server-side --force-conflicts -f - <<<"$manifests" > "$LOGS/addons.log" 2>&1 \
    || { cat "$LOGS/addons.log" >&2; fail_up "applying the add-ons (CoreDNS, kube-proxy) failed"; }
}

dns_answers() { # queries kubernetes.default from node 1 through the DNS Service IP
  local want server=$DNS_IP; want=$(first_service_ip)
  # Without a Service proxy the Service IP cannot answer: ask a CoreDNS Pod instead.
  if [ "$PROXY_MODE" = none ]; then
    server=$(kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[0].status.podIP}' 2>/dev/null)
    [ -n "$server" ] || return 1
  fi
  [ "$(in_node 1 dig +short +time=1 +tries=1 @"$server" "kubernetes.default.svc.$CLUSTER_DOMAIN" A)" = "$want" ]
}

nodes_ready() {
  local ready
  ready=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
  echo "ready nodes: $ready of $NODES"
  [ "$ready" = "$NODES" ]
}

write_profile() {
  jq -n --arg kc "$KUBECONFIG_PATH" --argjson cfg "$CONFIG_JSON" --arg pause "$IMAGE_PAUSE" --arg dns "$IMAGE_COREDNS" \
    --arg node "$IMAGE_NODE" --arg tools "$IMAGE_NODE_TOOLS" --arg api "https://$(bridge_ip):$API_PORT" \
    --arg state "$STATE_DIR" --arg kpv "$KUBE_PROXY_VERSION" '{
      name: "svc-conformance-local", kubeconfig: $kc, apiServer: $api, stateDir: $state,
      kubernetesVersion: $cfg.kubernetesVersion, nodes: $cfg.nodes, proxyMode: $cfg.proxyMode,
      clusterDomain: $cfg.clusterDomain, serviceCIDR: $cfg.serviceCIDR, dnsServiceIP: $cfg.dnsServiceIP,
      podCIDR: $cfg.podCIDR, coreDNSReplicas: $cfg.coreDNSReplicas,
      images: {probe: $node, nodeTools: $tools, pause: $pause, coredns: $dns},
      kubeProxyVersion: $kpv
    }' > "$PROFILE_PATH"
}

# ---------------------------------------------------------------------------- commands
leftovers() { # prints what exists of a cluster
  local n
  if [ -d "$STATE_DIR" ]; then echo "state directory $STATE_DIR"; fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE"; fi
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NETNS_PREFIX" || true); do echo "network namespace $n"; done
  for n in "$PIDS"/*.pid; do if [ -f "$n" ] && kill -0 "$(cat "$n")" 2>/dev/null; then echo "process $(basename "$n" .pid) ($(cat "$n"))"; fi; done
  true
}

cluster_healthy() {
  [ -f "$PROFILE_PATH" ] && [ -f "$STATE_DIR/config.json" ] || return 1
  local p; for p in etcd kube-apiserver kube-controller-manager kube-scheduler; do proc_alive "$p" || return 1; done
  curl -sf --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://$(bridge_ip):$API_PORT/readyz" >/dev/null
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
  local bip; bip=$(bridge_ip)
  if ip -o addr show | grep -qF " ${bip%.*}."; then
    die "addresses in $NODE_CIDR are already in use on this machine ($(ip -o addr show | grep -F " ${bip%.*}." | awk '{print $2, $4}' | head -1)); set nodeCIDR in the config to a free /24"
  fi
  local p
  for p in "127.0.0.1 $ETCD_CLIENT_PORT" "127.0.0.1 $ETCD_PEER_PORT" "127.0.0.1 10257" "127.0.0.1 10259"; do
    # shellcheck disable=SC2086
    if port_in_use $p; then die "port ${p#* } on ${p% *} is already in use (by: $(ss -Htlnp "sport = :${p#* }" | grep -o 'users:.*' | head -1)); stop that process or run 'cluster/cluster.sh down' if it is a leftover of ours"; fi
  done
  local t0; t0=$(date +%s.%N)
  trap 'fail_up "up failed at line $LINENO: $BASH_COMMAND"' ERR
  bash "$here/build.sh"
  build_images
  log "up: $NODES node(s), Kubernetes $K8S_VERSION, proxy $PROXY_MODE, domain $CLUSTER_DOMAIN"
  mkdir -p "$STATE_DIR" "$LOGS" "$PIDS"
  echo "$CONFIG_JSON" > "$STATE_DIR/config.json"
  make_pki
  make_network
  make_cgroups
  local n
  for n in $(seq 1 "$NODES"); do write_containerd_config "$n"; mkdir -p "$LOGS/node-$n"; start_containerd "$n"; done
  start_etcd
  start_control_plane
  for n in $(seq 1 "$NODES"); do
    wait_for "containerd on $(node_name "$n")" 30 "$LOGS/node-$n/containerd.log" "containerd-$n" \
      "$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION/ctr" -a "$(node_dir "$n")/containerd/containerd.sock" version
  done
  local pids=() rc=0
  for n in $(seq 1 "$NODES"); do import_images "$n" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || fail_up "importing images into the nodes' containerd failed (logs: $LOGS/node-*/import.log)"
  for n in $(seq 1 "$NODES"); do write_kubelet_config "$n"; start_kubelet "$n"; done
  wait_for "all kube-system bootstrap RBAC" 30 "$LOGS/kube-apiserver.log" kube-apiserver \
    kubectl get clusterrole system:node-proxier
  apply_addons
  wire_pod_cidrs
  for n in $(seq 1 "$NODES"); do
    wait_for "$(node_name "$n") to register" 60 "$LOGS/node-$n/kubelet.log" "kubelet-$n" kubectl get node "$(node_name "$n")"
  done
  wait_for "all $NODES nodes Ready" 120 "$LOGS/node-1/kubelet.log" - nodes_ready
  wait_for "CoreDNS to answer kubernetes.default.svc.$CLUSTER_DOMAIN at $DNS_IP" 120 - - dns_answers
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
  local cg="" h tries
  while read -r h; do if [ -d "$h/$CGROUP_NAME" ]; then cg="$cg $h/$CGROUP_NAME"; fi; done < <(findmnt -rn -t cgroup -o TARGET | grep -E '/pids$')
  for tries in $(seq 1 50); do
    local left
    left=$( { for h in $cg; do find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null; done; \
      for f in "$PIDS"/*.pid; do if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then cat "$f"; fi; done; } | sort -u)
    [ -n "$left" ] || break
    # shellcheck disable=SC2086
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
  for n in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$VETH_PREFIX[0-9]" || true); do ip link del "$n" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
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
    if kill -0 "$(cat "$f")" 2>/dev/null; then printf '%-28s %-8s %s\n' "$name" running "$logf"; else printf '%-28s %-8s %s\n' "$name" EXITED "$logf"; rc=1; fi
  done
  if cluster_healthy; then
    echo; kubectl get nodes -o wide 2>&1 || rc=1
    echo; kubectl -n kube-system get pods -o wide 2>&1 || rc=1
    echo; if dns_answers; then echo "DNS: kubernetes.default.svc.$CLUSTER_DOMAIN answers at $DNS_IP"; else echo "DNS: NOT answering at $DNS_IP"; rc=1; fi
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
  build     only build the components (cached by version under $CACHE_DIR)
  kubectl   run the bundled kubectl against the cluster (cluster/cluster.sh kubectl get pods -A)
Config: cluster/cluster.json holds the defaults; SVC_CLUSTER_CONFIG=FILE merges a file of your own over them;
environment overrides: $(for p in "${ENV_KEYS[@]}"; do printf '%s ' "${p%%:*}"; done)
Admin kubeconfig: $KUBECONFIG_PATH (profile for the suite: $PROFILE_PATH)
EOF
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) load_config; do_up ;;
  down) do_down ;;
  status) load_config; do_status ;;
  build) load_config; bash "$here/build.sh" ;;
  kubectl) load_config; kubectl "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
