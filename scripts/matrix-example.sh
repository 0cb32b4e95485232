#!/usr/bin/env bash
# The example matrix (examples/matrix/example.yaml), from a set-up machine (scripts/setup.sh)
# in one command: builds what its columns name that `cluster up` does not build by itself
# (the v1.36.3 kube-proxy for the skew column, the custom CoreDNS archive for the dnsImage
# column; both cached; Cilium and Docker for the kind column), then runs `svc-conformance matrix`. The other versions are built by
# `cluster up` on first use (about 10 min per Kubernetes version, cold). Needs root.
# Usage: scripts/matrix-example.sh [REPORT_DIR] (default reports/matrix-example)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/matrix-example}
cache=${SVC_CACHE_DIR:-/var/cache/svc-conformance}
SVC_K8S_VERSION=v1.36.3 bash cluster/build.sh
[ -f "$cache/images/coredns-custom-v1.14.7.tar" ] || bash cluster/dns-image.sh "$cache/images/coredns-custom-v1.14.7.tar" --version v1.14.7
# The Cilium column: Docker for its kind cluster, Cilium built (cached by version).
bash cluster/kind/docker.sh start
bash cluster/cilium/cilium.sh build >/dev/null
exec node_modules/.bin/node --no-warnings helpers/cli/cli.ts matrix examples/matrix/example.yaml --report-dir "$out"
