#!/usr/bin/env bash
# Benchmark of the scale profile (not a timed test): the scale matrix (examples/matrix/scale.yaml:
# kube-proxy iptables against nftables at 1,000 and 5,000 Services of 10 endpoints), or with
# --slowed the matrix that shows each measure move with a slowed cluster
# (examples/matrix/scale-slowed.yaml: kube-proxy's minSyncPeriod at 10 s, the EndpointSlice
# controller batching for 5 s), or with --matrix FILE another. Prints each column's time and
# the "At scale" table (p50/p99 of network programming, DNS programming and DNS lookup
# latency at each size); writes reports/bench-scale[-slowed]/ (the matrix's reports) and
# reports/bench-scale[-slowed].json. Needs root; leaves no cluster up.
# Usage: scripts/bench-scale.sh [--slowed | --matrix FILE]
set -uo pipefail
cd "$(dirname "$0")/.." || exit
NODE=node_modules/.bin/node
file=examples/matrix/scale.yaml; name=bench-scale
case "${1:-}" in
  '') ;;
  --slowed) file=examples/matrix/scale-slowed.yaml; name=bench-scale-slowed ;;
  --matrix) [ -n "${2:-}" ] || { echo "bench-scale: --matrix needs a file" >&2; exit 2; }; file=$2; name=bench-scale-$(basename "${2%.*}") ;;
  *) echo "bench-scale: unknown argument '$1' (--slowed, --matrix FILE)" >&2; exit 2 ;;
esac
[ -x "$NODE" ] || { echo "bench-scale: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p reports
start=$(date +%s)
"$NODE" --no-warnings helpers/cli/cli.ts matrix "$file" --report-dir "reports/$name"; rc=$?
secs=$(( $(date +%s) - start ))
echo "bench-scale: $file in $secs s (exit $rc)"
# The "At scale" table, and each column's time, from the matrix's own reports.
sed -n '/^## At scale/,/^## /p' "reports/$name/matrix.md" | sed '$d'
# shellcheck disable=SC2016 # JavaScript, whose template literals are not the shell's
"$NODE" --no-warnings -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const cols = m.columns.map((c) => ({ name: c.name, upSeconds: c.upMs && +(c.upMs / 1000).toFixed(1), runSeconds: c.runMs && +(c.runMs / 1000).toFixed(1), scale: c.scale }));
  require("fs").writeFileSync(process.argv[2], JSON.stringify({ matrix: process.argv[3], seconds: +process.argv[4], columns: cols }, null, 2) + "\n");
  for (const c of cols) console.log(`bench-scale: column ${c.name}: up ${c.upSeconds} s, run ${c.runSeconds} s`);
' "reports/$name/matrix.json" "reports/$name.json" "$file" "$secs"
exit "$rc"
