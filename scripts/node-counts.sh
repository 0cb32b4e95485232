#!/usr/bin/env bash
# The default profile on bundled clusters of 1, 2 and 3 nodes (kind's default is 1):
# for each count, the cluster is brought up with that many nodes and the default
# profile runs once; the closing lines of the three runs are printed together.
# Leaves the bundled cluster down. Needs root. Usage: scripts/node-counts.sh [counts="1 2 3"]
set -uo pipefail
cd "$(dirname "$0")/.." || exit
counts=${1:-1 2 3}
NODE=node_modules/.bin/node
out=reports/node-counts; rm -rf "$out"; mkdir -p "$out"
unset SVC_PRIVILEGED KUBECONFIG SVC_KUBECONFIG
ok=1; lines=()
for n in $counts; do
  bash cluster/cluster.sh down >/dev/null 2>&1
  if ! SVC_NODES=$n bash cluster/cluster.sh up >"$out/up-$n.log" 2>&1; then
    echo "node-counts: a $n-node cluster did not come up (see $out/up-$n.log)"; ok=0; continue
  fi
  start=$(date +%s)
  env NODE_OPTIONS=--experimental-vm-modules SVC_EVIDENCE_DIR="$out/evidence-$n" "$NODE" node_modules/jest/bin/jest.js \
    --selectProjects cluster --json --outputFile="$out/nodes-$n.json" >"$out/nodes-$n.log" 2>&1 || ok=0
  # shellcheck disable=SC2016 # JavaScript, not shell
  line=$("$NODE" -e '
    const r = require(require("path").resolve(process.argv[1]));
    const failed = r.testResults.flatMap((t) => t.assertionResults.filter((a) => a.status === "failed").map((a) => a.fullName));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed, ${r.numPendingTests} skipped` + (failed.length ? `; failed: ${failed.join("; ")}` : ""));
  ' "$out/nodes-$n.json" 2>/dev/null || echo "no results")
  lines+=("$n node(s): $line ($(( $(date +%s) - start )) s)")
  echo "node-counts: ${lines[-1]}"
done
bash cluster/cluster.sh down >/dev/null 2>&1
printf '%s\n' "${lines[@]}" | tee "$out/summary.txt"
[ $ok = 1 ]
