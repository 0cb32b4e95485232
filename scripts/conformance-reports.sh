#!/usr/bin/env bash
# The conformance reports kept in the repository, reproduced in one command: runs the matrix
# examples/matrix/conformance.yaml (kube-proxy iptables and nftables, and NodeLocal DNSCache
# in front of CoreDNS, on the bundled cluster), replaces conformance/reports/ with the reports
# its columns wrote, and regenerates the implementation table in docs/conformance.md.
# Needs root and a set-up machine (scripts/setup.sh). Extra arguments go to the matrix, e.g.
# --column-results iptables=DIR to take a column from an earlier run of the same cluster.
# Usage: scripts/conformance-reports.sh [REPORT_DIR] [matrix flags...] (default reports/conformance)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/conformance}
shift || true
rc=0
node_modules/.bin/node --no-warnings helpers/cli/cli.ts matrix examples/matrix/conformance.yaml --report-dir "$out" "$@" || rc=$?
if [ ! -d "$out/conformance" ]; then
  echo "conformance-reports: the matrix wrote no conformance reports ($out/conformance); see $out/matrix.md" >&2
  exit 1
fi
rm -rf conformance/reports
mkdir -p conformance/reports
cp -r "$out/conformance/." conformance/reports/
node_modules/.bin/node --no-warnings helpers/tools/docs-gen.ts --write
find conformance/reports -name '*.yaml' | sort | sed 's/^/conformance-reports: /'
# The matrix's own verdict (1 when a column failed for a reason no known difference explains).
exit "$rc"
