#!/usr/bin/env bash
# The conformance reports kept in the repository, reproduced in one command: runs each matrix
# (default: examples/matrix/conformance.yaml, the bundled cluster's kube-proxy iptables and
# nftables and its three node caches; examples/matrix/ci-cilium.yaml, Cilium's kube-proxy
# replacement on kind; examples/matrix/ci-vm.yaml, kube-proxy ipvs and kube-router on VM nodes),
# replaces conformance/reports/ with the reports their columns wrote, and regenerates the
# implementation table in docs/conformance.md. Needs root and a set-up machine (scripts/setup.sh);
# builds Cilium (cached) and starts Docker for the kind column. About 40 minutes for all three.
# Usage: scripts/conformance-reports.sh [MATRIX_FILE...]   (reports under reports/conformance/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=reports/conformance
matrices=("$@")
[ ${#matrices[@]} -gt 0 ] || matrices=(examples/matrix/conformance.yaml examples/matrix/ci-cilium.yaml examples/matrix/ci-vm.yaml)
rc=0
rm -rf "$out"; mkdir -p "$out"
for m in "${matrices[@]}"; do
  [ -f "$m" ] || { echo "conformance-reports: no matrix file $m" >&2; exit 2; }
  name=$(basename "$m" .yaml)
  env=()
  if grep -q 'proxy: cilium' "$m"; then
    # As .ci/run: Docker for the kind cluster, Cilium built (cached by version), and a proxy
    # bound of 30 s (Cilium follows a change within about a second; each known difference waits it out).
    bash cluster/kind/docker.sh start
    bash cluster/cilium/cilium.sh build >/dev/null
    env=(SVC_PROXY_BOUND_MS=30000)
  fi
  echo "conformance-reports: svc-conformance matrix $m"
  env "${env[@]}" node_modules/.bin/node --no-warnings helpers/cli/cli.ts matrix "$m" --report-dir "$out/$name" || rc=$?
done
shopt -s nullglob
found=("$out"/*/conformance/*/*.yaml)
if [ ${#found[@]} = 0 ]; then
  echo "conformance-reports: the matrices wrote no conformance reports (under $out/*/conformance/); see their matrix.md" >&2
  exit 1
fi
rm -rf conformance/reports
mkdir -p conformance/reports
for f in "${found[@]}"; do
  rel=${f#"$out"/*/conformance/}
  mkdir -p "conformance/reports/$(dirname "$rel")"
  cp "$f" "conformance/reports/$rel"
  echo "conformance-reports: conformance/reports/$rel"
done
node_modules/.bin/node --no-warnings helpers/tools/docs-gen.ts --write
# The matrices' own verdict (1 when a column failed for a reason no known difference explains).
exit "$rc"
