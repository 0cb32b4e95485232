#!/usr/bin/env bash
# Benchmark (not a timed test): the default profile through `svc-conformance run` on the warm
# bundled cluster (brought up first if it is not running), RUNS times, from this checkout or
# from another commit (--rev REV: a temporary git worktree of it, sharing node_modules). Prints
# each run's wall time, its Jest time and counts, and the last run's timeline per suite (start,
# end, duration: where the time goes). Writes reports/bench-default[-REV]/.
# Usage: scripts/bench-default.sh [--rev REV] [RUNS=3]. Needs root for the bundled cluster.
set -uo pipefail
cd "$(dirname "$0")/.." || exit
root=$PWD
rev=""
if [ "${1:-}" = --rev ]; then rev=${2:?--rev needs a commit}; shift 2; fi
runs=${1:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/bench-default.sh [--rev REV] [RUNS]" >&2; exit 2; }
out="$root/reports/bench-default${rev:+-$rev}"
mkdir -p "$out"
src=$root
if [ -n "$rev" ]; then
  src=$(mktemp -d)
  trap 'git -C "$root" worktree remove --force "$src" >/dev/null 2>&1; rm -rf "$src"' EXIT
  git -C "$root" worktree add --detach "$src" "$rev" >/dev/null || exit 2
  ln -s "$root/node_modules" "$src/node_modules"
fi
bash cluster/cluster.sh up >/dev/null || { echo "bench-default: the bundled cluster did not come up" >&2; exit 3; }
for i in $(seq 1 "$runs"); do
  t0=$(date +%s.%N)
  (cd "$src" && "$root/node_modules/.bin/node" --no-warnings helpers/cli/cli.ts run --kubeconfig /var/lib/svc-conformance/cluster/admin.conf \
    --profile default --quiet --report-dir "$out/run-$i" >"$out/run-$i.log" 2>&1)
  rc=$?
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  # shellcheck disable=SC2016 # JavaScript, not shell
  "$root/node_modules/.bin/node" -e '
    const [file, i, wall, rc] = process.argv.slice(1);
    const r = require(file); const t0 = r.startTime; const end = Math.max(...r.testResults.map((t) => t.endTime));
    console.log(`run ${i}: ${Number(wall).toFixed(1)} s (exit ${rc}), Jest ${((end - t0) / 1000).toFixed(1)} s: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  ' "$out/run-$i/jest.json" "$i" "$wall" "$rc"
done
echo "timeline of run $runs (s from Jest start: suite, start, end, duration):"
# shellcheck disable=SC2016 # JavaScript, not shell
"$root/node_modules/.bin/node" -e '
  const r = require(process.argv[1]); const t0 = r.startTime;
  for (const t of [...r.testResults].sort((a, b) => a.startTime - b.startTime))
    console.log(`  ${t.name.split("/").pop().replace(/\.test\.[jt]s$/, "").padEnd(24)} ${((t.startTime - t0) / 1000).toFixed(1).padStart(6)} ${((t.endTime - t0) / 1000).toFixed(1).padStart(6)} ${((t.endTime - t.startTime) / 1000).toFixed(1).padStart(6)}`);
' "$out/run-$runs/jest.json"
