#!/bin/bash
# PID 1 of a VM node (cluster/vm.sh), run from the config share by the root filesystem's
# /sbin/svc-init: mounts, modules, the node's network, containerd, the image import,
# kubelet, then the host's command channel. Everything it writes for the host goes to the
# logs share (/svc/logs = the node's log folder on the host); its own lines go to the
# serial console (console.log there).
set -u
export PATH=/opt/svc:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
log() { echo "[svc-node $(date +%H:%M:%S)] $*"; }
fatal() { log "FATAL: $*"; echo "$*" > /svc/logs/guest-failed 2>/dev/null; sync; echo o > /proc/sysrq-trigger; sleep 10; exit 1; }

mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts; mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run; mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
mount -o remount,rw / 2>/dev/null || true
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts" logs /svc/logs || fatal "the logs share did not mount"
mount -t 9p -o "$opts,ro" images /svc/images || fatal "the images share did not mount"
mount -t 9p -o "$opts" ctl /svc/ctl || fatal "the ctl share did not mount"
mount -o ro /dev/vdb /opt/svc || fatal "the binaries disk (/dev/vdb) did not mount"
# containerd's root with the cluster's images already imported (copy-on-write: nothing goes back).
mkdir -p /var/lib/svc-node; mount /dev/vdc /var/lib/svc-node || fatal "the images disk (/dev/vdc) did not mount"
# shellcheck source=/dev/null
source /svc/cfg/node.env
hostname "$NODE_NAME"
log "$NODE_NAME: kernel $(uname -r), $(nproc) CPU(s), $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
for m in $VM_MODULES; do modprobe "$m" || log "modprobe $m failed"; done
printf 'nameserver 127.0.0.1\n' > /etc/resolv.conf
printf '127.0.0.1 localhost\n::1 localhost\n' > /etc/hosts
bash -euo pipefail /svc/cfg/network.sh || fatal "the node's network script failed (/svc/cfg/network.sh)"
# Every controller for the Pods' cgroups (kubelet's cgroupfs driver, cgroup v2).
# shellcheck disable=SC2013 # the file is one line of space-separated controller names
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true; done
mkdir -p /etc/cni/net.d /var/lib/kubelet /var/log/pods /var/lib/cni
log "network up: $(ip -o addr show dev eth0 | awk '{print $4}' | tr '\n' ' ')"

# The loops below poll without forking: under emulation a fork and exec costs 40 times what
# it does on the host, and a `sleep` five times a second took a tenth of the guest's CPU.
# nap SECONDS: a read with a timeout on a FIFO that nobody writes.
mkfifo /run/nap; exec {nap_fd}<>/run/nap
nap() { read -rt "$1" -u "$nap_fd" _ || true; }

# The host's commands (vm_exec): req-ID holds a command line; the answer is out-ID and rc-ID.
serve_ctl() {
  local f id rc
  while true; do
    for f in /svc/ctl/req-*; do
      [ -e "$f" ] || continue
      id=${f##*/req-}
      mv "$f" "/run/ctl-$id" 2>/dev/null || continue
      ( bash -c "$(cat "/run/ctl-$id")" > "/svc/ctl/.out-$id" 2>&1; rc=$?
        mv "/svc/ctl/.out-$id" "/svc/ctl/out-$id"; echo "$rc" > "/svc/ctl/.rc-$id"; mv "/svc/ctl/.rc-$id" "/svc/ctl/rc-$id"
        rm -f "/run/ctl-$id" ) &
    done
    nap 0.2
  done
}
serve_ctl &

# The CNI config appears on the config share once the controller-manager gave this node its
# Pod range; containerd watches its own folder (inotify does not see through 9p), so copy it.
# Compared with bash's own reads (no cmp), copied only when it differs.
sync_cni() {
  local f want have
  while true; do
    for f in /svc/cfg/cni/*.conflist; do
      [ -e "$f" ] || continue
      want=; have=
      IFS= read -rd '' want < "$f"
      [ -e "/etc/cni/net.d/${f##*/}" ] && IFS= read -rd '' have < "/etc/cni/net.d/${f##*/}"
      [ "$want" = "$have" ] || { cp "$f" "/etc/cni/net.d/.${f##*/}"; mv "/etc/cni/net.d/.${f##*/}" "/etc/cni/net.d/${f##*/}"; log "CNI config ${f##*/} installed"; }
    done
    nap 1
  done
}
sync_cni &

containerd --config /svc/cfg/containerd.toml >> /svc/logs/containerd.log 2>&1 &
for _ in $(seq 1 300); do ctr -a /var/lib/svc-node/containerd/containerd.sock version >/dev/null 2>&1 && break; sleep 0.5; done
ctr -a /var/lib/svc-node/containerd/containerd.sock version >/dev/null 2>&1 || fatal "containerd did not start (containerd.log)"
# Archives not on the seed disk (cluster.sh import adds its own later, through the command channel).
missing=$(for t in /svc/images/*; do n=$(tar -xOf "$t" index.json 2>/dev/null | grep -o '"io.containerd.image.name":"[^"]*"' | cut -d'"' -f4)
  ctr -a /var/lib/svc-node/containerd/containerd.sock -n k8s.io images ls -q | grep -qxF "$n" || echo "$t"; done)
log "containerd up with $(ctr -a /var/lib/svc-node/containerd/containerd.sock -n k8s.io images ls -q | wc -l) image(s); importing $(echo "$missing" | grep -c . || true) more"
for t in $missing; do
  ctr -a /var/lib/svc-node/containerd/containerd.sock -n k8s.io images import --local "$t" >> /svc/logs/import.log 2>&1 \
    || ctr -a /var/lib/svc-node/containerd/containerd.sock -n k8s.io images import "$t" >> /svc/logs/import.log 2>&1 \
    || fatal "importing $t failed (import.log)"
done
log "images imported; starting kubelet"
touch /svc/logs/guest-ready
kubelet "${KUBELET_ARGS[@]}" >> /svc/logs/kubelet.log 2>&1 &

# PID 1 reaps whatever is orphaned to it.
while true; do wait -n 2>/dev/null || nap 1; done
