#!/usr/bin/env bash
# Sets up a fresh machine to run the suites: Debian packages for the bundled cluster,
# Node >= 22.22 (from the npm registry's `node` package when the machine's is older),
# npm ci, and the cluster components built from source (cached by version).
# With the cluster it also prepares the kind target: Debian's docker.io and debootstrap, dockerd
# started (cluster/kind/docker.sh), the kind tools built (crictl, CNI plugins, the kind CLI) and
# the kind node image built (cluster/kind/node-image.sh); SVC_NO_KIND=1 skips that part. With the
# cluster, Sonobuoy is built too (scripts/sonobuoy.sh build), for the shipped forms' proofs.
# Usage: scripts/setup.sh [--no-cluster]   (--no-cluster: only the Node side, for a cluster of your own)
set -euo pipefail
cd "$(dirname "$0")/.."
with_cluster=1; [ "${1:-}" = --no-cluster ] && with_cluster=0

APT_PACKAGES=(runc containernetworking-plugins iptables nftables conntrack socat openssl iproute2 util-linux jq curl dnsutils bc procps kmod chromium
  ipset ipvsadm qemu-system-x86 e2fsprogs debootstrap shellcheck dnsmasq-base unbound)
[ "${SVC_NO_KIND:-0}" = 1 ] || APT_PACKAGES+=(docker.io debootstrap)
if [ $with_cluster = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: the bundled cluster needs root for its packages and network namespaces; run as root, or use --no-cluster with KUBECONFIG" >&2; exit 1; }
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v go >/dev/null || { echo "setup: Go 1.25+ is needed to build the cluster components (https://go.dev/dl/)" >&2; exit 1; }
fi

command -v npm >/dev/null || { echo "setup: npm is needed (Node.js 20+ with npm)" >&2; exit 1; }

# The Debian root filesystems (debootstrap: downloads, mostly), cached, made in the background
# while npm and the Go builds run: the VM nodes' and (unless SVC_NO_KIND=1) the kind node
# image's. rootfs_wait shows their logs and fails when one failed.
rootfs_pids=(); rootfs_logs=()
rootfs_dir=$(mktemp -d)
trap 'for p in "${rootfs_pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$rootfs_dir"' EXIT
rootfs_bg() { local log="$rootfs_dir/$1.log"; shift; "$@" >"$log" 2>&1 & rootfs_pids+=($!); rootfs_logs+=("$log"); }
rootfs_wait() {
  local i ok=1
  for i in "${!rootfs_pids[@]}"; do
    wait "${rootfs_pids[$i]}" || ok=0
    cat "${rootfs_logs[$i]}" >&2
  done
  rootfs_pids=()
  [ $ok = 1 ] || { echo "setup: a root filesystem did not build (above)" >&2; exit 1; }
}
if [ $with_cluster = 1 ]; then
  rootfs_bg vm bash cluster/cluster.sh build --vm-rootfs
  [ "${SVC_NO_KIND:-0}" = 1 ] || rootfs_bg kind bash cluster/kind/node-image.sh --rootfs-only
fi
# npm ci brings node@24 (node_modules/.bin/node), which the test scripts use when the
# machine's Node is older than 22.22; newer machines simply ignore it.
npm ci --no-audit --no-fund --loglevel=error
node_modules/.bin/node -e 'const [a,b]=process.versions.node.split(".").map(Number); if(!(a>22||(a===22&&b>=22))){console.error("setup: node_modules/.bin/node is "+process.version+", need >= 22.22");process.exit(1)}'
node_modules/.bin/node probe/build.mjs

if [ $with_cluster = 1 ]; then
  if [ "${SVC_NO_KIND:-0}" = 1 ]; then
    bash cluster/build.sh
    rootfs_wait
  else
    bash cluster/build.sh --kind
    rootfs_wait
    bash cluster/kind/docker.sh start
    bash cluster/kind/node-image.sh >/dev/null
  fi
  # The shipped forms' proofs (scripts/ship-e2e.sh): Sonobuoy built from the Go module proxy
  # and its image (cached by version).
  bash scripts/sonobuoy.sh build >/dev/null
  # VM nodes (kube-proxy ipvs, kube-router): kube-router built from the Go module proxy, the
  # guest's Debian root filesystem (debootstrap) and its disks, cached by content.
  bash cluster/cluster.sh build --vm
fi
echo "setup: done. Run the tests with: npm test"
