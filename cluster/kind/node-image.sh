#!/usr/bin/env bash
# Builds a kind node image here, without any registry, the way kind v0.33.0 builds one
# (its base image's Dockerfile, then `kind build node-image`'s import-and-commit), from:
#   - a Debian root filesystem made by debootstrap with the packages kind's base image installs;
#   - kind's base files (entrypoint, systemd units, containerd config), read at build time
#     from the kind module in the Go module cache (`go mod download sigs.k8s.io/kind@$KIND_VERSION`);
#   - containerd, crictl, the CNI plugins and kubeadm/kubelet/kubectl built from source here
#     (cluster/build.sh --kind), and Debian's runc;
#   - the control-plane images (apiserver, controller-manager, scheduler, kube-proxy, etcd,
#     CoreDNS, pause) built locally under svc-conformance.local/ names and imported into the
#     node's containerd, pinned, as kind does; kubeadm's imageRepository points at that name;
#   - /kind/manifests/default-cni.yaml: a bridge CNI (cluster/kind/default-cni.yaml), since
#     kindnetd cannot be built here. No default-storage.yaml: kind then makes a host-path
#     StorageClass itself.
# Usage: cluster/kind/node-image.sh [--print-name]   (needs a Docker engine: cluster/kind/docker.sh start)
#        cluster/kind/node-image.sh --rootfs-only    only the Debian root filesystem (debootstrap,
#                                                     cached; no Docker): scripts/setup.sh makes it
#                                                     while the Go builds run
# The image is cached by its inputs: a second run with the same inputs does nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=cluster/lib.sh
source "$here/lib.sh"
load_config
# shellcheck source=cluster/oci.sh
source "$here/oci.sh"
# shellcheck source=cluster/images.sh
source "$here/images.sh"

DEBIAN_SUITE=bookworm   # bookworm's systemd boots on this cgroup v1 host; kind's own base is trixie
DEBIAN_MIRROR=${SVC_DEBIAN_MIRROR:-$(apt_mirror)}
[ -n "$DEBIAN_MIRROR" ] || die "no Debian mirror in this machine's apt sources: set SVC_DEBIAN_MIRROR"

# kind's base image packages (images/base/Dockerfile), plus runc and systemd-sysv for /sbin/init.
PACKAGES=(systemd systemd-sysv conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz fuse-overlayfs nfs-common open-iscsi e2fsprogs bash ca-certificates curl jq procps runc)
KDIR="$CACHE_DIR/kind"
BRIDGE_CNI_TAG=v2   # bash, curl, jq, ip, iptables (nft): what default-cni.yaml's script runs

kind_module() { # the kind module dir in the Go module cache
  local d; d=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" 2>/dev/null | jq -r '.Dir // empty')
  # shellcheck disable=SC2015 # die unless both tests hold
  [ -n "$d" ] && [ -d "$d/images/base/files" ] || die "cannot read sigs.k8s.io/kind@$KIND_VERSION from the Go module proxy ($(go env GOPROXY)); its base files are needed"
  echo "$d"
}

