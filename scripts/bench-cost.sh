#!/usr/bin/env bash
# Benchmark of the suite's own cost as clusters grow (not a timed test): the default profile
# on a bundled cluster of 1 node and of 3 nodes, and on a 3-node kind cluster (Docker:
# cluster/kind/docker.sh start), each as `svc-conformance run`; from each run's results.json
# its time, the API requests, exec sessions and Pods it made (results.json cost) and the
# nodes its probes ran on (coverage). Writes reports/bench-cost.json and prints a table, so a
# user of a larger cluster can read off what a run costs per node.
# Usage: scripts/bench-cost.sh [1 3 kind]   (all three by default). Needs root; leaves no cluster up.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "bench-cost: run scripts/setup.sh first" >&2; exit 2; }
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(1 3 kind)
mkdir -p reports
dirs=()
for t in "${targets[@]}"; do
  dir=reports/bench-cost-$t
  case "$t" in
    1|3)
      bash cluster/cluster.sh down >/dev/null 2>&1
      SVC_NODES=$t bash cluster/cluster.sh up > "$dir-up.log" 2>&1 || { echo "bench-cost: a $t-node cluster did not come up ($dir-up.log)" >&2; exit 1; }
      "$NODE" --no-warnings helpers/cli/cli.ts run --kubeconfig /var/lib/svc-conformance/cluster/admin.conf --quiet --report-dir "$dir" > "$dir.log" 2>&1 ;;
    kind)
      bash cluster/cluster.sh down >/dev/null 2>&1
      bash cluster/kind/docker.sh start >/dev/null || { echo "bench-cost: Docker did not start" >&2; exit 1; }
      "$NODE" --no-warnings helpers/cli/cli.ts run --kind --kind-nodes 3 --quiet --report-dir "$dir" > "$dir.log" 2>&1 ;;
    *) echo "bench-cost: unknown target '$t' (1, 3, kind)" >&2; exit 2 ;;
  esac
  echo "bench-cost: $t: $(tail -1 "$dir.log")"
  dirs+=("$t=$dir")
done
bash cluster/cluster.sh down >/dev/null 2>&1
# shellcheck disable=SC2016 # JavaScript, whose template literals are not the shell's
"$NODE" --no-warnings -e '
  const fs = require("fs");
  const rows = process.argv.slice(1).map((a) => {
    const [target, dir] = a.split("=");
    const r = JSON.parse(fs.readFileSync(`${dir}/results.json`, "utf8"));
    const nodes = r.coverage ? r.coverage.probeNodes.length : undefined;
    return { target, seconds: Math.round(r.durationMs / 1000), ...r.cost, probeNodes: nodes, counts: r.counts };
  });
  fs.writeFileSync("reports/bench-cost.json", JSON.stringify(rows, null, 2) + "\n");
  console.log("| target | probe nodes | run (s) | API requests | exec sessions | Pods created | passed / failed / skipped |");
  console.log("|---|---|---|---|---|---|---|");
  for (const x of rows)
    console.log(`| ${x.target} | ${x.probeNodes} | ${x.seconds} | ${x.apiCalls} | ${x.execSessions} | ${x.podsCreated} | ${x.counts.passed} / ${x.counts.failed} / ${x.counts.skipped} |`);
' "${dirs[@]}"
