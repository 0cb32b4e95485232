# VM nodes: worker nodes that are QEMU guests with Debian's own kernel, for Service proxies
# that need kernel features this machine's kernel lacks (IPVS for kube-proxy's ipvs mode and
# kube-router). QEMU runs under software emulation (TCG: this machine's /dev/kvm cannot run a
# stock kernel, see shared reference other-implementations.md), so a guest is 15-45x slower
# than a network-namespace node; the design keeps the guest's work small:
#   - two disks, both cached by content: the Debian root filesystem (debootstrap plus the
#     kernel package, by suite and package list) and the cluster's binaries (containerd,
#     kubelet, by their versions); a node boots them copy-on-write (snapshot=on) and writes
#     nothing back;
#   - everything node-specific comes through 9p shares from the host: the config (node.env,
#     the network script, containerd and kubelet configs, certificates: `cfg`, read-only),
#     the image archives (`images`, read-only), the logs (`logs`, the node's log folder) and a
#     command channel (`ctl`: the host drops a script, the guest runs it and leaves its output
#     and exit code), which is what `in_node` uses for a VM node;
#   - the guest's PID 1 is cluster/vm/guest-init.sh (no systemd): mounts, modules, network,
#     containerd, the image import, kubelet, then the command channel.
# The guest's eth0 is a tap on the cluster bridge, so a VM node is addressed like any other.
# Sourced by cluster.sh (uses its helpers and config); not run on its own.
# shellcheck shell=bash
TAP_PREFIX=svct
VM_SUITE=bookworm
# The guest's packages: the kernel (every ip_vs* module, dummy, br_netfilter, overlay, 9p),
# what containerd and kubelet run (runc, the CNI plugins, iptables, mount), what kube-proxy's
# ipvs mode and kube-router inspect or call on the node (ipset, ipvsadm, conntrack), and dig
# for `up`'s DNS check.
VM_PACKAGES=(linux-image-amd64 initramfs-tools kmod iproute2 iptables nftables ipset ipvsadm conntrack
  runc containernetworking-plugins util-linux mount procps bind9-dnsutils curl ca-certificates)
# The modules the guest loads at boot (the rest load on demand).
VM_MODULES="9p 9pnet_virtio overlay br_netfilter nf_conntrack ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_lc dummy veth bridge xt_conntrack"

vm_dir() { echo "$(node_dir "$1")/vm"; }
# is_vm <n>: node n is a VM node (the last vmNodes nodes; node-1 stays a namespace unless all are VMs).
is_vm() { [ "${VM_NODES:-0}" -gt 0 ] && [ "$1" -gt $((NODES - VM_NODES)) ]; }
any_vm() { [ "${VM_NODES:-0}" -gt 0 ]; }

vm_check_tools() {
  any_vm || return 0
  need_cmd qemu-system-x86_64 "this cluster's $VM_NODES VM node(s) run under QEMU: install it with: apt-get install -y qemu-system-x86 (scripts/setup.sh does)"
  need_cmd mke2fs "VM nodes' disks are made with mke2fs: apt-get install -y e2fsprogs"
  [ -c /dev/net/tun ] || die "VM nodes need /dev/net/tun for their tap devices, and this machine has none"
  qemu-system-x86_64 -device help 2>&1 | grep -q "virtio-9p-pci" || die "this qemu-system-x86_64 has no 9p (-virtfs) support, which VM nodes use for their config and logs; install Debian's qemu-system-x86"
}

