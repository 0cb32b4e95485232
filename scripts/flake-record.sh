#!/usr/bin/env bash
# Flake record: runs the full default profile N times in a row against the target
# cluster (the bundled one unless KUBECONFIG/SVC_KUBECONFIG is set), then tabulates every
# failure by check and cause (scripts/flake-record.mjs) with each run's time and counts.
# No retries: every failure is a row. Exit 0 only when no run failed.
# Usage: scripts/flake-record.sh [N=10] [out-dir=reports/flake]
# FLAKE_LABEL names the record (for example "under load"); Jest arguments cannot be passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
runs=${1:-10}
out=${2:-reports/flake}
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "flake-record: run scripts/setup.sh (or npm ci) first" >&2; exit 2; }
if [ -z "${KUBECONFIG:-}${SVC_KUBECONFIG:-}" ]; then
  bash cluster/cluster.sh up >/dev/null || { echo "flake-record: the bundled cluster did not come up" >&2; exit 3; }
fi
rm -rf "$out"; mkdir -p "$out"
# The default profile: no privileged checks, whatever the caller's environment says.
unset SVC_PRIVILEGED
for i in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  env NODE_OPTIONS=--experimental-vm-modules SVC_EVIDENCE_DIR="$out/evidence-$i" "$NODE" node_modules/jest/bin/jest.js \
    --selectProjects cluster --json --outputFile="$out/run-$i.json" >"$out/run-$i.log" 2>&1
  rc=$?
  echo "$(date +%s.%N) - $start" | bc > "$out/run-$i.seconds"
  echo "flake-record${FLAKE_LABEL:+ ($FLAKE_LABEL)}: run $i/$runs exit $rc in $(cat "$out/run-$i.seconds") s ($(grep -E '^Tests:' "$out/run-$i.log" | tail -1))"
done
"$NODE" scripts/flake-record.mjs "$out"