# The Debian root filesystem, cached as a tar by suite and package list.
debian_rootfs() {
  local key tar tmp
  key=$(printf '%s\n' "$DEBIAN_SUITE" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
  tar="$KDIR/rootfs-$DEBIAN_SUITE-$key.tar"
  if [ ! -f "$tar" ]; then
    need_cmd debootstrap "install it with: apt-get install -y debootstrap (scripts/setup.sh does)"
    tmp=$(mktemp -d "$KDIR/debootstrap.XXXXXX")
    log "kind: debootstrap $DEBIAN_SUITE from $DEBIAN_MIRROR (log: $tmp.log)"
    if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" "$DEBIAN_SUITE" "$tmp/root" "$DEBIAN_MIRROR" >"$tmp.log" 2>&1; then
      tail -n 20 "$tmp.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log above and in $tmp.log); is the Debian mirror $DEBIAN_MIRROR reachable? Set SVC_DEBIAN_MIRROR to another"
    fi
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
    tar --numeric-owner -C "$tmp/root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$tmp" "$tmp.log"
  fi
  echo "$tar"
}

# The image inputs: their hash names the image.
inputs_key() {
  {
    echo "$KIND_VERSION $K8S_VERSION $CONTAINERD_VERSION $ETCD_VERSION $COREDNS_VERSION $CRICTL_VERSION $CNI_PLUGINS_VERSION"
    basename "$1"
    sha256sum "$0" "$here/kind/default-cni.yaml" "$here/images.sh" "$here/oci.sh" | cut -c1-64
    cat "$CACHE_DIR/bin/kubernetes-$K8S_VERSION/.complete"
    "$(node_binary)" --version
  } | sha256sum | cut -c1-12
}

# Control-plane images: one layer with the multi-call binary for apiserver, controller-manager
# and scheduler (identical layer, so containerd stores it once), etcd, and kube-proxy (node-tools).
control_plane_images() { # sets CP_TARS
  local idir="$CACHE_DIR/images" tmp c t kube="$CACHE_DIR/bin/kubernetes-$K8S_VERSION/kube"
  local key; key=$(cut -c1-16 "$CACHE_DIR/bin/kubernetes-$K8S_VERSION/.complete")
  CP_TARS=()
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    t="$idir/$c-$K8S_VERSION-$key.tar"
    if [ ! -f "$t" ]; then
      tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin"; base_rootfs "$tmp/rootfs"
      cp "$kube" "$tmp/rootfs/usr/local/bin/kube"
      local l; for l in kube-apiserver kube-controller-manager kube-scheduler; do ln -s kube "$tmp/rootfs/usr/local/bin/$l"; done
      make_image "$t" "svc-conformance.local/$c:$K8S_VERSION" "$tmp/rootfs" "[\"/usr/local/bin/$c\"]"; rm -rf "$tmp"
    fi
    CP_TARS+=("$t")
  done
  t="$idir/etcd-$ETCD_VERSION.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); mkdir -p "$tmp/rootfs/usr/local/bin"; base_rootfs "$tmp/rootfs"
    cp "$CACHE_DIR/bin/etcd-$ETCD_VERSION/etcd" "$tmp/rootfs/usr/local/bin/etcd"
    make_image "$t" "svc-conformance.local/etcd:$ETCD_VERSION" "$tmp/rootfs" '["/usr/local/bin/etcd"]'; rm -rf "$tmp"
  fi
  CP_TARS+=("$t")
  t="$idir/kind-bridge-cni-$BRIDGE_CNI_TAG.tar"
  if [ ! -f "$t" ]; then
    tmp=$(mktemp -d); base_rootfs "$tmp/rootfs"
    copy_with_libs "$tmp/rootfs" /bin/bash /bin/sleep /bin/cat /bin/mv /bin/rm /usr/bin/cmp /bin/grep /usr/bin/curl /usr/bin/jq /sbin/ip /usr/sbin/xtables-nft-multi
    ln -sf xtables-nft-multi "$tmp/rootfs/usr/sbin/iptables"
    mkdir -p "$tmp/rootfs/usr/lib/x86_64-linux-gnu"
    cp -a /usr/lib/x86_64-linux-gnu/xtables "$tmp/rootfs/usr/lib/x86_64-linux-gnu/"
    local l; for l in "$tmp"/rootfs/usr/lib/x86_64-linux-gnu/xtables/*.so; do copy_with_libs "$tmp/rootfs" "${l#"$tmp/rootfs"}" 2>/dev/null || true; done
    cp /etc/protocols /etc/services "$tmp/rootfs/etc/"
    make_image "$t" "svc-conformance.local/kind-bridge-cni:$BRIDGE_CNI_TAG" "$tmp/rootfs" '["/bin/bash"]'; rm -rf "$tmp"
  fi
  CP_TARS+=("$t")
}

# kind's base image (images/base/Dockerfile), applied to a staging root filesystem.
assemble_rootfs() { # <staging dir> <kind module dir>
  local r=$1 m=$2 f
  install -m 0755 "$m"/images/base/files/usr/local/bin/* "$r/usr/local/bin/"
  mkdir -p "$r/kind/bin" "$r/LICENSES"
  cp -r "$m/images/base/files/kind/." "$r/kind/"; chmod -R u+w,go-w "$r/kind"
  find "$r/kind" -type f -exec chmod 0644 {} +; chmod 0755 "$r/kind" "$r/kind/bin" "$r"/kind/bin/*
  cp "$m"/images/base/files/LICENSES/* "$r/LICENSES/"
  # shellcheck disable=SC2043 # one file of kind's base etc/ today
  for f in crictl.yaml; do install -m 0644 "$m/images/base/files/etc/$f" "$r/etc/$f"; done
  mkdir -p "$r/etc/containerd" "$r/etc/default" "$r/etc/sysctl.d" "$r/etc/systemd/system/kubelet.service.d"
  install -m 0644 "$m"/images/base/files/etc/containerd/* "$r/etc/containerd/"
  install -m 0644 "$m"/images/base/files/etc/default/* "$r/etc/default/"
  install -m 0644 "$m"/images/base/files/etc/sysctl.d/* "$r/etc/sysctl.d/"
  find "$m/images/base/files/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 {} "$r/etc/systemd/system/" \;
  install -m 0644 "$m"/images/base/files/etc/systemd/system/kubelet.service.d/* "$r/etc/systemd/system/kubelet.service.d/"
  # The Dockerfile's cleanup of units a container does not want.
  find "$r/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$r"/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/* \
    "$r"/lib/systemd/system/local-fs.target.wants/* "$r"/lib/systemd/system/sockets.target.wants/*udev* \
    "$r"/lib/systemd/system/sockets.target.wants/*initctl* "$r"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >> "$r/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$r/sbin/init"
  systemctl --root="$r" enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  systemctl --root="$r" mask systemd-binfmt.service >/dev/null 2>&1
  mkdir -p "$r/etc/kubernetes/manifests"
  # Binaries, where kind's base image puts them.
  local cd="$CACHE_DIR/bin/containerd-$CONTAINERD_VERSION"
  install -m 0755 "$cd/containerd" "$cd/ctr" "$cd/containerd-shim-runc-v2" "$r/usr/local/bin/"
  mkdir -p "$r/usr/local/sbin"; ln -sf /usr/sbin/runc "$r/usr/local/sbin/runc"
  install -m 0755 "$CACHE_DIR/bin/crictl-$CRICTL_VERSION/crictl" "$r/usr/local/bin/"
  mkdir -p "$r/opt/cni/bin"; install -m 0755 "$CACHE_DIR/bin/cni-plugins-$CNI_PLUGINS_VERSION"/* "$r/opt/cni/bin/"
  "$cd/ctr" oci spec | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' > "$r/etc/containerd/cri-base.json"
  # Kubernetes: the multi-call binary as kubeadm, kubelet and kubectl (kind: /usr/bin/<name>).
  install -m 0755 "$CACHE_DIR/bin/kubernetes-$K8S_VERSION/kube" "$r/usr/bin/kube"
  for f in kubeadm kubelet kubectl; do ln -sf kube "$r/usr/bin/$f"; done
  echo "$K8S_VERSION" > "$r/kind/version"
  # The sandbox image is ours, under its own name.
  sed -i "s|sandbox_image = .*|sandbox_image = \"$IMAGE_PAUSE\"|" "$r/etc/containerd/config.toml"
  mkdir -p "$r/kind/manifests"
  sed "s|SVC_BRIDGE_CNI_IMAGE|svc-conformance.local/kind-bridge-cni:$BRIDGE_CNI_TAG|" "$here/kind/default-cni.yaml" > "$r/kind/manifests/default-cni.yaml"
  # kubeadm's image list and tags for this image (read by the provider and the cross-check).
  # The suite's probe image and node-tools ride along, so no image has to be loaded per run.
  jq -n --arg repo svc-conformance.local --arg etcd "$ETCD_VERSION" --arg dns "$COREDNS_VERSION" --arg pause "$IMAGE_PAUSE" \
    --arg probe "$IMAGE_NODE" --arg tools "$IMAGE_NODE_TOOLS" --arg coredns "$IMAGE_COREDNS" \
    '{imageRepository: $repo, etcdImageTag: $etcd, dnsImageTag: $dns, sandboxImage: $pause, probe: $probe, nodeTools: $tools, coredns: $coredns}' > "$r/kind/svc-images.json"
}

stage="" build="" base="" committed=""
main() {
  if [ "${1:-}" = --rootfs-only ]; then mkdir -p "$KDIR"; debian_rootfs; return 0; fi
  need_cmd docker "install Docker (scripts/setup.sh installs Debian's docker.io) and start it: cluster/kind/docker.sh start"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers: start one (cluster/kind/docker.sh start)"
  mkdir -p "$KDIR"
  local rootfs; rootfs=$(debian_rootfs)
  local key; key=$(inputs_key "$rootfs")
  local image="svc-conformance.local/kind-node:$K8S_VERSION-$key"
  if [ "${1:-}" = --print-name ]; then echo "$image"; return 0; fi
  if docker image inspect "$image" >/dev/null 2>&1; then
    log "kind: node image $image is built"
    build_images; docker_load_oci "$CACHE_DIR/images/node-$("$(node_binary)" --version | tr -d v).tar"
    echo "$image"; return 0
  fi
  local t0; t0=$(date +%s)
  local m; m=$(kind_module)
  build_images; control_plane_images
  log "kind: assembling $image"
  stage=$(mktemp -d "$KDIR/stage.XXXXXX")
  build="svc-kind-build-$$" base="svc-conformance.local/kind-base:$key" committed="svc-conformance.local/kind-build:$key"
  cleanup() { docker rm -f "$build" >/dev/null 2>&1 || true; docker rmi "$committed" "$base" >/dev/null 2>&1 || true; rm -rf "$stage"; }
  trap cleanup EXIT
  tar --numeric-owner -C "$stage" -xf "$rootfs"
  assemble_rootfs "$stage" "$m"
  tar --numeric-owner -C "$stage" -c . | docker import \
    --change 'ENV container=docker' \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "$base" >/dev/null
  rm -rf "$stage"
  # kind build node-image: containerd in a build container, images imported pinned, commit.
  docker run -d --name "$build" --entrypoint=sleep --security-opt seccomp=unconfined "$base" infinity >/dev/null
  docker exec "$build" bash -c 'nohup containerd > /var/log/containerd-build.log 2>&1 &'
  local i; for ((i = 0; i < 60; i++)); do docker exec "$build" test -S /run/containerd/containerd.sock && break; sleep 0.5; done
  docker exec "$build" ctr info >/dev/null || { docker exec "$build" cat /var/log/containerd-build.log >&2; die "containerd did not start in the build container"; }
  local t
  for t in "${IMAGE_TARS[@]}" "${CP_TARS[@]}"; do
    docker exec -i "$build" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - < "$t" >"$KDIR/import.log" 2>&1 \
      || { cat "$KDIR/import.log" >&2; die "importing $t into the node image failed"; }
  done
  # kubeadm names kube-proxy's image <repo>/kube-proxy:<version>: node-tools is that image.
  docker exec "$build" ctr --namespace=k8s.io images tag --force "$IMAGE_NODE_TOOLS" "svc-conformance.local/kube-proxy:$K8S_VERSION" >/dev/null 2>&1
  docker exec "$build" ctr --namespace=k8s.io images label "svc-conformance.local/kube-proxy:$K8S_VERSION" io.cri-containerd.pinned=pinned >/dev/null 2>&1
  docker exec "$build" ctr --namespace=k8s.io images ls -q 2>/dev/null > "$KDIR/images-$key.txt"
  docker exec "$build" pkill containerd || true
  for ((i = 0; i < 20; i++)); do docker exec "$build" pgrep -x containerd >/dev/null || break; sleep 0.5; done
  docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' --change 'ENV container=docker' \
    "$build" "$committed" >/dev/null
  # systemd stops on SIGRTMIN+3 (kind's base image sets it); commit/import cannot set STOPSIGNAL.
  printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$committed" | DOCKER_BUILDKIT=0 docker build -q -t "$image" - >/dev/null
  cleanup; trap - EXIT
  # Older node images of ours (other inputs) go: each is over 1 GB.
  local old
  for old in $(docker images svc-conformance.local/kind-node --format '{{.Repository}}:{{.Tag}}'); do
    [ "$old" = "$image" ] || docker rmi "$old" >/dev/null 2>&1 || true
  done
  # The probe image in Docker too: the outside host of net.external.outside-reach runs it.
  docker_load_oci "$CACHE_DIR/images/node-$("$(node_binary)" --version | tr -d v).tar"
  log "kind: node image $image built in $(( $(date +%s) - t0 )) s ($(wc -l < "$KDIR/images-$key.txt") images in its containerd)"
  echo "$image"
}

main "$@"