# ---------------------------------------------------------------------------- the disks
# vm_rootfs_image: the Debian root filesystem as a raw ext4 image, with its kernel and initrd
# beside it; cached by suite, package list, modules and the stub init. Sets VM_ROOT_IMG, VM_KERNEL, VM_INITRD.
vm_rootfs_image() {
  local vdir="$CACHE_DIR/vm" key tmp mirror
  key=$(printf '%s\n' "$VM_SUITE" "${VM_PACKAGES[@]}" "$VM_MODULES" "$(vm_stub_init)" | sha256sum | cut -c1-12)
  VM_ROOT_IMG="$vdir/root-$VM_SUITE-$key.img"; VM_KERNEL="$vdir/root-$VM_SUITE-$key.vmlinuz"; VM_INITRD="$vdir/root-$VM_SUITE-$key.initrd"
  if [ -f "$VM_ROOT_IMG" ] && [ -f "$VM_KERNEL" ] && [ -f "$VM_INITRD" ]; then log "vm: root filesystem cached at $VM_ROOT_IMG"; return 0; fi
  need_cmd debootstrap "VM nodes' root filesystem is made by debootstrap: apt-get install -y debootstrap (scripts/setup.sh does)"
  mirror=${SVC_DEBIAN_MIRROR:-$(apt_mirror)}
  [ -n "$mirror" ] || die "no Debian mirror in this machine's apt sources: set SVC_DEBIAN_MIRROR"
  mkdir -p "$vdir"
  tmp=$(mktemp -d "$vdir/build.XXXXXX")
  local t0; t0=$(date +%s)
  log "vm: debootstrap $VM_SUITE with the kernel package from $mirror (log: $tmp.log; a few minutes, once)"
  if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${VM_PACKAGES[*]}")" "$VM_SUITE" "$tmp/root" "$mirror" >"$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log above and in $tmp.log); is the Debian mirror $mirror reachable? Set SVC_DEBIAN_MIRROR to another"
  fi
  local k i
  k=$(find "$tmp/root/boot" -name 'vmlinuz-*' | sort | tail -1); i=$(find "$tmp/root/boot" -name 'initrd.img-*' | sort | tail -1)
  # shellcheck disable=SC2015 # fail unless both were found
  [ -n "$k" ] && [ -n "$i" ] || { rm -rf "$tmp"; die "the VM root filesystem has no kernel or initrd under /boot (log: $tmp.log): the kernel package did not install"; }
  for m in $VM_MODULES; do
    find "$tmp/root/lib/modules" -name "$m.ko*" | grep -q . || { rm -rf "$tmp"; die "the guest kernel has no module $m"; }
  done
  rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
  vm_stub_init > "$tmp/root/sbin/svc-init"; chmod 755 "$tmp/root/sbin/svc-init"
  mkdir -p "$tmp/root/svc/cfg" "$tmp/root/svc/logs" "$tmp/root/svc/images" "$tmp/root/svc/ctl" "$tmp/root/opt/svc"
  echo "svc-node" > "$tmp/root/etc/hostname"
  cp "$k" "$tmp/vmlinuz"; cp "$i" "$tmp/initrd"
  # Room for the images, Pods' layers and logs: the file is sparse, and each node writes into
  # its own temporary copy-on-write layer, never into this file.
  mke2fs -q -t ext4 -L svc-root -d "$tmp/root" "$tmp/root.img" 12G >/dev/null
  find "$vdir" -maxdepth 1 -name "root-$VM_SUITE-*" -delete   # an older build's (other packages or stub)
  mv "$tmp/vmlinuz" "$VM_KERNEL"; mv "$tmp/initrd" "$VM_INITRD"; mv "$tmp/root.img" "$VM_ROOT_IMG"
  rm -rf "$tmp" "$tmp.log"
  log "vm: root filesystem built in $(( $(date +%s) - t0 )) s: $VM_ROOT_IMG"
}

# vm_bin_image: containerd and kubelet (the multi-call build) on a small ext4 disk, by version.
vm_bin_image() {
  local vdir="$CACHE_DIR/vm" key tmp cdir="$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION" kdir="$CACHE_DIR/bin/kubernetes-$K8S_VERSION"
  key=$(cat "$kdir/.complete" "$cdir/.complete" 2>/dev/null | sha256sum | cut -c1-8)
  VM_BIN_IMG="$vdir/bin-$K8S_VERSION-$CONTAINERD_VERSION-$key.img"
  [ -f "$VM_BIN_IMG" ] && return 0
  mkdir -p "$vdir"; tmp=$(mktemp -d "$vdir/bin.XXXXXX")
  mkdir -p "$tmp/d"
  cp "$kdir/kube" "$tmp/d/kube"; ln -s kube "$tmp/d/kubelet"
  cp "$cdir/containerd" "$cdir/containerd-shim-runc-v2" "$cdir/ctr" "$tmp/d/"
  mke2fs -q -t ext4 -L svc-bin -d "$tmp/d" "$tmp/bin.img" 1G >/dev/null
  mv "$tmp/bin.img" "$VM_BIN_IMG"; rm -rf "$tmp"
}

