#!/usr/bin/env bash
# Benchmarks (not timed tests): warm `up` to all-ready, idle RSS of the cluster, `down`,
# full conformance runs on a warm cluster (and how many flaked), and the recorded
# cold-build time of each cached component. Usage: scripts/bench.sh [runs=5]
# Leaves the bundled cluster up. Needs root.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
runs=${1:-5}
NODE=node_modules/.bin/node
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

bash cluster/cluster.sh up >/dev/null 2>&1   # make sure images are built (not measured)
t=$(now); bash cluster/cluster.sh down >/dev/null 2>&1; down_s=$(since "$t")
t=$(now); bash cluster/cluster.sh up >/dev/null 2>&1; up_s=$(since "$t")
sleep 30   # idle
rss_kb=0
# shellcheck disable=SC2044 # the words are the PIDs in the cgroup.procs files, not file names
for pid in $(find /sys/fs/cgroup/pids/svc-conformance -name cgroup.procs -exec cat {} + 2>/dev/null); do
  kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); rss_kb=$((rss_kb + ${kb:-0}))
done
pass=0; fail=0; times=()
for i in $(seq 1 "$runs"); do
  t=$(now)
  if env NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js --selectProjects cluster >"reports/bench-run-$i.log" 2>&1; then pass=$((pass+1)); else fail=$((fail+1)); fi
  times+=("$(since "$t")")
done
# Runner overhead: the same focused run through the CLI and as a bare Jest run.
focus='ClusterIP Service'
t=$(now); env NODE_OPTIONS=--experimental-vm-modules "$NODE" node_modules/jest/bin/jest.js --selectProjects cluster -t "$focus" >reports/bench-bare.log 2>&1; bare_s=$(since "$t")
start_ms=$(date +%s%3N)
t=$(now); node bin/svc-conformance.cjs run --focus "$focus" --report-dir reports/bench-cli >reports/bench-cli.log 2>&1; cli_s=$(since "$t")
first_ms=$("$NODE" -e 'const r=require(require("path").resolve("reports/bench-cli/jest.json")); console.log(Math.min(...r.testResults.map(t=>t.startTime)))')
first_s=$(echo "($first_ms - $start_ms)/1000" | bc -l)
builds=$(for d in /var/cache/svc-conformance/bin/*/; do [ -f "$d/.seconds" ] && printf '"%s": %s,' "$(basename "$d")" "$(cat "$d/.seconds")"; done)
mkdir -p reports
cat > reports/bench.json <<JSON
{"warmUpSeconds": $up_s, "downSeconds": $down_s, "idleRssMiB": $((rss_kb / 1024)),
 "fullRunSeconds": [$(IFS=,; echo "${times[*]}")], "runsPassed": $pass, "runsFailed": $fail,
 "bareJestFocusedSeconds": $bare_s, "cliFocusedSeconds": $cli_s, "cliStartToFirstSuiteSeconds": $first_s,
 "coldBuildSeconds": {${builds%,}}}
JSON
cat reports/bench.json