# vm_seed_image: the cluster's images already imported into a containerd root, as an ext4
# disk the guest mounts copy-on-write at /var/lib/svc-node, so a guest starts with them
# instead of importing them (about 70 s for the four images under TCG). containerd's paths
# are absolute, so the import runs on the host in a private mount namespace whose /var/lib
# is a tmpfs (nothing is written to the host's /var/lib). Cached by containerd's version and
# the archives' names, sizes and times.
vm_seed_image() {
  local vdir="$CACHE_DIR/vm" key tmp t cdir="$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION"
  key=$( { echo "$CONTAINERD_VERSION"; for t in "${IMAGE_TARS[@]}"; do echo "${t##*/} $(stat -c '%s %Y' "$t")"; done; } | sha256sum | cut -c1-12)
  VM_SEED_IMG="$vdir/seed-$key.img"
  [ -f "$VM_SEED_IMG" ] && return 0
  mkdir -p "$vdir"; tmp=$(mktemp -d "$vdir/seed.XXXXXX")
  local t0; t0=$(date +%s)
  write_containerd_config 0 /var/lib/svc-node "$tmp/containerd.toml" /etc/cni/net.d
  # Only the socket differs from the guest's: under $tmp, outside the tmpfs.
  sed -i "s|address = \"/var/lib/svc-node/containerd/containerd.sock|address = \"$tmp/c.sock|" "$tmp/containerd.toml"
  # shellcheck disable=SC2016 # the script's variables are the inner bash's
  if ! unshare -m --propagation private bash -euo pipefail -c '
      tmp=$1 cdir=$2; shift 2
      mount -t tmpfs -o size=8g svc-seed /var/lib
      mkdir -p /var/lib/svc-node
      PATH="$cdir:$PATH" "$cdir/containerd" --config "$tmp/containerd.toml" >"$tmp/containerd.log" 2>&1 &
      pid=$!
      for _ in $(seq 1 100); do "$cdir/ctr" -a "$tmp/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
      for t in "$@"; do "$cdir/ctr" -a "$tmp/c.sock" -n k8s.io images import --local "$t" >>"$tmp/import.log" 2>&1 \
        || "$cdir/ctr" -a "$tmp/c.sock" -n k8s.io images import "$t" >>"$tmp/import.log" 2>&1; done
      kill "$pid"; wait "$pid" || true
      rm -rf /var/lib/svc-node/containerd/state /var/lib/svc-node/runc
      mke2fs -q -t ext4 -L svc-seed -d /var/lib/svc-node "$tmp/seed.img" 10G >/dev/null
    ' _ "$tmp" "$cdir" "${IMAGE_TARS[@]}"; then
    tail -5 "$tmp/import.log" "$tmp/containerd.log" >&2 2>/dev/null || true; rm -rf "$tmp"; die "seeding the VM nodes' images failed (above)"
  fi
  mv "$tmp/seed.img" "$VM_SEED_IMG"; rm -rf "$tmp"
  # Seeds of other image sets (ipvs and kube-router clusters differ by one image): the newest four stay.
  find "$vdir" -maxdepth 1 -name 'seed-*.img' -printf '%T@ %p\n' | sort -rn | tail -n +5 | cut -d' ' -f2- | xargs -r rm -f
  log "vm: images seeded in $(( $(date +%s) - t0 )) s: $VM_SEED_IMG"
}

# The root filesystem's /sbin/svc-init: mounts the config share and hands over to the
# guest-init script in it (so changing the script needs no new root filesystem).
vm_stub_init() {
  cat <<'EOF'
#!/bin/sh
mount -t proc proc /proc 2>/dev/null; mount -t sysfs sysfs /sys 2>/dev/null
modprobe 9pnet_virtio; modprobe 9p
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro cfg /svc/cfg; then echo "svc-init: the config share (cfg) did not mount"; exit 1; fi
exec /bin/bash /svc/cfg/guest-init.sh
EOF
}

# ---------------------------------------------------------------------------- a node
# vm_prepare <n>: the node's shares: cfg (read-only), images, ctl; the logs folder is the node's.
vm_prepare() {
  local n=$1 d cfgd t; d=$(vm_dir "$n"); cfgd="$d/cfg"
  mkdir -p "$cfgd/cni" "$d/images" "$d/ctl" "$d/tmp" "$LOGS/node-$n"
  # shellcheck disable=SC2154 # here: cluster.sh's folder, set by cluster.sh, which sources this file
  cp "$here/vm/guest-init.sh" "$cfgd/guest-init.sh"
  node_net_script "$n" > "$cfgd/network.sh"
  cp "$PKI/ca.crt" "$cfgd/ca.crt"; cp "$PKI/node-$n-serving.crt" "$cfgd/serving.crt"; cp "$PKI/node-$n-serving.key" "$cfgd/serving.key"
  cp "$(node_dir "$n")/kubelet.conf" "$cfgd/kubelet.conf"
  write_containerd_config "$n" /var/lib/svc-node "$cfgd/containerd.toml" /etc/cni/net.d
  write_kubelet_config "$n" vm "$cfgd/kubelet.json"
  {
    echo "NODE_NAME=$(node_name "$n")"
    echo "VM_MODULES='$VM_MODULES'"
    printf 'KUBELET_ARGS=(%s)\n' "$(printf '%q ' --config=/svc/cfg/kubelet.json --kubeconfig=/svc/cfg/kubelet.conf \
      --root-dir=/var/lib/kubelet --hostname-override="$(node_name "$n")" --node-ip="$(node_ips "$n")" --v=1 \
      --node-labels="topology.kubernetes.io/zone=zone-$n" "${KUBELET_EXTRA[@]}")"
  } > "$cfgd/node.env"
  for t in "${IMAGE_TARS[@]}"; do ln -f "$t" "$d/images/" 2>/dev/null || cp "$t" "$d/images/"; done
}

vm_memory() { cfg '.vmMemoryMiB'; }
vm_cpus() { cfg '.vmCPUs'; }

# vm_start <n>: boots the guest (in the background; vm_wait_booted waits for it).
vm_start() {
  local n=$1 d; d=$(vm_dir "$n")
  local mac; mac=$(printf '52:54:00:30:00:%02x' "$n")
  local -a share=("security_model=none,multidevs=remap")
  # An IPv4-only cluster's guest has no IPv6 at all: kube-proxy then runs one proxier, not a
  # second one for IPv6 whose every sync (ipset and iptables commands) costs as much again.
  local noipv6=""; has_family IPv6 || noipv6=" ipv6.disable=1"
  # TMPDIR: QEMU's copy-on-write layer of the root disk (snapshot=on) lives there and is
  # removed when QEMU exits; under the node's folder, `down` removes it even after a kill.
  start_proc "vm-$n" "$LOGS/node-$n/qemu.log" - env TMPDIR="$d/tmp" qemu-system-x86_64 \
    -name "$(node_name "$n")" -machine q35 -accel tcg,tb-size=512 -cpu max -smp "$(vm_cpus)" -m "$(vm_memory)" \
    -display none -monitor none -nodefaults -no-reboot \
    -kernel "$VM_KERNEL" -initrd "$VM_INITRD" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 init=/sbin/svc-init panic=1 mitigations=off clocksource=tsc tsc=reliable quiet loglevel=4$noipv6" \
    -drive "file=$VM_ROOT_IMG,format=raw,if=virtio,cache=unsafe,snapshot=on" \
    -drive "file=$VM_BIN_IMG,format=raw,if=virtio,readonly=on" \
    -drive "file=$VM_SEED_IMG,format=raw,if=virtio,cache=unsafe,snapshot=on" \
    -netdev "tap,id=n0,ifname=$TAP_PREFIX$n,script=no,downscript=no" -device "virtio-net-pci,netdev=n0,mac=$mac" \
    -virtfs "local,path=$d/cfg,mount_tag=cfg,readonly=on,${share[0]}" \
    -virtfs "local,path=$d/images,mount_tag=images,readonly=on,${share[0]}" \
    -virtfs "local,path=$LOGS/node-$n,mount_tag=logs,${share[0]}" \
    -virtfs "local,path=$d/ctl,mount_tag=ctl,${share[0]}" \
    -serial "file:$LOGS/node-$n/console.log"
}

vm_booted() { [ -f "$LOGS/node-$1/guest-ready" ]; }
vm_wait_booted() {
  local n=$1
  wait_for "$(node_name "$n") (a VM) to boot, start containerd and import the images" "$(( 300 + 60 * VM_NODES ))" \
    "$LOGS/node-$n/console.log" "vm-$n" vm_booted "$n"
}

# vm_exec <n> cmd...: runs cmd in the guest through the ctl share; prints its output (stdout
# and stderr together), returns its exit code. Waits for the guest's command loop.
vm_exec() {
  local n=$1 d id rc; shift
  d="$(vm_dir "$n")/ctl"; id="$$-$RANDOM-$(date +%s%N)"
  printf '%q ' "$@" > "$d/.req-$id"; mv "$d/.req-$id" "$d/req-$id"
  local deadline=$(( $(date +%s) + 120 ))
  while [ ! -f "$d/rc-$id" ]; do
    if ! proc_alive "vm-$n"; then rm -f "$d/req-$id"; echo "$(node_name "$n") (a VM) is not running" >&2; return 125; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$(node_name "$n") (a VM) did not run '$*' within 120 s" >&2; return 124; fi
    sleep 0.1
  done
  cat "$d/out-$id"; rc=$(cat "$d/rc-$id"); rm -f "$d/out-$id" "$d/rc-$id"
  return "$rc"
}
